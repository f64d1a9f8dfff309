"""The users one worker holds: a bounded LRU of their states, kept in step with the store.

A state is loaded whole from the database the first time a user is asked for (their events,
oldest first), then moved by the events feed; interests are read fresh with every answer.
Erasures reach every worker as tombstones in the deletions feed: the state of an erased user
is dropped and tokens issued before the erasure are refused (`revocations.py`).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Sequence

from cachetools import LRUCache
from sqlalchemy.orm import Session

from newsrec.service.revocations import Revocations
from newsrec.service.users import UserState
from newsrec.store import repository as repo
from newsrec.store.models import DeletionRow, EventRow

__all__ = ["UserStore"]


class UserStore:
    def __init__(self, secret: str, capacity: int, max_history: int):
        self.secret, self.max_history = secret, max_history  # max_history: the primary model's
        self._states: LRUCache[str, UserState] = LRUCache(capacity)
        self.revocations = Revocations()

    def __len__(self) -> int:
        return len(self._states)

    def __iter__(self) -> Iterator[str]:
        """The ids of the users this worker holds, least recently used first."""
        return iter(list(self._states))

    def key(self, user_id: str) -> str:
        """The keyed hash of a user id that tombstones name (the id itself is never kept after erasure)."""
        return repo.user_key(self.secret, user_id)

    def states(self, session: Session, user_ids: Sequence[str], news: Container[str]) -> list[UserState]:
        """Each user's state, from the LRU or loaded from the database; interests read fresh.
        `news`: the news the primary model knows (only those join a history)."""
        interests = repo.interests_of(session, user_ids)
        states = []
        for user_id in user_ids:
            state = self._states.get(user_id)
            if state is None:
                state = UserState(self.key(user_id))
                for event in repo.user_events(session, user_id):
                    state.apply(event, news, self.max_history)
                self._states[user_id] = state
            state.set_interests(interests.get(user_id))
            states.append(state)
        return states

    def apply(self, events: Iterable[EventRow], news: Container[str]) -> None:
        """Events from the feed, to the users this worker holds (the others load them when asked)."""
        for event in events:
            if (state := self._states.get(event.user_id)) is not None:
                state.apply(event, news, self.max_history)

    def news_changed(self, news_ids: set[str]) -> None:
        """News items were replaced: the queries of users who read one are computed again."""
        if news_ids:
            for state in self._states.values():
                if news_ids.intersection(state.history):
                    state.queries.clear()

    def erase(self, tombstones: Sequence[DeletionRow]) -> None:
        """Users erased by any worker: their states go, their older tokens are refused."""
        erased = {t.user_key for t in tombstones}
        for user_id in [u for u, state in self._states.items() if state.key in erased]:
            del self._states[user_id]
        self.revocations.record(tombstones)

    def forget(self, user_id: str) -> None:
        """This worker's state of a user it just erased (the tombstone tells the others)."""
        self._states.pop(user_id, None)

    def revoked(self, user_id: str, issued_at: float) -> bool:
        """Whether a token of `user_id` issued at `issued_at` predates the user's erasure."""
        return self.revocations.revoked(self.key(user_id), issued_at)
