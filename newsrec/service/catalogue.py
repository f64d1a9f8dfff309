"""One worker's catalogue: news, their vectors in the index, and live popularity.

The index holds each news item's `item_vector(n, pop(n, t))`, the model's own item side, so a
search with a user's `query_vector` ranks exactly by the model's score at time t. Popularity
moves with the traffic: an item with new views or clicks gets its row rewritten at once, and
every row is refreshed when the last full refresh is older than `refresh_seconds` (decay and
age move all items a little, continuously). Traffic from before the model's training logs end
is already in their counts and is not counted again. `scores` computes the model's score at any moment
for given candidates, without the index.

A catalogue follows the news and tally feeds itself (`catch_up`, its own cursors), so one for a
newly deployed model can catch up in the background while another serves. News rows carry the
vector of the model that posted them and its `vector_id`; a model that reads news otherwise
(another encoder, other fields or script) encodes the text again.

Guarded by a readers-writer lock: searches run together (BLAS releases the GIL), changes alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone

import numpy as np
import torch
from sqlalchemy.orm import Session

from newsrec.data.mind import News
from newsrec.data.popularity import Popularity
from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.service.index import VectorIndex
from newsrec.service.rwlock import ReadWriteLock
from newsrec.store import repository as repo
from newsrec.store.models import NewsRow, TallyRow

__all__ = ["Catalogue", "feed_chunks", "as_news"]


class Catalogue:
    def __init__(
        self, ranker: Ranker, index: VectorIndex, refresh_seconds: float = 300.0, cache: EmbeddingCache | None = None
    ):
        self.ranker, self.index, self.refresh_seconds, self.cache = ranker, index, refresh_seconds, cache
        self.cursor = {"news": 0, "tallies": 0}  # the last seq applied of each feed
        self.news: dict[str, News] = {}
        self.published: dict[str, datetime] = {}
        self.key_to_id: dict[int, str] = {}
        self.id_to_key: dict[str, int] = {}
        self.popularity: Popularity = ranker.popularity.copy()  # the training logs' counts, then the traffic
        self.counted_until = ranker.popularity.end  # the training logs' end: older traffic is in them
        self.refreshed_at = -math.inf  # when every row's popularity was last recomputed
        self.lock = ReadWriteLock()

    def catch_up(self, session: Session, now: float) -> set[str]:
        """Apply the news and tallies written since this catalogue last looked, in chunks;
        returns the ids of news that replaced older versions."""
        replaced: set[str] = set()
        for rows in feed_chunks(session, repo.news_since, self.cursor, "news"):
            replaced |= self.add_news(rows, now)
        self.count_traffic(
            [t for rows in feed_chunks(session, repo.tallies_since, self.cursor, "tallies") for t in rows], now
        )
        return replaced

    def add_news(self, rows: Sequence[NewsRow], now: float) -> set[str]:
        """Index news rows (new or replaced); returns the ids that replaced older versions."""
        vectors = self._vectors(rows)  # before the lock: encoding other encoders' news takes time
        replaced = set()
        with self.lock.writing():
            for row in rows:
                old = self.id_to_key.pop(row.news_id, None)
                if old is not None:
                    self.index.remove(np.array([old]))
                    del self.key_to_id[old]
                    replaced.add(row.news_id)
                self.news[row.news_id] = as_news(row)
                published = row.published_at or row.updated_at
                self.published[row.news_id] = published if published.tzinfo else published.replace(tzinfo=timezone.utc)
                self.key_to_id[row.seq], self.id_to_key[row.news_id] = row.news_id, row.seq
            ids = [r.news_id for r in rows]
            self.ranker.table.upsert(ids, vectors)
            self._write_rows(ids, now)
        return replaced

    def _vectors(self, rows: Sequence[NewsRow]) -> np.ndarray:
        """(N, D) this model's vectors of the rows: stored ones where it would compute the same."""
        redo = [r for r in rows if r.encoder_id != self.ranker.vector_id]
        fresh = {}
        if redo:
            fresh = dict(
                zip([r.news_id for r in redo], self.ranker.encode_news([as_news(r) for r in redo], self.cache))
            )
        return np.stack([fresh[r.news_id] if r.news_id in fresh else np.frombuffer(r.vector, np.float32) for r in rows])

    def count_traffic(self, tallies: Sequence[TallyRow], now: float) -> None:
        """Add views and clicks to live popularity; rewrite the rows of the items they touch (all
        rows when the last full refresh is older than `refresh_seconds`)."""
        stale = now - self.refreshed_at > self.refresh_seconds
        if not tallies and not stale:
            return
        with self.lock.writing():
            touched: set[str] = set()
            for tally in tallies:
                at = _seconds(tally.ts)
                if at <= self.counted_until:
                    continue
                views, clicks = float(tally.kind == "view"), float(tally.kind == "click")
                for news_id in tally.news_ids.split():
                    self.popularity.add(news_id, at, views=views, clicks=clicks)
                    touched.add(news_id)
            changed = list(self.news) if stale else [i for i in touched if i in self.news]
            if changed:
                self._write_rows(changed, now)
            if stale:
                self.refreshed_at = now

    def popularity_terms(self, ids: Sequence[str], at: float) -> np.ndarray:
        """(N,) the popularity part of each item's score at `at` (call under `lock`)."""
        return self.item_vectors(ids, at)[:, -1]

    def scores(self, ids: Sequence[str], query: np.ndarray, at: float) -> np.ndarray:
        """(N,) the model's score of each candidate for this query at `at`."""
        with self.lock.reading():
            return self.item_vectors(ids, at) @ query

    @torch.no_grad()
    def item_vectors(self, ids: Sequence[str], at: float) -> np.ndarray:
        """(N, D + 1): the model's item_vector of each news item with its popularity at `at`."""
        vectors = self.ranker.table.vectors[self.ranker.table.rows(ids)]
        features = torch.from_numpy(self.popularity.features(ids, at))
        return self.ranker.model.item_vector(vectors, features).numpy()

    def _write_rows(self, ids: Sequence[str], at: float) -> None:
        self.index.upsert(np.array([self.id_to_key[i] for i in ids]), self.item_vectors(ids, at))

    def search(self, query: np.ndarray, seen: set[str], k: int, cutoff: datetime) -> list[tuple[str, float]]:
        """The k best unread news published after `cutoff`, by the model's score (call under `lock`)."""
        want = k + len(seen) + 32
        while True:
            scores, keys = self.index.search(query, want)
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

    def unknown(self, news_ids: Iterable[str]) -> set[str]:
        with self.lock.reading():
            return set(news_ids) - self.news.keys()


FEED_CHUNK = 10_000  # feed rows read at a time (bounded memory while catching up)


def feed_chunks(session: Session, since: Callable, cursor: dict[str, int], name: str) -> Iterator[list]:
    """Every row of one feed after `cursor[name]`, in chunks; the cursor moves past a chunk once
    the caller has applied it."""
    while True:
        rows = since(session, cursor[name], FEED_CHUNK)
        if rows:
            yield rows
            cursor[name] = rows[-1].seq
        if len(rows) < FEED_CHUNK:
            return


def as_news(n) -> News:
    return News(n.news_id, n.title, n.category or "", n.subcategory or "", n.abstract or "")


def _seconds(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
