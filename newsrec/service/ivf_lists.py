"""IVF lists over a news snapshot: k-means centres, and rows put in list order.

Past `Snapshots.lists_above` news the snapshot's rows are stored in list order, so each list is
one contiguous slice of the shared vector file and the approximate search (`index.py`) reads
the vectors themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsrec.service.file_maps import release
from newsrec.store.feeds import ROWS_PER_READ

__all__ = ["IvfLists", "list_count", "list_order"]

POINTS_PER_LIST = 64  # k-means training sample per list
CHUNK = ROWS_PER_READ  # rows assigned to lists at a time


@dataclass
class IvfLists:
    centroids: np.ndarray  # (L, D) k-means centres
    starts: np.ndarray  # (L + 1,) list j is table rows starts[j] .. starts[j + 1] - 1


def list_count(count: int) -> int:
    """IVF lists for `count` news: about 4 sqrt(N) (a power of two), at least 39 news each."""
    return int(max(1, min(count // 39, 2 ** round(np.log2(4 * np.sqrt(max(count, 1)))))))


def list_order(vectors: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row order by list, centroids (L, D), list starts as table rows (L + 1,)).

    Two-level k-means (FAISS) on a sample: sqrt(L) coarse centres, then each coarse cluster's
    share of the L lists inside it; rows go to the nearest list of their nearest coarse centre.
    (One flat k-means to 4,096 lists over 1M news takes minutes here; this takes seconds.)"""
    import faiss

    nlist, dim = list_count(count), vectors.shape[1]
    rng = np.random.default_rng(0)
    sample = np.ascontiguousarray(vectors[1 + np.sort(rng.choice(count, min(count, POINTS_PER_LIST * nlist), False))])
    coarse = faiss.Kmeans(dim, max(1, int(np.sqrt(nlist))), niter=20, seed=1, spherical=True)
    coarse.train(sample)
    assert coarse.centroids is not None  # set by train
    owner = coarse.index.search(sample, 1)[1][:, 0]
    sizes = np.bincount(owner, minlength=coarse.k)
    shares = np.maximum(1, np.floor(nlist * sizes / sizes.sum())).astype(int)  # lists per coarse centre
    fine = []
    for c in range(coarse.k):
        points = sample[owner == c]
        if len(points) <= shares[c]:  # too few to cluster: each point a centre (none: the coarse one)
            fine.append(points if len(points) else coarse.centroids[c : c + 1])
            continue
        km = faiss.Kmeans(dim, int(shares[c]), niter=20, seed=1, spherical=True)
        km.train(points)
        fine.append(km.centroids)
    centroids = np.vstack(fine).astype(np.float32)
    first = np.concatenate([[0], np.cumsum([len(f) for f in fine])])  # coarse c owns lists first[c]..first[c+1]-1
    assigned = np.empty(count, np.int64)
    for start in range(0, count, CHUNK):
        part = np.ascontiguousarray(vectors[1 + start : 1 + min(count, start + CHUNK)])
        near = coarse.index.search(part, 1)[1][:, 0]
        for c in np.unique(near):
            mine = np.flatnonzero(near == c)
            own = centroids[first[c] : first[c + 1]]
            assigned[start + mine] = first[c] + np.argmax(part[mine] @ own.T, axis=1)
        release(vectors)
    order = np.argsort(assigned, kind="stable")
    starts = 1 + np.concatenate([[0], np.cumsum(np.bincount(assigned, minlength=len(centroids)))])
    return order, centroids, starts
