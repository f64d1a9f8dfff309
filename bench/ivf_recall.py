"""Recall of the service's approximate search on real-like vectors, for the mean and the worst query.

The operating point the service uses: a trained model's item vectors `[n, g(pop)]` and its
queries for real users, searched by `SharedIndex` over IVF lists (the snapshot's k-means order,
1,024 lists) against the exact answer over the same rows.
- News: the MIND sample's news vectors (the model's encoder) each copied with small noise
  (`--noise` of the vector's norm, spread over the dimensions) to `--size` rows; each copy keeps
  its source's popularity term at the logs' end.
- Queries: the model's `query_vector` for `--users` users of the dev log with a history, built
  as the service builds them (`service/users.py`).
Prints recall@10 (mean, 5th percentile, worst) and ms per query (one BLAS thread, as a worker)
per setting: the share of lists probed (the service's `probe_share`), and the popular rows on
or off (what they add for queries ranked by popularity).

Usage: python bench/ivf_recall.py --mind ../shared/data/mind-sample --model runs/mind [--size 1000000]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import deque

import numpy as np
import torch
from harness import table
from threadpoolctl import threadpool_limits

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import NewsTable
from newsrec.models.ranker import Ranker
from newsrec.service.index import Items, SharedIndex
from newsrec.service.ivf_lists import IvfLists, list_order
from newsrec.service.users import UserState, user_query

K = 10


def real_like(ranker: Ranker, size: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(vectors (size + 1, D) with row 0 padding, popularity terms (size + 1,)) copied from the real news."""
    real = ranker.table.vectors[1:].numpy()
    with torch.no_grad():
        terms = ranker.model.popularity_score(torch.from_numpy(ranker.popularity.features(ranker.table.ids))).numpy()
    rng = np.random.default_rng(seed)
    source = np.concatenate([np.arange(len(real)), rng.integers(0, len(real), size - len(real))])
    vectors = np.zeros((size + 1, real.shape[1]), np.float32)
    for start in range(0, size, 100_000):
        part = source[start : start + 100_000]
        jitter = rng.standard_normal((len(part), real.shape[1]), dtype=np.float32) / np.sqrt(real.shape[1])
        scale = noise * np.linalg.norm(real[part], axis=1)[:, None]
        vectors[1 + start : 1 + start + len(part)] = real[part] + scale * jitter
    return vectors, np.concatenate([[0.0], terms[source]]).astype(np.float32)


def queries(ranker: Ranker, mind: str, users: int) -> np.ndarray:
    out, seen = [], set()
    for impression in read_behaviors(f"{mind}/dev"):
        if impression.history and impression.user_id not in seen and len(out) < users:
            seen.add(impression.user_id)
            state = UserState(impression.user_id, history=deque(impression.history[-ranker.spec.max_history :]))
            out.append(user_query(ranker, ranker.table, state).vector)
    return np.stack(out)


def recall(index: SharedIndex, qs: np.ndarray, truth: list[set[int]]) -> tuple[np.ndarray, float]:
    found, started = [], time.perf_counter()
    for q in qs:
        found.append(index.search(q, K)[1])
    ms = 1000 * (time.perf_counter() - started) / len(qs)
    return np.array([len(truth[i] & set(f.tolist())) / K for i, f in enumerate(found)]), ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mind", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--probe-share", type=float, nargs="+", default=[1 / 64, 1 / 32, 1 / 16, 1 / 8])
    args = parser.parse_args()
    threadpool_limits(1)  # as a service worker of two on two cores searches (`serve --workers 2`)

    ranker = Ranker.load(args.model, read_news(f"{args.mind}/news.tsv"), EmbeddingCache())
    qs = queries(ranker, args.mind, args.users)
    vectors, terms = real_like(ranker, args.size, args.noise)
    ids = [str(i) for i in range(args.size)]
    exact = SharedIndex(Items(NewsTable.over(ids, vectors), terms))
    started = time.perf_counter()
    truth = [set(exact.search(q, K)[1].tolist()) for q in qs]
    exact_ms = 1000 * (time.perf_counter() - started) / len(qs)

    started = time.perf_counter()
    order, centroids, starts = list_order(vectors, args.size)
    build_s = time.perf_counter() - started
    ordered = np.concatenate([vectors[:1], vectors[1:][order]])
    back = np.concatenate([[0], 1 + np.argsort(order)])  # old row -> new row
    truth = [{int(back[r]) for r in t} for t in truth]
    items = Items(NewsTable.over(ids, ordered), np.concatenate([terms[:1], terms[1:][order]]))
    items.lists, items.listed = IvfLists(centroids, starts), args.size

    rows = [["exact (every row)", "-", "1.000", "1.000", "1.000", f"{exact_ms:.2f}"]]
    for share in args.probe_share:
        for popular in (0, 1024):
            found, ms = recall(SharedIndex(items, share, popular), qs, truth)
            rows.append(
                [f"IVF, {math.ceil(share * len(centroids))} of {len(centroids)} lists", "on" if popular else "off",
                 f"{found.mean():.3f}",
                 f"{np.percentile(found, 5):.3f}", f"{found.min():.3f}", f"{ms:.2f}"]
            )  # fmt: skip
    print(
        f"{args.size:,} real-like news (the sample's {len(ranker.table):,} news vectors + noise {args.noise}), "
        f"{len(qs)} real users' queries; k-means (two levels) and list order {build_s:.0f} s\n"
    )
    print(table(["search", "popular rows", "recall@10 mean", "5th percentile", "worst", "ms per query"], rows))


if __name__ == "__main__":
    main()
