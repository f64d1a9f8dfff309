"""The service's writes: news, events, impressions, interests and erasure, into the database.

Every write goes to the store in one transaction; workers learn of it from the change feeds
(`RecommenderService.sync`), the one that took it too. Posted news are encoded as the primary
model reads them and stored with their vectors, so no other worker encodes them again. Events
and impressions are stored once per user and id; what of them counts toward popularity is
decided by `counting.py` in the same transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from sqlalchemy.orm import sessionmaker

from newsrec.data.mind import News
from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.service.comparison import count_clicks, count_impressions, version_in
from newsrec.service.counting import TrafficCounter
from newsrec.service.deployment import Deployments
from newsrec.service.inputs import PostedEvent, RepeatedNewsError, ShownList, UnknownNewsError, first_of_each
from newsrec.service.results import Stored
from newsrec.service.user_store import UserStore
from newsrec.store import repository as repo
from newsrec.store.erasure import Eraser

__all__ = ["Writes", "store_news"]


def store_news(sessions: sessionmaker, ranker: Ranker, items: Sequence[News], cache: EmbeddingCache | None) -> None:
    """Encode `items` as `ranker` reads news and store them with their vectors, in one transaction
    (what POST /v1/news and `newsrec news load` do alike)."""
    vectors = ranker.encode_news(items, cache)
    with sessions.begin() as session:
        repo.upsert_news(session, items, vectors, ranker.vector_id)


class Writes:
    def __init__(
        self,
        sessions: sessionmaker,
        deployments: Deployments,  # the primary model encodes news; versions name impressions
        users: UserStore,
        counter: TrafficCounter,
        eraser: Eraser,
        sync: Callable[[], None],  # the service's: the catalogue then knows news other workers stored
        lock: threading.RLock,  # the service's state lock, taken to drop an erased user's state
        cache: EmbeddingCache | None = None,
    ):
        self.sessions, self.deployments, self.users = sessions, deployments, users
        self.counter, self.eraser, self.sync, self.lock, self.cache = counter, eraser, sync, lock, cache

    def add_news(self, items: Sequence[News]) -> int:
        """Encode (as the primary model reads news) and store news; searchable at once after the
        caller's next sync. One id twice raises RepeatedNewsError and nothing is stored."""
        _, repeated = first_of_each(items, lambda n: n.news_id)
        if repeated:
            raise RepeatedNewsError({n.news_id for n in repeated})
        store_news(self.sessions, self.deployments.arms[0].ranker, items, self.cache)
        self.sync()
        return len(items)

    def check_known(self, news_ids: set[str]) -> None:
        """Raise UnknownNewsError unless every one of these news is stored."""
        unknown = self.deployments.arms[0].catalogue.unknown(news_ids)
        if unknown:
            with self.sessions() as session:  # maybe posted to another worker a moment ago
                unknown -= repo.known_news_ids(session, unknown)
        if unknown:
            raise UnknownNewsError(unknown)

    def add_events(self, events: Sequence[PostedEvent], trusted: bool = False) -> Stored:
        """Store events once each (per user and event id); clicks count toward popularity by
        `counting.py`'s rules (`trusted`: the operator's logs). Unknown news ids raise
        UnknownNewsError and nothing is stored."""
        self.sync()
        self.check_known({e.news_id for e in events})
        first, repeats = first_of_each(events, lambda e: (e.user_id, e.event_id))
        records = [e.record() for e in first]
        with self.sessions.begin() as session:
            repo.lock_feed(session)
            lists = self.counter.mark_clicks(session, records, trusted)
            duplicates = repo.add_events(session, records)
            count_clicks([r for r in records if r not in duplicates], lists)
        return Stored(
            len(records) - len(duplicates), tuple([e.event_id for e in repeats] + [e.event_id for e in duplicates])
        )

    def add_impressions(self, shown: Sequence[ShownList], trusted: bool = False) -> Stored:
        """Store what users were shown, once per user and impression id; views count toward
        popularity by `counting.py`'s rules (`trusted`: the operator's logs)."""
        self.sync()
        self.check_known({n for s in shown for n in s.news_ids})
        first, repeats = first_of_each(shown, lambda s: (s.user_id, s.impression_id))
        records = [s.record() for s in first]
        for record in records:  # the model behind the list, from the id the service gave it
            record.model_version = version_in(record.impression_id, self.deployments.versions)
        with self.sessions.begin() as session:
            repo.lock_feed(session)
            self.counter.mark_views(session, records, trusted)
            duplicates = repo.add_impressions(session, records)
        count_impressions([r for r in records if r not in duplicates])
        return Stored(
            len(records) - len(duplicates),
            tuple([s.impression_id for s in repeats] + [d.impression_id for d in duplicates]),
        )

    def set_interests(self, user_id: str, text: str) -> None:
        with self.sessions.begin() as session:
            repo.set_interests(session, user_id, text)

    def forget(self, user_id: str) -> dict[str, int]:
        """Erase the user everywhere: rows, a tombstone every worker follows, this worker's state;
        returns the rows deleted by kind."""
        with self.sessions.begin() as session:
            removed = repo.delete_user(session, user_id, self.users.key(user_id))
        self.eraser.erased()
        with self.lock:
            self.users.forget(user_id)
        return removed
