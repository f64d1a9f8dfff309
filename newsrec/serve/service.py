"""The recommendation service's core, independent of HTTP.

The database is the truth. Each worker process keeps a catalogue (news in a vector index, live
popularity: `catalogue.py`) and a bounded LRU of user states, and before every answer it
follows the change feed: news, events, tallies of views and clicks, and deletions written since
it last looked, by any worker of any instance sharing the database (`sync`). A click therefore
changes the next list at once everywhere (the user's and the item's popularity), an erased user
is gone from every worker before its next answer, and a user's vector is updated from new
events only, never by re-reading all history.

`_lock` serialises changes to the worker's state (following the feed, loading a user); the
catalogue's own readers-writer lock lets requests search at once. Take `_lock` first, never the
other way round.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import torch
from cachetools import LRUCache
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.plm import encode_texts
from newsrec.models.batch import Row, make_batch
from newsrec.models.ranker import Ranker
from newsrec.models.reason import Reason, interest_topics, reason_from_matches
from newsrec.serve.catalogue import Catalogue, as_news
from newsrec.serve.errors import UnknownNewsError
from newsrec.serve.index import VectorIndex
from newsrec.store import repository as repo
from newsrec.store.db import erase_traces
from newsrec.store.models import POSITIVE_EVENTS, EventRow

__all__ = ["RecommenderService", "Recommendation", "Recommendations"]

logger = logging.getLogger(__name__)
COMMENTS_KEPT = 3  # latest comment texts that join the user's interest text
FEED_CHUNK = 10_000  # feed rows read at a time (bounded memory while catching up)


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


@dataclass
class UserQuery:
    """What the model derives from a user's state: the query vector and the facts behind explanations."""

    vector: np.ndarray  # (D + 1,) the model's query_vector
    history_match: np.ndarray  # (H, D) W h for each history item: n . (W h) is how much h explains n
    topics: list[str]  # interest topics from the user's own words
    topic_vectors: np.ndarray | None  # (T, D)


@dataclass
class UserState:
    key: str  # keyed hash of the user id, as deletion tombstones name it
    last_seq: int = 0  # the newest event applied
    history: deque = field(default_factory=deque)  # positive news ids, oldest first, at most max_history
    seen: set = field(default_factory=set)  # every news id the user had an event on: never recommended
    comments: deque = field(default_factory=lambda: deque(maxlen=COMMENTS_KEPT))
    interests: str | None = None
    query: UserQuery | None = None  # recomputed only when something above changed


