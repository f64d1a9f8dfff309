"""The recommendation service's core, independent of HTTP.

The database is the truth. Each worker process keeps, per served model, a catalogue (news in a
vector index, live popularity: `catalogue.py`) and one bounded LRU of user states
(`users.py`), and before every answer it follows the change feed: news, events, tallies of
views and clicks, deletions and deployments written since it last looked, by any worker of any
instance sharing the database (`sync`). A click therefore changes the next list at once
everywhere (the user's and the item's popularity), an erased user is gone from every worker
before its next answer, and a user's vector is updated from new events only.

Several models may serve side by side (`deployment.py`): a user's arm is fixed by a hash of
their id. A new deployment is loaded in a background thread and swapped in when ready; until
then the old arms keep answering.

`_lock` serialises changes to the worker's state (following the feed, loading a user, swapping
arms); each catalogue's readers-writer lock lets requests search at once. Take `_lock` first,
never the other way round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path

import numpy as np
from cachetools import LRUCache
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.service.batcher import Batcher, LoopBatcher
from newsrec.service.catalogue import Catalogue, as_news, feed_chunks, has_newer
from newsrec.service.comparison import count_clicks, count_impressions, version_in
from newsrec.service.counting import CountLimits, TrafficCounter, served_impression_id
from newsrec.service.deployment import Arm, ArmSpec, Deployments, arm_specs, pick_arm
from newsrec.service.index import Items, VectorIndex
from newsrec.service.news_snapshot import Snapshots
from newsrec.service.revocations import Revocations
from newsrec.service.users import UserQuery, UserState, user_query, users_reading
from newsrec.store import repository as repo
from newsrec.store.erasure import Eraser

__all__ = ["RecommenderService", "Recommendation", "Recommendations", "UnknownNewsError", "IDS_NAMED"]

logger = logging.getLogger(__name__)
IDS_NAMED = 10  # offending ids an error names; the rest are counted (a reply never echoes a whole request)


class UnknownNewsError(ValueError):
    """A request names news the service does not have: nothing of it is stored."""

    def __init__(self, ids: list[str]):
        self.ids, self.count = sorted(ids)[:IDS_NAMED], len(ids)
        more = f" and {self.count - len(self.ids)} more" if self.count > len(self.ids) else ""
        super().__init__(f"unknown news ids: {', '.join(self.ids)}{more}; post them to /v1/news first")


@dataclass
class Recommendation:
    news_id: str
    title: str
    score: float
    explanation: str


@dataclass
class Recommendations:
    impression_id: str  # the client posts what it showed under this id (POST /v1/impressions)
    model_version: str
    items: list[Recommendation]


class RecommenderService:
    def __init__(
        self,
        ranker: Ranker,
        model_dir: str,
        engine: Engine,
        sessions: sessionmaker,
        make_index: Callable[[Items, str], VectorIndex],  # (a catalogue's rows, model version) -> its index
        snapshot_dir: Path,  # where this machine keeps the stored news its workers map (`news_snapshot.py`)
        approximate_above: int = 100_000,  # past this many news: approximate search (IVF lists)
        recency_days: float = 7.0,
        user_cache_size: int = 10_000,
        refresh_seconds: float = 300.0,
        cache: EmbeddingCache | None = None,
        erase_within_seconds: float = 3600.0,
        count_limits: CountLimits | None = None,
    ):
        self.engine, self.sessions, self.make_index, self.cache = engine, sessions, make_index, cache
        with sessions() as session:
            self._secret = repo.service_secret(session)
            deployments = repo.deployments_since(session, 0)
        self.snapshots = Snapshots(snapshot_dir, self._secret, approximate_above)
        self.revocations = Revocations()
        self.counter = TrafficCounter(self._secret, count_limits or CountLimits())
        self.refresh_seconds = refresh_seconds
        self.eraser = Eraser(engine, erase_within_seconds)
        self.recency = timedelta(days=recency_days)
        self.users: LRUCache[str, UserState] = LRUCache(user_cache_size)
        self.cursor = {"events": 0, "deletions": 0, "deployments": 0}  # the last seq applied of each feed
        self._lock = threading.RLock()  # FastAPI runs sync routes in threads
        self._syncs: Batcher[None, None] = Batcher(self._follow_feed)
        self._answers: LoopBatcher[tuple[str, int], Recommendations] = LoopBatcher(self.recommend_many, "answers")
        first = self._arm(ArmSpec(model_dir, ranker.version, 1.0), ranker)
        self.deployments = Deployments(first, self._arm, sessions, cache, self._lock)
        if deployments:  # the database says which models serve: load them before the first answer
            self.cursor["deployments"] = deployments[-1].seq
            self.deployments.start([arm_specs(row.arms) for row in deployments])
        self.eraser.resume()

    def close(self) -> None:
        """Stop this worker's background work (erasure timer, the answering thread)."""
        self.eraser.cancel()
        self._answers.close()

    def _arm(self, spec: ArmSpec, ranker: Ranker) -> Arm:
        if ranker.encoder is None:
            raise ValueError("the service encodes posted news: load the Ranker with its encoder (Ranker.load)")

        def index_for(items: Items) -> VectorIndex:
            return self.make_index(items, spec.version)

        return Arm(spec, ranker, Catalogue(ranker, index_for, self.snapshots, self.refresh_seconds, self.cache))

    @property
    def arms(self) -> list[Arm]:
        return self.deployments.arms

    @property
    def primary(self) -> Arm:
        """The first arm: it encodes posted news and keeps users' histories at its length."""
        return self.arms[0]

    def deploy(self, model_dir: str, share: float) -> list[ArmSpec]:
        """Serve `model_dir` to `share` of the users; every worker follows (`Deployments.deploy`)."""
        return self.deployments.deploy(model_dir, share)

    @property
    def news(self):
        return self.primary.catalogue.news

    @property
    def secret(self) -> str:
        """The database's own secret: keys tombstones, and signs user tokens unless settings give one."""
        return self._secret

    # --- the change feed --------------------------------------------------------------------
    def sync(self) -> None:
        """Apply news, events, tallies, deletions and deployments written before this call.

        Callers that arrive while the feed is being read share the next reading (`Batcher`): each
        still sees every write made before it called, and N waiting requests cost one round of
        feed queries, not N."""
        self._syncs.run(None)

    def _follow_feed(self, callers: list[None]) -> list[None]:
        now = time.time()
        with self._lock, self.sessions() as session:
            heads = repo.feed_heads(session)  # one query; a feed that did not move is not read
            for arm in self.arms:
                for user in users_reading(self.users.values(), arm.catalogue.catch_up(session, now, heads)):
                    user.queries.clear()  # a news vector in this history changed
            max_history = self.primary.ranker.spec.max_history
            for rows in feed_chunks(session, repo.events_since, self.cursor, "events", heads):
                for event in rows:
                    if (state := self.users.get(event.user_id)) is not None:
                        state.apply(event, self.news, max_history)
            deletions = (
                repo.deletions_since(session, self.cursor["deletions"])
                if has_newer(heads, self.cursor, "deletions")
                else []
            )
            if deletions:
                erased = {d.user_key for d in deletions}
                for user_id in [u for u, state in self.users.items() if state.key in erased]:
                    del self.users[user_id]
                self.revocations.record(deletions)
                self.cursor["deletions"] = deletions[-1].seq
            deployments = (
                repo.deployments_since(session, self.cursor["deployments"])
                if has_newer(heads, self.cursor, "deployments")
                else []
            )
            if deployments:
                self.cursor["deployments"] = deployments[-1].seq
                self.deployments.follow([arm_specs(row.arms) for row in deployments])
        return [None] * len(callers)

    # --- writes -----------------------------------------------------------------------------
    def add_news(self, items: list[repo.NewsRecord]) -> int:
        """Encode (as the primary model reads news) and store news; searchable at once."""
        ranker = self.primary.ranker
        vectors = ranker.encode_news([as_news(n) for n in items], self.cache)
        with self.sessions.begin() as session:
            repo.upsert_news(session, items, vectors, ranker.vector_id)
        self.sync()
        return len(items)

    def _check_known(self, news_ids: set[str]) -> None:
        unknown = self.primary.catalogue.unknown(news_ids)
        if unknown:
            with self.sessions() as session:  # maybe posted to another worker a moment ago
                unknown -= repo.known_news_ids(session, unknown)
        if unknown:
            raise UnknownNewsError(list(unknown))

    def add_events(self, events: list[repo.EventRecord], trusted: bool = False) -> tuple[int, list[str]]:
        """Store events once each (per user and event id); returns (stored, duplicate event ids).
        Clicks count toward popularity by `counting.py`'s rules (`trusted`: the operator's logs).

        Unknown news ids raise UnknownNewsError and nothing is stored.
        """
        self.sync()
        self._check_known({e.news_id for e in events})
        first: dict[tuple[str, str], repo.EventRecord] = {}
        repeats = [e.event_id for e in events if first.setdefault((e.user_id, e.event_id), e) is not e]
        with self.sessions.begin() as session:
            repo.lock_feed(session)
            lists = self.counter.mark_clicks(session, list(first.values()), trusted)
            duplicates = repo.add_events(session, list(first.values()))
            count_clicks([e for e in first.values() if e not in duplicates], lists)
        return len(first) - len(duplicates), repeats + [e.event_id for e in duplicates]

    def add_impressions(self, impressions: list[repo.ImpressionRecord], trusted: bool = False) -> tuple[int, list[str]]:
        """Store what users were shown, once per user and impression id; (stored, duplicate ids).
        Views count toward popularity by `counting.py`'s rules (`trusted`: the operator's logs)."""
        self.sync()
        self._check_known({n for i in impressions for n in i.news_ids})
        first: dict[tuple[str, str], repo.ImpressionRecord] = {}
        repeats = [i.impression_id for i in impressions if first.setdefault((i.user_id, i.impression_id), i) is not i]
        for record in first.values():  # the model behind the list, from the id the service gave it
            record.model_version = version_in(record.impression_id, self.deployments.versions)
        with self.sessions.begin() as session:
            repo.lock_feed(session)
            self.counter.mark_views(session, list(first.values()), trusted)
            duplicates = repo.add_impressions(session, list(first.values()))
        count_impressions([record for record in first.values() if record not in duplicates])
        return len(first) - len(duplicates), repeats + [i.impression_id for i in duplicates]

    def set_interests(self, user_id: str, text: str) -> None:
        with self.sessions.begin() as session:
            repo.set_interests(session, user_id, text)

    def forget(self, user_id: str) -> dict[str, int]:
        """Erase the user everywhere: rows, a tombstone every worker follows, this worker's state."""
        with self.sessions.begin() as session:
            removed = repo.delete_user(session, user_id, repo.user_key(self._secret, user_id))
        self.eraser.erased()
        with self._lock:
            self.users.pop(user_id, None)
        return removed

    def token_revoked(self, user_id: str, issued_at: float) -> bool:
        """Whether a token of `user_id` issued at `issued_at` predates the user's erasure, made
        by any worker (`revocations.py`)."""
        self.sync()
        return self.revocations.revoked(repo.user_key(self._secret, user_id), issued_at)

    # --- users ------------------------------------------------------------------------------
    def _users(self, user_ids: Sequence[str]) -> list[UserState]:
        """Each user's state, from the LRU or loaded whole from the database; interests read fresh
        (call under `_lock`)."""
        with self.sessions() as session:
            interests = repo.interests_of(session, user_ids)
            states = []
            for user_id in user_ids:
                state = self.users.get(user_id)
                if state is None:
                    state = UserState(repo.user_key(self._secret, user_id))
                    for event in repo.user_events(session, user_id):
                        state.apply(event, self.news, self.primary.ranker.spec.max_history)
                    self.users[user_id] = state
                state.set_interests(interests.get(user_id))
                states.append(state)
        return states

    def _snapshots(self, user_ids: Sequence[str]) -> list[tuple[Arm, UserQuery, set[str]]]:
        """Each user's arm, its query for them and what they have seen, after one feed reading."""
        self.sync()
        with self._lock:
            arms = [pick_arm(self.arms, user_id) for user_id in user_ids]
            users = self._users(user_ids)
            return [(arm, user_query(arm.ranker, user), set(user.seen)) for arm, user in zip(arms, users, strict=True)]

    def unready(self) -> str | None:
        """Why this worker cannot answer users now (its database does not answer), or None."""
        try:
            with self.sessions() as session:
                repo.ping(session)
        except Exception as e:  # whatever the driver raises: the database is not there for us
            return f"the database does not answer ({type(e).__name__})"
        return None

    # --- answers ----------------------------------------------------------------------------
    async def recommend(self, user_id: str, k: int = 10) -> Recommendations:
        """Top-k fresh news the user has not seen, with a grounded one-line explanation.

        Awaited on the event loop: the requests that arrive while a batch is computed (in a
        thread of its own) are answered together by `recommend_many`."""
        return await self._answers.run((user_id, k))

    def recommend_many(self, requests: Sequence[tuple[str, int]], now: datetime | None = None) -> list[Recommendations]:
        """The answer to each (user id, k): one reading of the change feed, one query for the
        users' interests and one search per served model for them all."""
        arms, queries, seen = zip(*self._snapshots([user_id for user_id, _ in requests]), strict=True)
        moment = now or datetime.now(timezone.utc)
        answers: dict[int, Recommendations] = {}
        for arm in {id(arm): arm for arm in arms}.values():
            mine = [i for i, a in enumerate(arms) if a is arm]
            catalogue = arm.catalogue
            with catalogue.lock.reading():
                asked = [(queries[i].vector, seen[i], requests[i][1]) for i in mine]
                picks = catalogue.search(asked, moment - self.recency)
                ids = [[news_id for news_id, _ in picked] for picked in picks]
                every = [news_id for some in ids for news_id in some]
                terms = iter(catalogue.popularity_terms(every, moment.timestamp()).tolist() if every else [])
                for i, picked, picked_ids in zip(mine, picks, ids, strict=True):
                    reasons = queries[i].reasons(arm.ranker, picked_ids, list(islice(terms, len(picked_ids))))
                    items = []
                    for (news_id, score), reason in zip(picked, reasons, strict=True):
                        title = catalogue.news[news_id].title
                        items.append(Recommendation(news_id, title, score, reason.sentence(catalogue.news, title)))
                    signed = served_impression_id(self._secret, arm.version, requests[i][0], picked_ids)
                    answers[i] = Recommendations(signed, arm.version, items)
        return [answers[i] for i in range(len(requests))]

    def rank(self, user_id: str, candidates: Sequence[str], at: datetime | None = None) -> tuple[str, list]:
        """(model version, [(news id, score)] best first): the given candidates scored for this user
        by their model with popularity at `at` (default now); unknown ids raise UnknownNewsError."""
        self._check_known(set(candidates))
        arm, query, _ = self._snapshots([user_id])[0]
        moment = (at or datetime.now(timezone.utc)).timestamp()
        scores = arm.catalogue.scores(list(candidates), query.vector, moment)
        order = np.argsort(-scores, kind="stable")
        return arm.version, [(candidates[i], float(scores[i])) for i in order]

    def profile(self, user_id: str) -> dict:
        self.sync()
        with self._lock:
            state = self._users([user_id])[0]
            categories = Counter(self.news[n].category or "uncategorised" for n in state.history)
            return {
                "user_id": user_id,
                "interests": state.interests,
                "history": list(state.history),
                "events_seen": len(state.seen),
                "top_categories": [c for c, _ in categories.most_common(5)],
                "recent_comments": list(state.comments),
            }
