"""The recommendation service's core, independent of HTTP.

The database is the truth. Each worker process keeps the catalogue (news vectors in a vector
index) and a bounded LRU of user states, and before every answer it follows the change feed:
news, events and deletions written since it last looked, by any worker of any instance
sharing the database (`sync`). A click therefore changes the next list at once everywhere, an
erased user is gone from every worker before its next answer, and a user's vector is updated
from new events only, never by re-reading all history.

Two locks: `_lock` serialises changes to the worker's state (applying the feed, loading a
user); `_catalogue` lets any number of requests search the index and explain their picks at
once (BLAS releases the GIL, so searches use every core) while news are applied alone.

Scoring is the trained model's own path: the index holds `item_vector(n, pop(n))` per news item
and is searched with the user's `query_vector`, so the inner product it ranks by is exactly the
score `Ranker.score` gives offline.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import torch
from cachetools import LRUCache
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from newsrec.data.mind import News
from newsrec.encoders.plm import encode_texts
from newsrec.models.batch import Row, make_batch
from newsrec.models.ranker import Ranker
from newsrec.models.reason import Reason, interest_topics, reason_from_matches
from newsrec.serve.errors import UnknownNewsError
from newsrec.serve.index import VectorIndex
from newsrec.serve.rwlock import ReadWriteLock
from newsrec.store import repository as repo
from newsrec.store.db import erase_traces
from newsrec.store.models import POSITIVE_EVENTS, EventRow

__all__ = ["RecommenderService", "Recommendation"]

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
    ):
        if ranker.encoder is None:
            raise ValueError("the service encodes posted news: load the Ranker with its encoder (Ranker.load)")
        self.ranker, self.encoder, self.engine, self.sessions, self.index = (
            ranker,
            ranker.encoder,
            engine,
            sessions,
            index,
        )
        self.recency = timedelta(days=recency_days)
        self.news: dict[str, News] = {}
        self.published: dict[str, datetime] = {}
        self.key_to_id: dict[int, str] = {}
        self.id_to_key: dict[str, int] = {}
        self.users: LRUCache[str, UserState] = LRUCache(user_cache_size)
        self.last_news_seq = self.last_event_seq = self.last_deletion_seq = 0
        self.popularity: dict[str, float] = {}  # the popularity term of each item, for explanations
        with sessions() as session:
            self._secret = repo.service_secret(session)
        self._lock = threading.RLock()  # FastAPI runs sync routes in threads
        self._catalogue = ReadWriteLock()  # news, published, keys, the table and the index

    @property
    def secret(self) -> str:
        """The database's own secret: keys tombstones, and signs user tokens unless settings give one."""
        return self._secret

    # --- the change feed --------------------------------------------------------------------
    def sync(self) -> None:
        """Apply news, events and deletions written since this worker last looked."""
        with self._lock, self.sessions() as session:
            while True:  # in chunks: a new worker catches up with a whole catalogue before answering
                news = repo.news_since(session, self.last_news_seq, FEED_CHUNK)
                if news:
                    with self._catalogue.writing():
                        self._apply_news(news)
                if len(news) < FEED_CHUNK:
                    break
            while True:
                events = repo.events_since(session, self.last_event_seq, FEED_CHUNK)
                for event in events:
                    state = self.users.get(event.user_id)
                    if state is not None:
                        self._apply_event(state, event)
                    self.last_event_seq = event.seq
                if len(events) < FEED_CHUNK:
                    break
            deletions = repo.deletions_since(session, self.last_deletion_seq)
            if deletions:
                erased = {d.user_key for d in deletions}
                for user_id in [u for u, state in self.users.items() if state.key in erased]:
                    del self.users[user_id]
                self.last_deletion_seq = deletions[-1].seq

    def _apply_news(self, rows: Sequence) -> None:
        replaced = set()
        for row in rows:
            old = self.id_to_key.pop(row.news_id, None)
            if old is not None:
                self.index.remove(np.array([old]))
                del self.key_to_id[old]
                replaced.add(row.news_id)
            self.news[row.news_id] = _as_news(row)
            published = row.published_at or row.updated_at
            self.published[row.news_id] = published if published.tzinfo else published.replace(tzinfo=timezone.utc)
            self.key_to_id[row.seq], self.id_to_key[row.news_id] = row.news_id, row.seq
        ids = [r.news_id for r in rows]
        vectors = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
        self.ranker.table.upsert(ids, vectors)
        items = self._item_vectors(ids, vectors)
        self.popularity.update(zip(ids, items[:, -1].tolist()))
        self.index.upsert(np.array([r.seq for r in rows]), items)
        self.last_news_seq = rows[-1].seq
        for state in self.users.values():
            if replaced.intersection(state.history):
                state.query = None  # a news vector in this history changed

    @torch.no_grad()
    def _item_vectors(self, ids: list[str], vectors: np.ndarray) -> np.ndarray:
        """(N, D + 1) rows of the index: the model's item_vector of each news item."""
        features = torch.from_numpy(self.ranker.stats.features(ids))
        return self.ranker.model.item_vector(torch.from_numpy(vectors), features).numpy()

    # --- news -------------------------------------------------------------------------------
    def add_news(self, items: list[repo.NewsRecord]) -> int:
        """Encode and store news; committed before return, then searchable at once."""
        spec = self.ranker.spec
        news = spec.prepare_news({n.news_id: _as_news(n) for n in items})
        texts = [spec.news_text(news[n.news_id]) for n in items]
        vectors = encode_texts(self.encoder, texts)
        with self.sessions.begin() as session:
            repo.upsert_news(session, items, vectors)
        self.sync()
        return len(items)

    # --- users ------------------------------------------------------------------------------
    def add_events(self, events: list[repo.EventRecord]) -> tuple[int, list[str]]:
        """Store events once each (per user and event id); returns (stored, duplicate event ids).

        Unknown news ids raise UnknownNewsError and nothing is stored.
        """
        self.sync()
        with self._catalogue.reading():
            unknown = {e.news_id for e in events} - self.news.keys()
        if unknown:
            with self.sessions() as session:  # maybe posted to another worker a moment ago
                unknown -= repo.known_news_ids(session, unknown)
        if unknown:
            raise UnknownNewsError(list(unknown))
        first: dict[tuple[str, str], repo.EventRecord] = {}
        repeats = [e.event_id for e in events if first.setdefault((e.user_id, e.event_id), e) is not e]
        with self.sessions.begin() as session:
            duplicates = repo.add_events(session, list(first.values()))
        return len(first) - len(duplicates), repeats + [e.event_id for e in duplicates]

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
        if event.type in POSITIVE_EVENTS and event.news_id in self.news:
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
            batch = make_batch([Row(list(state.history), [])], table, None, self.ranker.spec.max_history)
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

    def _reason(self, history: list[str], query: UserQuery, news_id: str) -> Reason:
        n = self.ranker.table.vectors[self.ranker.table.row[news_id]].numpy()
        match = query.history_match[: len(history)] @ n if history else np.zeros(0)
        topic_match = query.topic_vectors @ n if query.topic_vectors is not None else None
        return reason_from_matches(history, match, self.popularity.get(news_id, 0.0), query.topics, topic_match)

    # --- answers ----------------------------------------------------------------------------
    def recommend(self, user_id: str, k: int = 10, now: datetime | None = None) -> list[Recommendation]:
        """Top-k fresh news the user has not seen, with a grounded one-line explanation."""
        self.sync()
        with self._lock:
            state = self._user(user_id)
            query = self._query(state)
            history, seen = list(state.history), set(state.seen)  # as the query saw them
        cutoff = (now or datetime.now(timezone.utc)) - self.recency
        with self._catalogue.reading():
            picked = self._search(query, seen, k, cutoff)
            return [
                Recommendation(
                    news_id, self.news[news_id].title, score, self._reason(history, query, news_id).sentence(self.news)
                )
                for news_id, score in picked
            ]

    def _search(self, query: UserQuery, seen: set[str], k: int, cutoff: datetime) -> list[tuple[str, float]]:
        """The k best unread news published after `cutoff`, by the model's score."""
        want = k + len(seen) + 32
        while True:
            scores, keys = self.index.search(query.vector, want)
            picked = [
                (self.key_to_id[key], float(score))
                for score, key in zip(scores, keys)
                if key in self.key_to_id
                and self.key_to_id[key] not in seen
                and self.published[self.key_to_id[key]] >= cutoff
            ][:k]
            if len(picked) == k or want >= len(self.index):
                return picked
            want *= 4  # many were read or stale: look deeper

    def profile(self, user_id: str) -> dict:
        self.sync()
        with self._lock:
            state = self._user(user_id)
            categories = Counter(self.news[n].category or "uncategorised" for n in state.history)
            return {
                "user_id": user_id,
                "interests": state.interests,
                "history": list(state.history),
                "events_seen": len(state.seen),
                "top_categories": [c for c, _ in categories.most_common(5)],
                "recent_comments": list(state.comments),
            }


def _as_news(n) -> News:
    return News(n.news_id, n.title, n.category or "", n.subcategory or "", n.abstract or "")
