"""The recommendation service's core, independent of HTTP: a thin front over its parts.

The database is the truth. Each worker process keeps, per served model, a catalogue (news in a
vector index, live popularity: `catalogue.py`) and one bounded LRU of user states
(`user_store.py`), and before every answer it follows the change feeds (`sync`): news, events,
tallies of views and clicks, deletions and deployments written since it last looked, by any
worker of any instance sharing the database. A click therefore changes the next list at once
everywhere (the user's and the item's popularity), an erased user is gone from every worker
before its next answer, and a user's vector is updated from new events only.

The parts: `Deployments` (which models serve, one loader), `UserStore`, `Writes`, the answers
of one model for a batch (`answers.py`), and each catalogue with its own `ChangeFeed`.

`lock` serialises changes to the worker's state (following the feeds, loading a user, swapping
arms); each catalogue's readers-writer lock lets requests search at once. Take `lock` first,
never the other way round.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.service.answers import Ask, recommend
from newsrec.service.batcher import Batcher, LoopBatcher
from newsrec.service.catalogue import Catalogue
from newsrec.service.change_feed import ChangeFeed
from newsrec.service.config import CoreSettings
from newsrec.service.counting import TrafficCounter
from newsrec.service.deployment import Arm, ArmSpec, Deployments, arm_specs, pick_arm
from newsrec.service.deployment_copies import ModelCopies
from newsrec.service.index import Items, VectorIndex
from newsrec.service.news_snapshot import Snapshots
from newsrec.service.results import Profile, Ranked, Recommendations
from newsrec.service.user_store import UserStore
from newsrec.service.users import user_query
from newsrec.service.writes import Writes
from newsrec.store import feeds
from newsrec.store import repository as repo
from newsrec.store.db import make_sessions
from newsrec.store.erasure import Eraser

__all__ = ["RecommenderService", "FEEDS_READ_AFTER"]

IndexMaker = Callable[[Items, str], VectorIndex]  # (a catalogue's rows, model version) -> its index
# When the request in this context arrived (monotonic seconds), set once it has had the feeds read
# after that moment: by the revocation check of its user token (serve/deps.py), which must read
# them anyway. A reading that began after the request arrived has every write acknowledged before
# the request was sent, so the request's own `sync` calls need not read again: a user-token
# request costs one feed reading, as an app key's does. (No user-token route writes and then
# reads its own write back, which would need a reading after the write.)
FEEDS_READ_AFTER: ContextVar[float | None] = ContextVar("feeds_read_after", default=None)


class RecommenderService:
    """Answers, scores and profiles, always after following the feeds; writes go to `writes`."""

    def __init__(self, engine: Engine, secret: str, deployments: Deployments, users: UserStore, settings: CoreSettings):
        """Compose started parts (`open` builds them); does no database work and starts nothing."""
        self.engine, self.secret, self.deployments, self.users = engine, secret, deployments, users
        self.sessions: sessionmaker = deployments.sessions
        self.lock = deployments.lock
        self.recency = timedelta(days=settings.recency_days)
        self.feed = ChangeFeed("events", "deletions", "deployments")
        self._syncs: Batcher[None, None] = Batcher(self._follow_feeds)
        self._read_from = -math.inf  # when the newest complete feed reading began (monotonic seconds)
        self._answers: LoopBatcher[tuple[str, int, float | None], Recommendations] = LoopBatcher(
            self._answer, "answers"
        )
        eraser = Eraser(engine, settings.erase_within_seconds)
        counter = TrafficCounter(secret, settings.count_limits)
        self.writes = Writes(
            self.sessions, deployments, users, counter, eraser, self.sync, self.lock, deployments.cache
        )

    @classmethod
    def open(
        cls,
        ranker: Ranker,  # loaded with its encoder (`Ranker.load`): it serves until the database names others
        model_dir: str,  # the folder given (--model): what another machine copies if a deployment names it
        engine: Engine,
        make_index: IndexMaker,
        settings: CoreSettings,
        cache: EmbeddingCache | None = None,
        copies: ModelCopies | None = None,  # this machine's model copies (`ModelCopies.of_machine`)
        digest: str = "",  # of the copy of `model_dir` that `ranker` was loaded from, held by `copies`
    ) -> RecommenderService:
        """A started service: the database's secret read, the deployed models loaded (before the
        first answer), an erasure purge a stopped process left undone scheduled."""
        if ranker.encoder is None:
            raise ValueError("the service encodes posted news: load the Ranker with its encoder (Ranker.load)")
        sessions = make_sessions(engine)
        with sessions() as session:
            secret = repo.service_secret(session)
        snapshots = Snapshots(settings.snapshot_dir, secret, settings.approximate_above)

        def make_arm(spec: ArmSpec, model: Ranker) -> Arm:
            def index_for(items: Items) -> VectorIndex:
                return make_index(items, spec.version)

            catalogue = Catalogue(model, index_for, snapshots, settings.popularity_refresh_seconds, cache)
            return Arm(spec, model, catalogue)

        first = make_arm(ArmSpec(model_dir, ranker.version, 1.0, digest), ranker)
        copies = copies or ModelCopies.of_machine(settings.snapshot_dir)
        deployments = Deployments(first, make_arm, sessions, cache, threading.RLock(), copies)
        service = cls(
            engine, secret, deployments, UserStore(secret, settings.user_cache_size, ranker.spec.max_history), settings
        )
        with sessions() as session:
            recorded = service.feed.rows(session, "deployments")
        deployments.start([arm_specs(row.arms) for row in recorded])  # the database's models, before the first answer
        service.writes.eraser.resume()
        service.sync()
        return service

    def close(self) -> None:
        """Stop this worker's background work (erasure timer, the answering thread)."""
        self.writes.eraser.cancel()
        self._answers.close()

    @property
    def arms(self) -> list[Arm]:
        return self.deployments.arms

    @property
    def primary(self) -> Arm:
        """The first arm: it encodes posted news and keeps users' histories at its length."""
        return self.arms[0]

    # --- the change feeds -------------------------------------------------------------------
    def sync(self) -> None:
        """Apply news, events, tallies, deletions and deployments written before this call.

        Callers that arrive while the feeds are being read share the next reading (`Batcher`):
        each still sees every write made before it called, and N waiting requests cost one
        round of feed queries, not N. A request that had the feeds read after it arrived reads
        them no more (`FEEDS_READ_AFTER`)."""
        arrived = FEEDS_READ_AFTER.get()
        if arrived is None:
            self._syncs.run(None)
        else:
            self.read_after(arrived)

    def read_after(self, moment: float) -> None:
        """Have the feeds read by a reading that began after `moment` (monotonic seconds): at
        once if one has, else the next reading (`sync`)."""
        if self._read_from <= moment:
            self._syncs.run(None)

    def _follow_feeds(self, callers: list[None]) -> list[None]:
        now, began = time.time(), time.monotonic()
        with self.lock, self.sessions() as session:
            heads = feeds.heads(session)  # one query; a feed that did not move is not read
            for arm in self.arms:
                self.users.news_changed(arm.catalogue.catch_up(session, now, heads))
            for rows in self.feed.chunks(session, "events", heads):
                self.users.apply(rows, self.primary.catalogue.news)
            if tombstones := self.feed.rows(session, "deletions", heads):
                self.users.erase(tombstones)
            if deployments := self.feed.rows(session, "deployments", heads):
                self.deployments.follow([arm_specs(row.arms) for row in deployments])
            self._read_from = began  # readings follow one another (Batcher): this is the newest
        return [None] * len(callers)

    def token_revoked(self, user_id: str, issued_at: float, arrived: float) -> bool:
        """Whether a token of `user_id` issued at `issued_at` predates the user's erasure, made
        by any worker (`revocations.py`), known by a feed reading begun after the request arrived
        at `arrived` (monotonic seconds): the request's one reading (`FEEDS_READ_AFTER`)."""
        self.read_after(arrived)
        return self.users.revoked(user_id, issued_at)

    def unready(self) -> str | None:
        """Why this worker cannot answer users now (its database does not answer), or None; when
        it can, it has caught up with every feed (so what it reports counts what is stored)."""
        try:
            with self.sessions() as session:
                repo.ping(session)
            self.sync()
        except Exception as e:  # whatever the driver raises: the database is not there for us
            return f"the database does not answer ({type(e).__name__})"
        return None

    # --- answers ----------------------------------------------------------------------------
    def _asks(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Arm, Ask]]:
        """Each user's arm and what it derives from their state, after one feed reading."""
        self.sync()
        with self.lock, self.sessions() as session:
            user_ids = [user_id for user_id, _ in requests]
            states = self.users.states(session, user_ids, self.primary.catalogue.news)
            asks = []
            for (user_id, k), state in zip(requests, states, strict=True):
                arm = pick_arm(self.arms, user_id)
                query = user_query(arm.ranker, arm.catalogue.table, state)
                asks.append((arm, Ask(user_id, k, query, frozenset(state.seen))))
            return asks

    async def recommend(self, user_id: str, k: int = 10) -> Recommendations:
        """Top-k fresh news the user has not seen, with a grounded one-line explanation.

        Awaited on the event loop: the requests that arrive while a batch is computed (in a
        thread of its own) are answered together by `recommend_many`."""
        return await self._answers.run((user_id, k, FEEDS_READ_AFTER.get()))

    def _answer(self, asked: Sequence[tuple[str, int, float | None]]) -> list[Recommendations]:
        """A batch of `recommend` calls: the feeds are read unless a reading began after every
        one of them arrived."""
        arrivals = [arrived for _, _, arrived in asked]
        context = FEEDS_READ_AFTER.set(None if None in arrivals else max(a for a in arrivals if a is not None))
        try:
            return self.recommend_many([(user_id, k) for user_id, k, _ in asked])
        finally:
            FEEDS_READ_AFTER.reset(context)

    def recommend_many(self, requests: Sequence[tuple[str, int]], now: datetime | None = None) -> list[Recommendations]:
        """The answer to each (user id, k): one reading of the feeds, one query for the users'
        interests and one search per served model for them all."""
        asked = self._asks(requests)
        moment = now or datetime.now(timezone.utc)
        answers: dict[int, Recommendations] = {}
        for arm in {id(arm): arm for arm, _ in asked}.values():
            mine = [i for i, (a, _) in enumerate(asked) if a is arm]
            found = recommend(arm, [asked[i][1] for i in mine], moment - self.recency, moment, self.secret)
            answers.update(zip(mine, found, strict=True))
        return [answers[i] for i in range(len(requests))]

    def rank(self, user_id: str, candidates: Sequence[str], at: datetime | None = None) -> Ranked:
        """The given candidates scored for this user by their model with popularity at `at`
        (default now), best first; unknown ids raise UnknownNewsError."""
        self.writes.check_known(set(candidates))
        arm, ask = self._asks([(user_id, 0)])[0]
        moment = (at or datetime.now(timezone.utc)).timestamp()
        scores = arm.catalogue.scores(list(candidates), ask.query.vector, moment)
        order = np.argsort(-scores, kind="stable")
        return Ranked(arm.version, tuple((candidates[i], float(scores[i])) for i in order))

    def profile(self, user_id: str) -> Profile:
        """What the service holds about a user."""
        self.sync()
        with self.lock, self.sessions() as session:
            news = self.primary.catalogue.news
            state = self.users.states(session, [user_id], news)[0]
            categories = Counter(news[n].category or "uncategorised" for n in state.history)
            return Profile(
                user_id,
                state.interests,
                tuple(state.history),
                len(state.seen),
                tuple(c for c, _ in categories.most_common(5)),
                tuple(state.comments),
            )
