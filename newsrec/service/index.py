"""Candidate retrieval over a catalogue's own rows, behind one interface.

An item's vector is the model's item side `[n, g(pop)]`: the news vector `n` (a row of the news
table, mapped from the machine's one shared copy: `news_snapshot.py`) and its popularity term
(one float per row, this worker's live counts). A query `q = [s W u, 1]` scores
`q[:D] . n + q[D] g(pop)`, the model's own score.

`SharedIndex` reads those arrays in place:
- exact up to the snapshot's `lists_above` news: one matrix product over every row for all the
  queries of a batch (`search_many`: B queries read the vectors once, not B times).
  Where torch has fbgemm (x86), the product reads this worker's fp16 copy of the rows
  (`HalfCopy`, half the bytes) and gives each row's score within a bound of the rounding; the
  rows that the bound cannot rule out of the top k are scored again from the fp32 rows, so the
  answer is the exact search's, 3-4x faster for a handful of queries;
- past that, approximate: the content part from the snapshot's IVF lists (the `probe_share` of
  them nearest the query, each a contiguous slice of the same vectors), the popularity part from the
  `popular` rows with the largest term (a query of weak interests is ranked by popularity, which
  no content list holds), plus rows the lists do not cover (news posted or replaced since the
  snapshot); all of them scored exactly.
`MilvusIndex` copies the item vectors into Milvus (milvus-lite in a file, or a server).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from newsrec.encoders.news_table import NewsTable
from newsrec.service.ivf_lists import IvfLists

__all__ = ["Items", "VectorIndex", "SharedIndex", "HalfCopy", "MilvusIndex", "make_index"]

logger = logging.getLogger(__name__)
POPULAR_REFRESH_SECONDS = 1.0  # the popular rows are recomputed at most this often after writes
COPY_BEHIND = 0.05  # the fp16 copy is made again when the rows posted since it pass this share of it


@dataclass
class Items:
    """What a search reads, by news-table row (row 0 is padding)."""

    table: NewsTable
    popularity: np.ndarray  # (capacity,) float32: each row's g(pop) as last written
    lists: IvfLists | None = None  # rows 1..listed are in these lists
    listed: int = 0
    moved: set[int] = field(default_factory=set)  # rows whose vector changed since the snapshot (lists, copies)

    def vectors(self) -> np.ndarray:
        """(N + 1, D) the news vectors, row 0 padding (a view: no copy)."""
        return self.table.vectors.numpy()

    def unlisted(self) -> np.ndarray:
        """Rows no IVF list covers well: posted after the snapshot, or replaced since."""
        past = np.arange(self.listed + 1, len(self.table) + 1)
        return np.concatenate([past, np.fromiter(self.moved, np.int64, len(self.moved))])

    def __len__(self) -> int:
        return len(self.table)


class VectorIndex(Protocol):
    def write(self, rows: np.ndarray) -> None:
        """These rows are new, or their vector or popularity changed (already set in `Items`)."""

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by the model's score for one query (D + 1,): (scores (k,), rows (k,)), best first."""

    def search_many(self, requests: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search` for each (query, k), at once where the index can (a batch of requests)."""

    def __len__(self) -> int: ...


class HalfCopy:
    """Rows 1..P of the news vectors in fp16, packed for fbgemm's matrix product (fp32 queries,
    fp32 sums): B queries read 2 bytes per number instead of 4, in one pass.

    A row's rough score differs from its fp32 score by at most `slack`: |q . (v - v16)| <=
    |q| |v - v16| (the rounding of a row, measured here; the largest of any row is kept) plus
    the summation's rounding error, bounded by D 2^-23 |q| |v16|.
    """

    def __init__(self, vectors: np.ndarray):
        rows = torch.from_numpy(np.ascontiguousarray(vectors))
        self.packed = torch.ops.quantized.linear_prepack_fp16(rows, None)
        self.rows, self.error = len(vectors), 0.0  # error: the largest slack per unit of |q|
        for start in range(0, self.rows, 65_536):  # a slice at a time: no second fp32 copy of them all
            part = rows[start : start + 65_536]
            rounded = part.half().float()  # fbgemm rounds to nearest, as this does
            rounding = torch.linalg.vector_norm(part - rounded, dim=1)
            summing = vectors.shape[1] * 2.0**-23 * torch.linalg.vector_norm(rounded, dim=1)
            self.error = max(self.error, float((rounding + summing).max()))

    @staticmethod
    def of(vectors: np.ndarray) -> HalfCopy | None:
        """The copy, or None where torch was built without fbgemm (the fp32 rows are scanned then)."""
        try:
            return HalfCopy(vectors)
        except RuntimeError as e:
            logger.info("no fp16 copy of the news vectors (%s): exact search scans the fp32 rows", e)
            return None

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """(B, P) rough scores of B content queries (B, D)."""
        return torch.ops.quantized.linear_dynamic_fp16(torch.from_numpy(queries), self.packed).numpy()

    def slack(self, query: np.ndarray) -> float:
        """How far any row's rough score may be from its fp32 score for this query."""
        return float(np.linalg.norm(query)) * self.error * 1.01 + 1e-6


class SharedIndex:
    def __init__(self, items: Items, probe_share: float = 1 / 16, popular: int = 1024):
        self.items, self.probe_share, self.popular = items, probe_share, popular
        self._popular_rows = np.zeros(0, np.int64)
        self._popular_at = -np.inf  # when `_popular_rows` was computed; -inf: stale
        self._copy: HalfCopy | None = None
        self._copyable = True  # False once torch said it has no fbgemm
        if self.exact:  # made now, while the worker starts: not by the first requests, which would wait
            self._half_copy()

    @property
    def exact(self) -> bool:
        return self.items.lists is None

    def write(self, rows: np.ndarray) -> None:
        self._popular_at = min(self._popular_at, time.monotonic() - POPULAR_REFRESH_SECONDS)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.search_many([(query, k)])[0]

    def search_many(self, requests: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        if len(self) == 0:
            return [(np.zeros(0, np.float32), np.zeros(0, np.int64))] * len(requests)
        requests = [(np.asarray(query, dtype=np.float32), min(k, len(self))) for query, k in requests]
        return self._exact(requests) if self.exact else [self._approximate(query, k) for query, k in requests]

    def _exact(self, requests: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every row scored for every request of the batch in one product: the vectors are read once."""
        queries = np.stack([query for query, _ in requests])
        copy = self._half_copy()
        if copy is None:
            n = len(self.items)
            scores = self.items.vectors()[1 : n + 1] @ queries[:, :-1].T  # (N, B): 1.6x faster here than (B, N)
            scores += self.items.popularity[1 : n + 1, None] * queries[:, -1]
            return [_top(np.ascontiguousarray(scores[:, b]), k, first_row=1) for b, (_, k) in enumerate(requests)]
        rough = copy.scores(queries[:, :-1])
        stale = np.fromiter((r for r in self.items.moved if r <= copy.rows), np.int64)  # replaced since the copy
        return [self._refine(copy, rough[b], stale, query, k) for b, (query, k) in enumerate(requests)]

    def _half_copy(self) -> HalfCopy | None:
        """The fp16 copy, made again when the rows posted since it are many (they are scored exactly)."""
        n, copy = len(self.items), self._copy
        if self._copyable and (copy is None or n - copy.rows > COPY_BEHIND * copy.rows):
            self._copy = HalfCopy.of(self.items.vectors()[1 : n + 1])
            self._copyable = self._copy is not None
        return self._copy

    def _refine(
        self, copy: HalfCopy, rough: np.ndarray, stale: np.ndarray, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The exact top k of one query, from its rough scores over the copy's rows.

        With `floor` the k-th largest rough score of the copy's current rows, less the slack, a
        row whose rough score plus the slack is below it has k rows surely above it: only the
        others, the rows replaced since the copy and those posted after it are scored from the
        fp32 rows."""
        items, n, content = self.items, len(self.items), query[:-1]
        if k > copy.rows - len(stale) or not content.any():
            return self._scan_one(query, k)
        estimate = rough + query[-1] * items.popularity[1 : copy.rows + 1]
        estimate[stale - 1] = -np.inf
        slack = copy.slack(content)
        floor = np.partition(estimate, copy.rows - k)[copy.rows - k] - slack
        passed = np.flatnonzero(estimate >= floor - slack) + 1
        if len(passed) > n // 4:  # the bound rules out little (near-equal scores): scanning is cheaper
            return self._scan_one(query, k)
        rows = np.concatenate([np.union1d(passed, stale), np.arange(copy.rows + 1, n + 1)])
        scores = items.vectors()[rows] @ content + query[-1] * items.popularity[rows]
        best, at = _top(scores, k)
        return best, rows[at]

    def _scan_one(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.items)
        scores = query[-1] * self.items.popularity[1 : n + 1]
        if query[:-1].any():  # a query without content (a user of no history or interests) is popularity alone
            scores += self.items.vectors()[1 : n + 1] @ query[:-1]
        return _top(scores, k, first_row=1)

    def _approximate(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        lists, items, content = self.items.lists, self.items, query[:-1]
        assert lists is not None
        nearest = lists.centroids @ content
        nprobe = min(len(nearest), math.ceil(self.probe_share * len(nearest)))
        probe = np.argpartition(-nearest, nprobe - 1)[:nprobe]
        vectors, popularity = items.vectors(), items.popularity
        rows, scores = [], []
        for j in probe.tolist():  # each list is a slice: scored in place, nothing gathered
            start, end = int(lists.starts[j]), int(lists.starts[j + 1])
            rows.append(np.arange(start, end))
            scores.append(vectors[start:end] @ content + query[-1] * popularity[start:end])
        extra = np.union1d(self._popular(), items.unlisted())
        in_probed = np.isin(np.searchsorted(lists.starts, extra, side="right") - 1, probe) & (extra <= items.listed)
        extra = extra[~in_probed]
        rows.append(extra)
        scores.append(vectors[extra] @ content + query[-1] * popularity[extra])
        all_scores, all_rows = np.concatenate(scores), np.concatenate(rows)
        best_scores, at = _top(all_scores, k)
        return best_scores, all_rows[at]

    def _popular(self) -> np.ndarray:
        """The `popular` rows with the largest popularity term (recomputed at most once a second)."""
        if time.monotonic() - self._popular_at >= POPULAR_REFRESH_SECONDS:
            terms = self.items.popularity[1 : len(self.items) + 1]
            self._popular_rows = 1 + _top(terms, min(self.popular, len(terms)))[1]
            self._popular_at = time.monotonic()
        return self._popular_rows

    def __len__(self) -> int:
        return len(self.items)


def _top(scores: np.ndarray, k: int, first_row: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(the k largest scores, their positions + first_row), best first."""
    k = min(k, len(scores))
    if k == 0:
        return scores[:0], np.zeros(0, np.int64)
    top = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
    top = top[np.argsort(-scores[top], kind="stable")]
    return scores[top], top + first_row


class MilvusIndex:
    """Milvus through pymilvus; `uri` a local file for the embedded milvus-lite, or a server URL."""

    def __init__(self, items: Items, uri: str, collection: str = "news"):
        from pymilvus import MilvusClient

        self.items, self.collection = items, collection
        self._client = MilvusClient(uri)
        if self._client.has_collection(collection):
            self._client.drop_collection(collection)  # the database is the truth: rebuilt at start
        dim = items.vectors().shape[1] + 1
        self._client.create_collection(collection, dimension=dim, metric_type="IP", auto_id=False)
        self._count = 0

    def write(self, rows: np.ndarray) -> None:
        vectors = np.hstack([self.items.vectors()[rows], self.items.popularity[rows, None]])
        for start in range(0, len(rows), 10_000):
            chunk = zip(rows[start : start + 10_000].tolist(), vectors[start : start + 10_000])
            self._client.upsert(self.collection, [{"id": r, "vector": v.astype(np.float32).tolist()} for r, v in chunk])
        self._count = self._client.get_collection_stats(self.collection)["row_count"]

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.search_many([(query, k)])[0]

    def search_many(self, requests: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        queries = [np.asarray(query, np.float32).tolist() for query, _ in requests]
        found = self._client.search(self.collection, queries, limit=max(k for _, k in requests))
        return [
            (np.array([h["distance"] for h in hits[:k]], np.float32), np.array([h["id"] for h in hits[:k]], np.int64))
            for hits, (_, k) in zip(found, requests, strict=True)
        ]

    def __len__(self) -> int:
        return self._count


def make_index(
    kind: str, items: Items, probe_share: float = 1 / 16, milvus_uri: str | None = None, name: str = "news"
) -> VectorIndex:
    """An index over `items`; `name` keeps the collections of several served models apart in Milvus."""
    if kind == "shared":
        return SharedIndex(items, probe_share)
    if kind == "milvus":
        if not milvus_uri:
            raise ValueError("--index milvus needs --milvus-uri (a .db file for milvus-lite, or a server URL)")
        return MilvusIndex(items, milvus_uri, name)
    raise ValueError(f"unknown index {kind!r}: choose shared or milvus")
