"""Vector indexes for candidate retrieval, behind one interface.

Items are (int64 key, vector) pairs; `search` returns the keys with the largest inner product.
`FaissIndex` lives in process: exact search (NumPy/BLAS) up to `approximate_above` items, a
FAISS IVF index past that. `MilvusIndex` hands the vectors to Milvus (embedded milvus-lite for one
machine, a Milvus server beyond it).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np

__all__ = ["VectorIndex", "FaissIndex", "MilvusIndex", "make_index"]

logger = logging.getLogger(__name__)


class VectorIndex(Protocol):
    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add items (keys (N,) int64, vectors (N, D) float32), replacing those with the same keys."""

    def remove(self, keys: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product for one query (D,): (scores (k,), keys (k,)), best first."""

    def __len__(self) -> int: ...


class FaissIndex:
    """In process: exact search up to `approximate_above` items, a FAISS IVF index past that.

    The exact part is a NumPy matrix and one matrix-vector product per query: for a single query
    BLAS's GEMV is 3-4x faster than FAISS's flat search here (bench/retrieval.py).
    """

    def __init__(self, dim: int, approximate_above: int = 100_000, nlist: int = 1024, nprobe: int = 64):
        self.dim, self.approximate_above, self.nlist, self.nprobe = dim, approximate_above, nlist, nprobe
        self._vectors = np.zeros((1024, dim), np.float32)  # rows past self._size are spare capacity
        self._keys = np.zeros(1024, np.int64)
        self._row: dict[int, int] = {}  # key -> row
        self._size = 0
        self._ivf: Any = None  # the FAISS IVF index once past approximate_above

    @property
    def exact(self) -> bool:
        return self._ivf is None

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self.exact:
            self._ivf.remove_ids(keys)
            self._ivf.add_with_ids(vectors, keys)
            return
        for key, vector in zip(keys.tolist(), vectors):
            row = self._row.get(key)
            if row is None:
                row = self._row[key] = self._size
                self._size += 1
                if row == len(self._keys):  # full: double the capacity (amortised O(1) appends)
                    self._vectors = np.concatenate([self._vectors, np.zeros_like(self._vectors)])
                    self._keys = np.concatenate([self._keys, np.zeros_like(self._keys)])
                self._keys[row] = key
            self._vectors[row] = vector
        if self._size > self.approximate_above:
            self._to_approximate()

    def remove(self, keys: np.ndarray) -> None:
        if not self.exact:
            self._ivf.remove_ids(np.asarray(keys, dtype=np.int64))
            return
        for key in np.asarray(keys, dtype=np.int64).tolist():
            row = self._row.pop(key, None)
            if row is None:
                continue
            last = self._size - 1  # the last row fills the hole
            if row != last:
                self._vectors[row], self._keys[row] = self._vectors[last], self._keys[last]
                self._row[int(self._keys[row])] = row
            self._size = last

    def _to_approximate(self) -> None:
        """Past the size limit: move every vector into an IVF index (trained on them)."""
        import faiss

        vectors, keys = self._vectors[: self._size], self._keys[: self._size]
        nlist = max(1, min(self.nlist, len(vectors) // 39))  # k-means wants >= 39 training points per list
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(vectors)
        ivf.nprobe = min(self.nprobe, nlist)
        ivf.add_with_ids(vectors, keys)
        self._ivf = ivf
        self._vectors, self._keys, self._row, self._size = (
            np.zeros((0, self.dim), np.float32),
            np.zeros(0, np.int64),
            {},
            0,
        )
        logger.info(
            "vector index: %d items, switched to approximate IVF search (%d lists, nprobe %d)",
            ivf.ntotal,
            nlist,
            ivf.nprobe,
        )

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self))
        if k == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        query = np.asarray(query, dtype=np.float32)
        if not self.exact:
            scores, keys = self._ivf.search(query[None, :], k)
            found = keys[0] >= 0
            return scores[0][found], keys[0][found]
        scores = self._vectors[: self._size] @ query
        top = np.argpartition(scores, self._size - k)[self._size - k :]  # the k largest, unordered
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top], self._keys[top]

    def __len__(self) -> int:
        return self._size if self.exact else self._ivf.ntotal


class MilvusIndex:
    """Milvus through pymilvus; `uri` a local file for the embedded milvus-lite, or a server URL."""

    def __init__(self, dim: int, uri: str, collection: str = "news"):
        from pymilvus import MilvusClient

        self.dim, self.collection = dim, collection
        self._client = MilvusClient(uri)
        if self._client.has_collection(collection):
            self._client.drop_collection(collection)  # the database is the truth: rebuilt at start
        self._client.create_collection(collection, dimension=dim, metric_type="IP", auto_id=False)
        self._count = 0

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        rows = [{"id": int(k), "vector": v.astype(np.float32).tolist()} for k, v in zip(keys, vectors)]
        self._client.upsert(self.collection, rows)
        self._count = self._client.get_collection_stats(self.collection)["row_count"]

    def remove(self, keys: np.ndarray) -> None:
        self._client.delete(self.collection, ids=[int(k) for k in keys])

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        hits = self._client.search(self.collection, [np.asarray(query, np.float32).tolist()], limit=k)[0]
        return np.array([h["distance"] for h in hits], np.float32), np.array([h["id"] for h in hits], np.int64)

    def __len__(self) -> int:
        return self._count


def make_index(
    kind: str, dim: int, approximate_above: int = 100_000, milvus_uri: str | None = None, name: str = "news"
) -> VectorIndex:
    """An empty index of `kind`; `name` keeps the collections of several served models apart in Milvus."""
    if kind == "faiss":
        return FaissIndex(dim, approximate_above)
    if kind == "milvus":
        if not milvus_uri:
            raise ValueError("--index milvus needs --milvus-uri (a .db file for milvus-lite, or a server URL)")
        return MilvusIndex(dim, milvus_uri, name)
    raise ValueError(f"unknown index {kind!r}: choose faiss or milvus")
