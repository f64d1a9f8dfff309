"""Top-10 retrieval for one user over N news vectors: newsrec's index vs plain NumPy vs FAISS flat.

Vectors: unit vectors around 20 topic centres (like real news, they cluster), D = 384, made in
chunks from a fixed seed; queries are other such vectors. newsrec's path is the service's
`SharedIndex` with its defaults (exact up to 100,000 items, IVF lists past that). Each (size, method)
runs in a fresh process that builds its structure from the chunks (peak RSS reported), warms up
on 10 queries, then times --queries single-query searches (median); methods take turns for
--rounds rounds and report the median round. Recall@10 is against the exact NumPy answer.

Usage: python bench/retrieval.py [--sizes 10000 100000 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator

import numpy as np
from harness import in_fresh_process, table

DIM, K, CHUNK = 384, 10, 50_000
PEERS = ("NumPy matmul + argpartition", "FAISS IndexFlatIP")
NEWSREC = "newsrec SharedIndex"
APPROXIMATE_ABOVE = 100_000  # the service default
TARGET_RATIO = 1.2


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # NumPy 2: np.sqrt's float64 spreads


def world(n: int, queries: int) -> tuple[Iterator[np.ndarray], np.ndarray]:
    """(the news vectors in chunks, the queries): the same for every method of a size."""
    rng = np.random.default_rng(n)
    centres = rng.standard_normal((20, DIM), dtype=np.float32) / np.sqrt(DIM)
    chunk_rng = np.random.default_rng(n + 1)
    chunks = (clustered(min(CHUNK, n - start), chunk_rng, centres) for start in range(0, n, CHUNK))
    return chunks, clustered(queries, rng, centres)


def search_timed(method: str, n: int, queries: int) -> tuple[float, np.ndarray, bool]:
    """In a fresh process: (median ms per query, top-10 keys per query, exact?) for one method."""
    chunks, qs = world(n, queries)
    exact = True
    if method == PEERS[0]:
        vectors = np.empty((n, DIM), np.float32)
        for start, chunk in zip(range(0, n, CHUNK), chunks):
            vectors[start : start + len(chunk)] = chunk

        def search(q: np.ndarray) -> np.ndarray:
            scores = vectors @ q
            top = np.argpartition(-scores, K)[:K]
            return top[np.argsort(-scores[top])]
    elif method == PEERS[1]:
        import faiss

        flat = faiss.IndexFlatIP(DIM)
        for chunk in chunks:
            flat.add(chunk)
        search = lambda q: flat.search(q[None, :], K)[1][0]  # noqa: E731
    else:  # as a worker serves them: the snapshot's rows (IVF-list order past 100,000), no popularity
        from newsrec.encoders.news_table import NewsTable
        from newsrec.service.index import Items, SharedIndex
        from newsrec.service.ivf_lists import IvfLists, list_order

        vectors = np.zeros((n + 1, DIM), np.float32)
        for start, chunk in zip(range(0, n, CHUNK), chunks):
            vectors[1 + start : 1 + start + len(chunk)] = chunk
        items = Items(NewsTable.over([str(i) for i in range(n)], vectors), np.zeros(n + 1, np.float32))
        rows = np.arange(n)
        if n > APPROXIMATE_ABOVE:
            rows, centroids, starts = list_order(vectors, n)
            vectors[1:] = vectors[1:][rows]
            items.lists, items.listed = IvfLists(centroids, starts), n
        index = SharedIndex(items)
        search, exact = (lambda q: rows[index.search(np.append(q, 0.0), K)[1] - 1]), index.exact
    for q in qs[:10]:  # warm-up
        search(q)
    found, seconds = [], []
    for q in qs:
        started = time.perf_counter()
        found.append(search(q))
        seconds.append(time.perf_counter() - started)
    return 1000 * statistics.median(seconds), np.stack(found), exact


def report(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000), queries: int = 200, rounds: int = 3) -> str:
    """Methods take turns for `rounds` rounds (a fresh process each): a method's figure is the median
    of its rounds, since a memory-bound scan varies by +-20% from one process to the next."""
    rows, verdicts = [], []
    for n in sizes:
        runs = {m: [] for m in (*PEERS, NEWSREC)}
        for _ in range(rounds):
            for method in runs:
                runs[method].append(in_fresh_process(search_timed, method, n, queries))
        measured = {
            m: ((statistics.median(ms for (ms, _, _), _ in r), r[0][0][1], r[0][0][2]), max(rss for _, rss in r))
            for m, r in runs.items()
        }
        truth = measured[PEERS[0]][0][1]
        best_peer = min(measured[m][0][0] for m in PEERS)
        for method, ((ms, found, exact), rss) in measured.items():
            recall = np.mean([len(set(f) & set(t)) / K for f, t in zip(found.tolist(), truth.tolist())])
            label = f"{method} ({'exact' if exact else 'IVF'})" if method == NEWSREC else method
            rows.append([f"{n:,}", label, f"{ms:.3f}", f"{ms / best_peer:.2f}", f"{recall:.3f}", f"{rss:.0f}"])
        (ms, _, exact), _ = measured[NEWSREC]
        verdicts.append(f"{n:,}: {ms / best_peer:.2f}x the best peer, {'exact' if exact else 'approximate'}")
    return "\n\n".join(
        [
            f"D = {DIM}, top-{K}; ms/query = the median over {rounds} rounds (methods taking turns, each in a fresh "
            f"process that builds its structure from 50,000-vector chunks) of the median of {queries} single queries "
            "after 10 warm-up ones; peak RSS (the largest of the rounds) includes the vectors.",
            table(["news", "method", "ms/query", "x best peer", "recall@10", "peak RSS MiB"], rows),
            f"newsrec against the best peer (target <= {TARGET_RATIO}x, exact up to 100,000): "
            + "; ".join(verdicts)
            + ".",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(report(tuple(args.sizes), args.queries, args.rounds))


if __name__ == "__main__":
    main()