class RecommenderService:
    def __init__(
        self,
        ranker: Ranker,
        engine: Engine,
        sessions: sessionmaker,
        index: VectorIndex,
        recency_days: float = 7.0,
        user_cache_size: int = 10_000,
        refresh_seconds: float = 300.0,
        cache: EmbeddingCache | None = None,
    ):
        if ranker.encoder is None:
            raise ValueError("the service encodes posted news: load the Ranker with its encoder (Ranker.load)")
        self.ranker, self.encoder, self.engine, self.sessions = ranker, ranker.encoder, engine, sessions
        self.cache = cache  # for news texts (public); user texts are never cached
        self.catalogue = Catalogue(ranker, index, refresh_seconds)
        self.recency = timedelta(days=recency_days)
        self.users: LRUCache[str, UserState] = LRUCache(user_cache_size)
        self.cursor = {"news": 0, "events": 0, "tallies": 0, "deletions": 0}  # the last seq applied of each feed
        with sessions() as session:
            self._secret = repo.service_secret(session)
        self._lock = threading.RLock()  # FastAPI runs sync routes in threads

    @property
    def secret(self) -> str:
        """The database's own secret: keys tombstones, and signs user tokens unless settings give one."""
        return self._secret

    @property
    def news(self):
        return self.catalogue.news

    # --- the change feed --------------------------------------------------------------------
    def sync(self) -> None:
        """Apply news, events, tallies and deletions written since this worker last looked."""
        now = time.time()
        with self._lock, self.sessions() as session:
            for rows in self._feed(session, "news", repo.news_since):
                for user in _users_reading(self.users.values(), self.catalogue.add_news(rows, now)):
                    user.query = None  # a news vector in this history changed
            for rows in self._feed(session, "events", repo.events_since):
                for event in rows:
                    if (state := self.users.get(event.user_id)) is not None:
                        self._apply_event(state, event)
            tallies = [row for rows in self._feed(session, "tallies", repo.tallies_since) for row in rows]
            self.catalogue.count_traffic(tallies, now)
            deletions = repo.deletions_since(session, self.cursor["deletions"])
            if deletions:
                erased = {d.user_key for d in deletions}
                for user_id in [u for u, state in self.users.items() if state.key in erased]:
                    del self.users[user_id]
                self.cursor["deletions"] = deletions[-1].seq

    def _feed(self, session: Session, name: str, since: Callable) -> Iterator[list]:
        """Every row of one feed after its cursor, in chunks (a new worker catches up on all of it);
        the cursor moves past a chunk once the caller has applied it."""
        while True:
            rows = since(session, self.cursor[name], FEED_CHUNK)
            if rows:
                yield rows
                self.cursor[name] = rows[-1].seq
            if len(rows) < FEED_CHUNK:
                return

    # --- writes -----------------------------------------------------------------------------
    def add_news(self, items: list[repo.NewsRecord]) -> int:
        """Encode and store news; committed before return, then searchable at once."""
        spec = self.ranker.spec
        news = spec.prepare_news({n.news_id: as_news(n) for n in items})
        vectors = encode_texts(self.encoder, [spec.news_text(news[n.news_id]) for n in items], self.cache)
        with self.sessions.begin() as session:
            repo.upsert_news(session, items, vectors)
        self.sync()
        return len(items)

    def _check_known(self, news_ids: set[str]) -> None:
        unknown = self.catalogue.unknown(news_ids)
        if unknown:
            with self.sessions() as session:  # maybe posted to another worker a moment ago
                unknown -= repo.known_news_ids(session, unknown)
        if unknown:
            raise UnknownNewsError(list(unknown))

    def add_events(self, events: list[repo.EventRecord]) -> tuple[int, list[str]]:
        """Store events once each (per user and event id); returns (stored, duplicate event ids).

        Unknown news ids raise UnknownNewsError and nothing is stored.
        """
        self.sync()
        self._check_known({e.news_id for e in events})
        first: dict[tuple[str, str], repo.EventRecord] = {}
        repeats = [e.event_id for e in events if first.setdefault((e.user_id, e.event_id), e) is not e]
        with self.sessions.begin() as session:
            duplicates = repo.add_events(session, list(first.values()))
        return len(first) - len(duplicates), repeats + [e.event_id for e in duplicates]

    def add_impressions(self, impressions: list[repo.ImpressionRecord]) -> tuple[int, list[str]]:
        """Store what users were shown, once per user and impression id; (stored, duplicate ids)."""
        self.sync()
        self._check_known({n for i in impressions for n in i.news_ids})
        first: dict[tuple[str, str], repo.ImpressionRecord] = {}
        repeats = [i.impression_id for i in impressions if first.setdefault((i.user_id, i.impression_id), i) is not i]
        with self.sessions.begin() as session:
            duplicates = repo.add_impressions(session, list(first.values()))
        return len(first) - len(duplicates), repeats + [i.impression_id for i in duplicates]

    def set_interests(self, user_id: str, text: str) -> None:
        with self.sessions.begin() as session:
            repo.set_interests(session, user_id, text)

    def forget(self, user_id: str) -> dict[str, int]:
        """Erase the user everywhere: rows, a tombstone every worker follows, this worker's state."""
        with self.sessions.begin() as session:
            removed = repo.delete_user(session, user_id, repo.user_key(self._secret, user_id))
        erase_traces(self.engine)
        with self._lock:
            self.users.pop(user_id, None)
        return removed

    # --- users ------------------------------------------------------------------------------
    def _user(self, user_id: str) -> UserState:
        """The user's state, from the LRU or loaded whole from the database; interests read fresh."""
        with self.sessions() as session:
            interests = repo.get_interests(session, user_id)
            state = self.users.get(user_id)
            if state is None:
                state = UserState(repo.user_key(self._secret, user_id))
                for event in repo.user_events(session, user_id):
                    self._apply_event(state, event)
                self.users[user_id] = state
        if interests != state.interests:
            state.interests, state.query = interests, None
        return state

    def _apply_event(self, state: UserState, event: EventRow) -> None:
        if event.seq <= state.last_seq:
            return
        state.seen.add(event.news_id)
        if event.type in POSITIVE_EVENTS and event.news_id in self.catalogue.news:
            if event.news_id in state.history:
                state.history.remove(event.news_id)
            state.history.append(event.news_id)
            while len(state.history) > self.ranker.spec.max_history:
                state.history.popleft()
        if event.type == "comment" and event.text:
            state.comments.append(event.text)
        state.last_seq, state.query = event.seq, None

    @torch.no_grad()
    def _query(self, state: UserState) -> UserQuery:
        """The model's query for this user, computed once per change of their state."""
        if state.query is None:
            model, table = self.ranker.model, self.ranker.table
            batch = make_batch([Row(list(state.history), [])], table, self.ranker.spec.max_history)
            _, history = batch.vectors(table)
            text = " ".join([state.interests or "", *state.comments]).strip()
            text_vector = self.ranker.encode_texts([text]) if text else None
            user = model.user_vector(history, batch.history_mask, text_vector)
            topics = interest_topics(state.interests or "")
            state.query = UserQuery(
                model.query_vector(user)[0].numpy(),
                model.apply_w(history[0]).numpy(),
                topics,
                self.ranker.encode_texts(topics).numpy() if topics else None,
            )
        return state.query

    def _snapshot(self, user_id: str) -> tuple[UserQuery, list[str], set[str]]:
        """The user's query with the history it was computed from and what they have seen."""
        self.sync()
        with self._lock:
            state = self._user(user_id)
            return self._query(state), list(state.history), set(state.seen)

    # --- answers ----------------------------------------------------------------------------
    def recommend(self, user_id: str, k: int = 10, now: datetime | None = None) -> Recommendations:
        """Top-k fresh news the user has not seen, with a grounded one-line explanation."""
        query, history, seen = self._snapshot(user_id)
        moment = now or datetime.now(timezone.utc)
        catalogue = self.catalogue
        with catalogue.lock.reading():
            picked = catalogue.search(query.vector, seen, k, moment - self.recency)
            ids = [news_id for news_id, _ in picked]
            popularity = catalogue.popularity_terms(ids, moment.timestamp()) if ids else np.zeros(0)
            items = [
                Recommendation(
                    news_id,
                    catalogue.news[news_id].title,
                    score,
                    self._reason(history, query, news_id, float(pop)).sentence(catalogue.news),
                )
                for (news_id, score), pop in zip(picked, popularity)
            ]
        return Recommendations(uuid.uuid4().hex, self.ranker.version, items)

    def rank(self, user_id: str, candidates: Sequence[str], at: datetime | None = None) -> list[tuple[str, float]]:
        """The given candidates scored for this user by the model with popularity at `at` (default
        now), best first; unknown ids raise UnknownNewsError."""
        self._check_known(set(candidates))
        query, _, _ = self._snapshot(user_id)
        moment = (at or datetime.now(timezone.utc)).timestamp()
        scores = self.catalogue.scores(list(candidates), query.vector, moment)
        order = np.argsort(-scores, kind="stable")
        return [(candidates[i], float(scores[i])) for i in order]

    def _reason(self, history: list[str], query: UserQuery, news_id: str, popularity: float) -> Reason:
        n = self.ranker.table.vectors[self.ranker.table.row[news_id]].numpy()
        match = query.history_match[: len(history)] @ n if history else np.zeros(0)
        topic_match = query.topic_vectors @ n if query.topic_vectors is not None else None
        return reason_from_matches(history, match, popularity, query.topics, topic_match)

    def profile(self, user_id: str) -> dict:
        self.sync()
        with self._lock:
            state = self._user(user_id)
            categories = Counter(self.catalogue.news[n].category or "uncategorised" for n in state.history)
            return {
                "user_id": user_id,
                "interests": state.interests,
                "history": list(state.history),
                "events_seen": len(state.seen),
                "top_categories": [c for c, _ in categories.most_common(5)],
                "recent_comments": list(state.comments),
            }


def _users_reading(users, news_ids: set[str]) -> list[UserState]:
    return [u for u in users if news_ids.intersection(u.history)] if news_ids else []
