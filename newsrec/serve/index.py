"""Vector indexes for candidate retrieval, behind one interface.

Items are (int64 key, vector) pairs; `search` returns the keys with the largest inner product.
`FaissIndex` lives in process: exact (flat) search up to `approximate_above` items, an IVF
index past that. `MilvusIndex` hands the vectors to Milvus (embedded milvus-lite for one
machine, a Milvus server beyond it).
"""

from __future__ import annotations

import logging
from typing import Protocol

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
    def __init__(self, dim: int, approximate_above: int = 50_000, nlist: int = 1024, nprobe: int = 32):
        import faiss

        self._faiss = faiss
        self.dim, self.approximate_above, self.nlist, self.nprobe = dim, approximate_above, nlist, nprobe
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.exact = True

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        self.remove(keys)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), keys)
        if self.exact and self._index.ntotal > self.approximate_above:
            self._to_approximate()

    def remove(self, keys: np.ndarray) -> None:
        self._index.remove_ids(np.asarray(keys, dtype=np.int64))

    def _to_approximate(self) -> None:
        """Past the size limit: move every vector into an IVF index (trained on them)."""
        faiss = self._faiss
        flat = self._index
        ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
        vectors = flat.index.reconstruct_n(0, flat.ntotal)
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, self.nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(vectors)
        ivf.nprobe = self.nprobe
        ivf.add_with_ids(vectors, ids)
        self._index, self.exact = ivf, False
        logger.info("vector index: %d items, switched to approximate IVF search (nprobe %d)", len(ids), self.nprobe)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self._index.ntotal)
        if k == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores, keys = self._index.search(np.asarray(query, dtype=np.float32)[None, :], k)
        found = keys[0] >= 0
        return scores[0][found], keys[0][found]

    def __len__(self) -> int:
        return self._index.ntotal


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


def make_index(kind: str, dim: int, approximate_above: int = 50_000, milvus_uri: str | None = None) -> VectorIndex:
    if kind == "faiss":
        return FaissIndex(dim, approximate_above)
    if kind == "milvus":
        if not milvus_uri:
            raise ValueError("--index milvus needs --milvus-uri (a .db file for milvus-lite, or a server URL)")
        return MilvusIndex(dim, milvus_uri)
    raise ValueError(f"unknown index {kind!r}: choose faiss or milvus")
