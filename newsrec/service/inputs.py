"""What the service takes in, from the HTTP layer or any other caller, and the errors it gives
back when a request conflicts with what it holds.

Each input type is what the core needs and nothing of how it travelled (the HTTP schemas
convert to these: `serve/schemas.py`) or how it is stored (`record` converts to the store's
write types). News arrive as `data.mind.News`, the one news type models read.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from newsrec.store import repository as repo

__all__ = [
    "PostedEvent",
    "ShownList",
    "UnknownNewsError",
    "RepeatedNewsError",
    "IDS_NAMED",
    "named",
    "first_of_each",
]

IDS_NAMED = 10  # offending ids an error names; the rest are counted (a reply never echoes a whole request)
Item = TypeVar("Item")


def named(ids: Iterable[str]) -> str:
    """The first `IDS_NAMED` of these ids, sorted, and how many more there are."""
    every = sorted(ids)
    more = f" and {len(every) - IDS_NAMED} more" if len(every) > IDS_NAMED else ""
    return ", ".join(every[:IDS_NAMED]) + more


class UnknownNewsError(ValueError):
    """A request names news the service does not have: nothing of it is stored."""

    def __init__(self, ids: Iterable[str]):
        every = sorted(ids)
        self.ids, self.count = every[:IDS_NAMED], len(every)
        super().__init__(f"unknown news ids: {named(every)}; post them to /v1/news first")


class RepeatedNewsError(ValueError):
    """A batch of news names one id twice: which version should be stored is not said."""

    def __init__(self, ids: Iterable[str]):
        super().__init__(f"news ids repeated in one batch: {named(ids)}; send each item once")


@dataclass(frozen=True)
class PostedEvent:
    """Something a user did with a news item (click, like, save, comment, skip)."""

    event_id: str  # the client's id: a retry with the same id is stored once
    user_id: str
    news_id: str
    type: str
    ts: datetime
    text: str | None = None  # a comment's words
    impression_id: str | None = None  # the served list the click came from

    def record(self) -> repo.EventRecord:
        return repo.EventRecord(
            self.event_id, self.user_id, self.news_id, self.type, self.ts, self.text, self.impression_id
        )


@dataclass(frozen=True)
class ShownList:
    """A list a user was shown, under the impression id the service gave it."""

    impression_id: str
    user_id: str
    news_ids: tuple[str, ...]  # in the order shown
    ts: datetime

    def record(self) -> repo.ImpressionRecord:
        return repo.ImpressionRecord(self.impression_id, self.user_id, list(self.news_ids), self.ts)


def first_of_each(items: Sequence[Item], key: Callable[[Item], Hashable]) -> tuple[list[Item], list[Item]]:
    """(the first item of each key in order, the later ones that repeat a key)."""
    first: dict[Hashable, Item] = {}
    repeats = [item for item in items if first.setdefault(key(item), item) is not item]
    return list(first.values()), repeats
