"""Top-10 retrieval for one user over N news vectors: newsrec's index vs plain NumPy vs FAISS flat.

Vectors: unit vectors around 20 topic centres (like real news, they cluster), D = 384; queries
are other such vectors. newsrec's path is the service's `FaissIndex` with its defaults (exact
up to 50,000 items, IVF past that). Figures: median milliseconds per query over --queries
single-query searches, and recall@10 against the exact answer.

Usage: python bench/retrieval.py [--sizes 10000 100000 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import faiss
import numpy as np

from newsrec.serve.index import FaissIndex

DIM, K = 384, 10


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def numpy_top_k(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    scores = vectors @ query
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def per_query_ms(search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray) -> tuple[float, list[np.ndarray]]:
    for q in queries[:10]:  # warm-up: the previous method's thread pool may still be spinning
        search(q)
    found, times = [], []
    for q in queries:
        started = time.perf_counter()
        found.append(search(q))
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, DIM)).astype(np.float32) / np.sqrt(DIM)
    print(f"D = {DIM}, top-{K}, median of {args.queries} single queries; faiss {faiss.__version__}, "
          f"{faiss.omp_get_max_threads()} threads")
    print("| news | method | ms/query | x best peer | recall@10 |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        vectors, queries = clustered(n, rng, centres), clustered(args.queries, rng, centres)
        flat = faiss.IndexFlatIP(DIM)
        flat.add(vectors)
        index = FaissIndex(DIM)
        index.upsert(np.arange(n, dtype=np.int64), vectors)
        methods = {
            "NumPy matmul + argpartition": lambda q: numpy_top_k(vectors, q),
            "FAISS IndexFlatIP": lambda q: flat.search(q[None, :], K)[1][0],
            f"newsrec FaissIndex ({'exact' if index.exact else 'IVF'})": lambda q: index.search(q, K)[1],
        }
        results = {name: per_query_ms(search, queries) for name, search in methods.items()}
        exact = results["FAISS IndexFlatIP"][1]
        best_peer = min(ms for name, (ms, _) in results.items() if not name.startswith("newsrec"))
        for name, (ms, found) in results.items():
            recall = np.mean([len(set(f.tolist()) & set(e.tolist())) / K for f, e in zip(found, exact)])
            print(f"| {n:,} | {name} | {ms:.3f} | {ms / best_peer:.2f} | {recall:.3f} |")


if __name__ == "__main__":
    main()
