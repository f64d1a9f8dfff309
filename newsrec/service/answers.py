"""Recommendations of one served model for a batch of users: one index search for them all,
popularity terms for every pick at once, a grounded sentence for each item, a signed list id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from newsrec.service.counting import served_impression_id
from newsrec.service.deployment import Arm
from newsrec.service.results import Recommendation, Recommendations
from newsrec.service.users import UserQuery

__all__ = ["Ask", "recommend"]


@dataclass(frozen=True)
class Ask:
    """One user's request, with what their model derived from their state."""

    user_id: str
    k: int
    query: UserQuery
    seen: frozenset[str]  # never recommended again


def recommend(
    arm: Arm, asks: Sequence[Ask], published_after: datetime, moment: datetime, secret: str
) -> list[Recommendations]:
    """The top-k unseen news published after `published_after` for each ask, by `arm`'s model
    with popularity at `moment`; each list's impression id signed with the database's `secret`."""
    catalogue = arm.catalogue
    with catalogue.lock.reading():
        picks = catalogue.search([(ask.query.vector, ask.seen, ask.k) for ask in asks], published_after)
        ids = [[news_id for news_id, _ in picked] for picked in picks]
        every = [news_id for some in ids for news_id in some]
        terms = iter(catalogue.popularity_terms(every, moment.timestamp()).tolist() if every else [])
        answers = []
        for ask, picked, picked_ids in zip(asks, picks, ids, strict=True):
            reasons = ask.query.reasons(catalogue.table, picked_ids, list(islice(terms, len(picked_ids))))
            items = []
            for (news_id, score), reason in zip(picked, reasons, strict=True):
                news = catalogue.news[news_id]
                sentence = reason.sentence(catalogue.news, news.title)
                items.append(Recommendation(news_id, news.title, news.url, score, sentence))
            signed = served_impression_id(secret, arm.version, ask.user_id, picked_ids)
            answers.append(Recommendations(signed, arm.version, tuple(items)))
    return answers
