"""One worker's catalogue of one served model: news, their vectors, live popularity, an index.

The news vectors are the machine's one shared copy (`news_snapshot.py`: built from the store by
the first worker, mapped by all); this catalogue adds, per worker, the news posted since, each
row's live popularity term and publication time, and an index over those rows (`index.py`).
A search with a user's `query_vector` ranks exactly by the model's score at time t (or by the
IVF approximation of it past `lists_above` news).

Popularity moves with the traffic: an item with new views or clicks gets its term rewritten at
once, and every term is refreshed when the last full refresh is older than `refresh_seconds`
(decay and age move all items a little, continuously). Traffic from before the model's training
logs end is already in their counts and is not counted again. `scores` computes the model's
score at any moment for given candidates, without the index.

A catalogue owns its news table (`table`: the loaded `Ranker` is never changed) and hands it
to scoring explicitly. It follows the news and tally feeds itself (`catch_up`, its own
`ChangeFeed`), so one for a newly deployed model can catch up in the background while another
serves. News rows carry the
vector of the model that posted them and its `vector_id`; a model that reads news otherwise
(another encoder, other fields or script) encodes the text again.

Guarded by a readers-writer lock: searches run together (BLAS releases the GIL), changes alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime

import numpy as np
import torch
from sqlalchemy.orm import Session

from newsrec.data.mind import News, epoch_seconds
from newsrec.data.popularity import Popularity
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import NewsTable
from newsrec.models.ranker import Ranker
from newsrec.service.change_feed import ChangeFeed, Heads
from newsrec.service.index import Items, VectorIndex
from newsrec.service.news_snapshot import NewsSnapshot, Snapshots
from newsrec.service.rwlock import ReadWriteLock
from newsrec.store.models import NewsRow, TallyRow

__all__ = ["Catalogue", "CatalogueNews"]


class Catalogue:
    def __init__(
        self,
        ranker: Ranker,
        make_index: Callable[[Items], VectorIndex],
        snapshots: Snapshots,
        refresh_seconds: float = 300.0,
        cache: EmbeddingCache | None = None,
    ):
        self.ranker, self.make_index, self.snapshots = ranker, make_index, snapshots
        self.refresh_seconds, self.cache = refresh_seconds, cache
        self.feed = ChangeFeed("news", "tallies")
        self.table = NewsTable([], np.zeros((0, ranker.model.item_dim - 1), np.float32))  # the snapshot's, once started
        self.news: Mapping[str, News] = {}  # title, url and category of each news item, once started
        self.published = np.zeros(1)  # by table row: seconds since the epoch
        self.items: Items | None = None
        self.index: VectorIndex | None = None
        self.popularity: Popularity = ranker.popularity.copy()  # the training logs' counts, then the traffic
        self.counted_until = ranker.popularity.end  # the training logs' end: older traffic is in them
        self.refreshed_at = -math.inf  # when every row's popularity was last recomputed
        self.lock = ReadWriteLock()

    def catch_up(self, session: Session, now: float, heads: Heads | None = None) -> set[str]:
        """Apply the news and tallies written since this catalogue last looked, in chunks;
        returns the ids of news that replaced older versions. `heads` (`feeds.heads`, read
        just before) spares the queries of feeds that did not move."""
        if self.index is None:
            self._start(session, now)
        replaced = self._follow_news(session, now, heads)
        assert self.items is not None
        if self.snapshots.due(self.items.listed, len(self.items) - self.items.listed, self.items.lists is not None):
            self._start(session, now)  # a new snapshot holds the news since (in list order past lists_above)
            replaced |= self._follow_news(session, now)
        self.count_traffic(self.feed.rows(session, "tallies", heads), now)
        return replaced

    def _follow_news(self, session: Session, now: float, heads: Heads | None = None) -> set[str]:
        """Add the news stored after the cursor; the ids that replaced older versions."""
        replaced: set[str] = set()
        for rows in self.feed.chunks(session, "news", heads):
            replaced |= self.add_news(rows, now)
        return replaced

    def _start(self, session: Session, now: float) -> None:
        """Map the stored news (the machine's snapshot, built if need be); the feed follows from its end.
        Also while serving, when the news since the snapshot are many: this worker's sync waits
        for the build (about 20 s at 100,000 news), the other workers then map what it built."""
        dim = self.ranker.model.item_dim - 1
        snapshot = self.snapshots.open(session, self.ranker.vector_id, dim, self._encode)
        with self.lock.writing():
            table = self.table = NewsTable.over(list(snapshot.ids), snapshot.vectors)  # its own ids: it grows
            self.published = np.zeros(len(snapshot.vectors))
            self.published[: len(snapshot) + 1] = snapshot.published
            self.items = Items(table, np.zeros(len(snapshot.vectors), np.float32), snapshot.lists, len(snapshot))
            self.news = CatalogueNews(snapshot, table)
            self.index = self.make_index(self.items)
            self.feed.skip_to("news", snapshot.through)
            timed = np.flatnonzero(~np.isnan(snapshot.released[1:]))  # the model's ages count from these
            self.popularity.publish([snapshot.ids[i] for i in timed.tolist()], snapshot.released[1 + timed].tolist())
            self._write_rows(table.ids, now)
            self.refreshed_at = now

    def _encode(self, rows: Sequence[NewsRow]) -> np.ndarray:
        return self.ranker.encode_news([r.as_news() for r in rows], self.cache)

    def add_news(self, rows: Sequence[NewsRow], now: float) -> set[str]:
        """Index news rows (new or replaced); returns the ids that replaced older versions."""
        assert self.items is not None and isinstance(self.news, CatalogueNews), "catch_up starts the catalogue"
        vectors = self._vectors(rows)  # before the lock: encoding other encoders' news takes time
        table = self.table
        with self.lock.writing():
            replaced = {r.news_id for r in rows if r.news_id in table}
            ids = [r.news_id for r in rows]
            table.upsert(ids, vectors)
            self._fit(len(table) + 1)
            for row, news in zip(table.rows(ids), rows):
                self.published[row] = epoch_seconds(news.published_at or news.updated_at)
                if news.published_at is not None:
                    self.popularity.publish([news.news_id], [epoch_seconds(news.published_at)])
                self.news.add(news.as_news())
                if news.news_id in replaced:
                    self.items.moved.add(row)
            self._write_rows(ids, now)
        return replaced

    def _fit(self, rows: int) -> None:
        """Room in the per-row arrays for `rows` rows (doubling: amortised O(1) per news item)."""
        assert self.items is not None
        if rows > len(self.published):
            size = max(rows, 2 * len(self.published))
            self.published = np.concatenate([self.published, np.zeros(size - len(self.published))])
            grown = np.zeros(size, np.float32)
            grown[: len(self.items.popularity)] = self.items.popularity
            self.items.popularity = grown

    def _vectors(self, rows: Sequence[NewsRow]) -> np.ndarray:
        """(N, D) this model's vectors of the rows: stored ones where it would compute the same."""
        redo = [r for r in rows if r.encoder_id != self.ranker.vector_id]
        fresh = dict(zip([r.news_id for r in redo], self._encode(redo))) if redo else {}
        return np.stack([fresh[r.news_id] if r.news_id in fresh else np.frombuffer(r.vector, np.float32) for r in rows])

    def count_traffic(self, tallies: Sequence[TallyRow], now: float) -> None:
        """Add views and clicks to live popularity; rewrite the terms of the items they touch (all
        of them when the last full refresh is older than `refresh_seconds`)."""
        stale = now - self.refreshed_at > self.refresh_seconds
        if not tallies and not stale:
            return
        with self.lock.writing():
            touched: set[str] = set()
            for tally in tallies:
                at = epoch_seconds(tally.ts)
                if at <= self.counted_until:
                    continue
                views, clicks = float(tally.kind == "view"), float(tally.kind == "click")
                for news_id in tally.news_ids.split():
                    self.popularity.add(news_id, at, views=views, clicks=clicks)
                    touched.add(news_id)
            table = self.table
            changed = table.ids if stale else [i for i in touched if i in table]
            if changed:
                self._write_rows(changed, now)
            if stale:
                self.refreshed_at = now

    @torch.no_grad()
    def popularity_terms(self, ids: Sequence[str], at: float) -> np.ndarray:
        """(N,) the popularity part of each item's score at `at` (call under `lock`)."""
        features = torch.from_numpy(self.popularity.features(ids, at))
        return self.ranker.model.popularity_score(features).numpy()

    def scores(self, ids: Sequence[str], query: np.ndarray, at: float) -> np.ndarray:
        """(N,) the model's score of each candidate for this query at `at`."""
        with self.lock.reading():
            return self.item_vectors(ids, at) @ query

    @torch.no_grad()
    def item_vectors(self, ids: Sequence[str], at: float) -> np.ndarray:
        """(N, D + 1): the model's item_vector of each news item with its popularity at `at`."""
        vectors = self.table.vectors[self.table.rows(ids)]
        features = torch.from_numpy(self.popularity.features(ids, at))
        return self.ranker.model.item_vector(vectors, features).numpy()

    def _write_rows(self, ids: Sequence[str], at: float) -> None:
        """Set the popularity term of these news at `at` and tell the index."""
        assert self.items is not None and self.index is not None
        rows = np.array(self.table.rows(ids), np.int64)
        self.items.popularity[rows] = self.popularity_terms(ids, at)
        self.index.write(rows)

    def search(
        self, requests: Sequence[tuple[np.ndarray, AbstractSet[str], int]], cutoff: datetime
    ) -> list[list[tuple[str, float]]]:
        """For each (query, seen, k): the k best news not in `seen` published after `cutoff`, by the
        model's score, all queries in one index call (call under `lock`)."""
        assert self.index is not None
        ids, oldest = self.table.ids, cutoff.timestamp()
        wants = [k + len(seen) + 32 for _, seen, k in requests]
        answers: list[list[tuple[str, float]]] = [[] for _ in requests]
        todo = list(range(len(requests)))
        while todo:
            found = self.index.search_many([(requests[i][0], wants[i]) for i in todo])
            deeper = []
            for i, (scores, rows) in zip(todo, found, strict=True):
                _, seen, k = requests[i]
                answers[i] = [
                    (ids[row - 1], float(score))
                    for score, row in zip(scores, rows.tolist())
                    if ids[row - 1] not in seen and self.published[row] >= oldest
                ][:k]
                if len(answers[i]) < k and wants[i] < len(self.index):
                    wants[i] *= 4  # many were read or stale: look deeper
                    deeper.append(i)
            todo = deeper
        return answers

    def unknown(self, news_ids: Iterable[str]) -> set[str]:
        with self.lock.reading():
            return {i for i in news_ids if i not in self.table}


class CatalogueNews(Mapping[str, News]):
    """Title, url and category of each served news item, what answers and reasons quote: the
    snapshot's (mapped, shared) for its rows, this worker's for news posted since."""

    def __init__(self, snapshot: NewsSnapshot, table: NewsTable):
        self._snapshot, self._table = snapshot, table
        self._later: dict[str, News] = {}

    def add(self, news: News) -> None:
        self._later[news.news_id] = News(news.news_id, news.title, news.category, news.subcategory, "", news.url)

    def __getitem__(self, news_id: str) -> News:
        if (news := self._later.get(news_id)) is not None:
            return news
        row = self._table.row.get(news_id)
        if row is None or row > len(self._snapshot):
            raise KeyError(news_id)
        category = self._snapshot.categories[self._snapshot.category_codes[row - 1]]
        return News(news_id, self._snapshot.titles[row - 1], category, "", "", self._snapshot.urls[row - 1])

    def __contains__(self, news_id: object) -> bool:
        return news_id in self._table.row

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.ids)

    def __len__(self) -> int:
        return len(self._table)
