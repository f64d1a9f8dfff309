"""The recommendation service's core, independent of HTTP.

The database is the truth; each worker process keeps a catalogue of news vectors in a vector
index and a small state per user, and catches up with rows other workers wrote (by `seq`)
before it answers. A click therefore changes the next recommendation at once, in any worker,
and a user's vector is updated from their new events only, never by re-reading all history.

Scoring is the trained model's: score(n, u) = s * n . (W u) + pop(n). That is one inner
product of [n, pop(n)] with [s W u, 1], so the vector index ranks exactly as the model does.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import torch
from sqlalchemy.orm import sessionmaker

from newsrec.data.mind import News
from newsrec.encoders.plm import encode_texts
from newsrec.models.batch import Row, make_batch
from newsrec.models.ranker import TEXT_WEIGHT, Ranker, Reason
from newsrec.serve.index import VectorIndex
from newsrec.store import repository as repo
from newsrec.store.models import POSITIVE_EVENTS

__all__ = ["RecommenderService", "Recommendation", "UnknownNewsError"]

logger = logging.getLogger(__name__)
COMMENTS_KEPT = 3  # latest comment texts that join the user's interest text


class UnknownNewsError(ValueError):
    def __init__(self, ids: list[str]):
        super().__init__(f"unknown news ids: {', '.join(sorted(ids)[:20])}; post them to /v1/news first")
        self.ids = sorted(ids)


@dataclass
class Recommendation:
    news_id: str
    title: str
    score: float
    explanation: str


@dataclass
class UserState:
    last_seq: int = 0
    history: deque = field(default_factory=deque)  # positive news ids, oldest first, at most max_history
    seen: set = field(default_factory=set)  # every news id the user had an event on: never recommended
    comments: deque = field(default_factory=lambda: deque(maxlen=COMMENTS_KEPT))
    vector: np.ndarray | None = None  # query [s W u, 1], recomputed only when something changed
    history_matrix: np.ndarray | None = None  # (H, D) W-transformed history vectors, for reasons
    text_vector: np.ndarray | None = None  # encoded interest text, for reasons
    interests: str | None = None


class RecommenderService:
    def __init__(
        self, ranker: Ranker, sessions: sessionmaker, index: VectorIndex, recency_days: float = 7.0,
    ):
        self.ranker = ranker
        self.sessions = sessions
        self.index = index
        self.recency = timedelta(days=recency_days)
        self.news: dict[str, News] = {}
        self.published: dict[str, datetime] = {}
        self.key_to_id: dict[int, str] = {}
        self.id_to_key: dict[str, int] = {}
        self.users: dict[str, UserState] = {}
        self.last_news_seq = 0
        self.popularity: dict[str, float] = {}
        self._lock = threading.RLock()  # FastAPI runs sync routes in threads

    # --- news -------------------------------------------------------------------------------
    def add_news(self, items: list[repo.NewsRecord]) -> int:
        """Encode and store news; committed before return, then searchable at once."""
        plm, config = self.ranker.plm, self.ranker.config
        texts = [config.news_text(self._as_news(n)) for n in items]
        vectors = encode_texts(plm, texts) if texts else np.zeros((0, plm.dim), np.float32)
        with self.sessions.begin() as session:
            repo.upsert_news(session, items, vectors)
        self.sync_news()
        return len(items)

    def sync_news(self) -> None:
        """Index news rows written since this worker last looked (by any worker)."""
        with self._lock, self.sessions() as session:
            rows = repo.news_since(session, self.last_news_seq)
            if not rows:
                return
            replaced = set()
            for row in rows:
                old = self.id_to_key.pop(row.news_id, None)
                if old is not None:
                    self.index.remove(np.array([old]))
                    del self.key_to_id[old]
                    replaced.add(row.news_id)
                self.news[row.news_id] = self._as_news(row)
                published = row.published_at or row.updated_at
                self.published[row.news_id] = published if published.tzinfo else published.replace(tzinfo=timezone.utc)
                self.key_to_id[row.seq], self.id_to_key[row.news_id] = row.news_id, row.seq
            vectors = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
            self._extend_table([r.news_id for r in rows], vectors)
            popularity = self._popularity([r.news_id for r in rows])
            self.popularity.update(zip([r.news_id for r in rows], popularity.tolist()))
            self.index.upsert(np.array([r.seq for r in rows]), np.hstack([vectors, popularity[:, None]]))
            self.last_news_seq = rows[-1].seq
            for state in self.users.values():
                if replaced.intersection(state.history):
                    state.vector = None  # a news vector in this history changed

    def _extend_table(self, ids: list[str], vectors: np.ndarray) -> None:
        """Replace known rows in place and append new ones in one concatenation."""
        table, new = self.ranker.table, []
        for news_id, vector in zip(ids, vectors):
            if news_id in table.row:
                table.vectors[table.row[news_id]] = torch.from_numpy(vector)
            else:
                table.row[news_id] = len(table.ids) + 1
                table.ids.append(news_id)
                new.append(vector)
        if new:
            table.vectors = torch.cat([table.vectors, torch.from_numpy(np.stack(new))])

    @torch.no_grad()
    def _popularity(self, ids: list[str]) -> np.ndarray:
        features = torch.from_numpy(self.ranker.stats.features(ids))[None]
        return self.ranker.model.popularity_score(features)[0].numpy()

    @staticmethod
    def _as_news(n) -> News:
        return News(n.news_id, n.title, n.category or "", n.subcategory or "", n.abstract or "")

    # --- users ------------------------------------------------------------------------------
    def add_events(self, events: list[repo.EventRecord]) -> tuple[int, list[str]]:
        """Store events once each; returns (stored, duplicate event ids). Unknown news ids raise."""
        self.sync_news()
        unknown = {e.news_id for e in events} - set(self.news)
        if unknown:
            with self.sessions() as session:  # maybe posted to another worker a moment ago
                unknown -= repo.known_news_ids(session, unknown)
        if unknown:
            raise UnknownNewsError(list(unknown))
        first: dict[str, repo.EventRecord] = {}
        repeats = [e.event_id for e in events if e.event_id in first or first.setdefault(e.event_id, e) is not e]
        with self.sessions.begin() as session:
            duplicates = repo.add_events(session, list(first.values()))
        return len(first) - len(duplicates), repeats + duplicates

    def set_interests(self, user_id: str, text: str) -> None:
        with self.sessions.begin() as session:
            repo.set_interests(session, user_id, text)

    def forget(self, user_id: str) -> dict[str, int]:
        """Erase the user: stored rows and this worker's cached state and vector."""
        with self.sessions.begin() as session:
            removed = repo.delete_user(session, user_id)
        with self._lock:
            self.users.pop(user_id, None)
        return removed

    def _sync_user(self, user_id: str) -> UserState:
        """Apply the user's events written since this worker last saw them (any worker)."""
        with self._lock, self.sessions() as session:
            state = self.users.setdefault(user_id, UserState())
            events = repo.events_since(session, user_id, state.last_seq)
            interests = repo.get_interests(session, user_id)
            if interests != state.interests:
                state.interests, state.vector = interests, None
            if not events:
                return state
            max_history = self.ranker.config.max_history
            for e in events:
                state.seen.add(e.news_id)
                if e.type in POSITIVE_EVENTS and e.news_id in self.news:
                    if e.news_id in state.history:
                        state.history.remove(e.news_id)
                    state.history.append(e.news_id)
                    while len(state.history) > max_history:
                        state.history.popleft()
                if e.type == "comment" and e.text:
                    state.comments.append(e.text)
            state.last_seq, state.vector = events[-1].seq, None
            return state

    def interest_text(self, state: UserState) -> str:
        return " ".join([state.interests or "", *state.comments]).strip()

    @torch.no_grad()
    def _query(self, state: UserState) -> np.ndarray:
        """[s W u, 1]: the user's query vector against [n, pop(n)] (computed once per change)."""
        if state.vector is None:
            model = self.ranker.model
            batch = make_batch([Row(list(state.history), [])], self.ranker.table, None, self.ranker.config.max_history)
            _, history = batch.vectors(self.ranker.table)
            text = self.interest_text(state)
            text_vector = self.ranker.encode_texts([text]) if text else None
            user = model.user_vector(history, batch.history_mask, text_vector, TEXT_WEIGHT)[0]
            state.vector = np.append((model.log_scale.exp() * model.apply_w(user)).numpy(), 1.0).astype(np.float32)
            # n . (W h) for every history item h: the facts behind each explanation
            state.history_matrix = model.apply_w(history[0]).numpy()
            state.text_vector = None if text_vector is None else text_vector[0].numpy()
        return state.vector

    def _reason(self, state: UserState, news_id: str) -> Reason:
        n = self.ranker.table.vectors[self.ranker.table.row[news_id]].numpy()
        history = list(state.history)  # aligned with history_matrix's rows
        matched = []
        if history:
            match = state.history_matrix[: len(history)] @ n
            best = int(np.argmax(match))
            matched = [(history[best], float(match[best]))]
        topics = []
        if state.text_vector is not None and state.interests:
            topics = [(state.interests, float(state.text_vector @ n))]
        return Reason(matched, self.popularity.get(news_id, 0.0), topics)

    # --- recommendations --------------------------------------------------------------------
    def recommend(self, user_id: str, k: int = 10, now: datetime | None = None) -> list[Recommendation]:
        """Top-k fresh news the user has not seen, with a grounded one-line explanation."""
        self.sync_news()
        state = self._sync_user(user_id)
        query = self._query(state)
        cutoff = (now or datetime.now(timezone.utc)) - self.recency
        want = k + len(state.seen) + 32
        while True:
            scores, keys = self.index.search(query, want)
            picked = [
                (self.key_to_id[key], float(s)) for s, key in zip(scores, keys)
                if key in self.key_to_id and self.key_to_id[key] not in state.seen
                and self.published[self.key_to_id[key]] >= cutoff
            ][:k]
            if len(picked) == k or want >= len(self.index):
                break
            want *= 4  # many were read or stale: look deeper
        return [
            Recommendation(news_id, self.news[news_id].title, score, self._reason(state, news_id).sentence(self.news))
            for news_id, score in picked
        ]

    def profile(self, user_id: str) -> dict:
        self.sync_news()
        state = self._sync_user(user_id)
        categories: dict[str, int] = {}
        for news_id in state.history:
            cat = self.news[news_id].category or "uncategorised"
            categories[cat] = categories.get(cat, 0) + 1
        return {
            "user_id": user_id,
            "interests": state.interests,
            "history": list(state.history),
            "events_seen": len(state.seen),
            "top_categories": sorted(categories, key=lambda c: -categories[c])[:5],
            "recent_comments": list(state.comments),
        }
