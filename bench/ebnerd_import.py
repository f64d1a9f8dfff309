"""EB-NeRD at its sizes: import, and with --train one epoch of training, time and peak memory.

Writes synthetic files in EB-NeRD's published schema (the dataset itself is licensed and not
here) at each size: N training impressions of N/10 users, 5 to 20 articles in view each, a
history row of 50 articles per user, 20,000 articles with publication times (EB-NeRD small:
232,887 training impressions of 18,827 users, 20,738 articles; large: 12.1M impressions,
788,090 users). Then imports each in a fresh process and reports its wall time and peak RSS,
the way `bench/scale.py` reports MIND's growth. With --train, `newsrec train --epochs 1` on
each import (the default encoder: multilingual-e5-small for these Danish titles), in a process
of its own: its wall time, peak RSS, peak bytes per training impression, and the fitted slope
over the sizes. Every size reads the same filled embedding cache (one warm-up training at the
smallest size fills it first), so encoding is not in the figures.

    python bench/ebnerd_import.py --sizes 10000 100000 1000000 --work /tmp/ebnerd-bench
    python bench/ebnerd_import.py --sizes 10000 50000 232887 --train --work /tmp/ebnerd-bench
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from harness import in_fresh_process, machine, table
from scale import run_stage, slope

ARTICLES = 20_000
HISTORY = 50
START = datetime(2023, 5, 18)


def write_dataset(root: Path, impressions: int, seed: int = 0) -> None:
    """Articles, one history row per user and `impressions` behaviors rows, in EB-NeRD's schema."""
    rng = np.random.default_rng(seed)
    split = root / "train"
    split.mkdir(parents=True, exist_ok=True)
    ids = np.arange(ARTICLES, dtype=np.int32) + 9_000_000
    articles = {
        "article_id": ids,
        "title": [f"Nyhed {i}: et emne om dette og hint" for i in range(ARTICLES)],
        "subtitle": [f"Underrubrik til nyhed {i}" for i in range(ARTICLES)],
        "category_str": [f"kategori{i % 25}" for i in range(ARTICLES)],
        "published_time": [START - timedelta(hours=int(h)) for h in rng.integers(0, 24 * 21, ARTICLES)],
    }
    pq.write_table(pa.table(articles), root / "articles.parquet")
    users = max(1, impressions // 10)
    histories = rng.choice(ids, size=(users, HISTORY))
    history = {
        "user_id": pa.array(np.arange(users), pa.uint32()),
        "article_id_fixed": pa.array(list(histories), pa.list_(pa.int32())),
    }
    pq.write_table(pa.table(history), split / "history.parquet")
    with pq.ParquetWriter(split / "behaviors.parquet", _behaviors_schema()) as writer:
        for start in range(0, impressions, 100_000):
            n = min(100_000, impressions - start)
            sizes = rng.integers(5, 21, n)
            inview = [rng.choice(ids, size) for size in sizes]
            batch = {
                "impression_id": pa.array(np.arange(start, start + n), pa.uint32()),
                "user_id": pa.array(rng.integers(0, users, n), pa.uint32()),
                "impression_time": pa.array([START + timedelta(seconds=int(s)) for s in range(start, start + n)]),
                "article_ids_inview": pa.array(inview, pa.large_list(pa.int32())),
                "article_ids_clicked": pa.array([row[:1] for row in inview], pa.large_list(pa.int32())),
            }
            writer.write_table(pa.table(batch, schema=_behaviors_schema()))


def _behaviors_schema() -> pa.Schema:
    return pa.schema(
        [
            ("impression_id", pa.uint32()),
            ("user_id", pa.uint32()),
            ("impression_time", pa.timestamp("us")),
            ("article_ids_inview", pa.large_list(pa.int32())),
            ("article_ids_clicked", pa.large_list(pa.int32())),
        ]
    )


def run_import(root: str, out: str) -> tuple[float, int]:
    from newsrec.data.ebnerd import import_ebnerd

    started = time.perf_counter()
    imported = import_ebnerd(root, out)
    return time.perf_counter() - started, imported.impressions["train"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--train", action="store_true", help="also train one epoch on each import")
    args = parser.parse_args()
    rows, trained = [], {}
    for size in args.sizes:
        root = args.work / f"ebnerd-{size}"
        if not (root / "train" / "behaviors.parquet").is_file():
            write_dataset(root, size)
        (seconds, written), peak = in_fresh_process(run_import, str(root), str(args.work / f"mind-{size}"))
        row = [f"{size:,}", f"{max(1, size // 10):,}", f"{written:,}", f"{seconds:.1f}", f"{peak:.0f}"]
        if args.train:
            if not trained:  # fill the embedding cache once, untimed
                train_one_epoch(args.work, size, "warm-up")
            trained[written] = train_seconds, train_peak = train_one_epoch(args.work, size, "model")
            row += [f"{train_seconds:.0f}", f"{train_peak:,.0f}", f"{train_peak * 2**20 / written:,.0f}"]
        rows.append(row)
    print(f"{machine()}\n")
    columns = ["training impressions", "users", "written", "import s", "peak RSS MiB"]
    train_columns = ["train s (1 epoch)", "train peak RSS MiB", "peak bytes per impression"]
    print(table(columns + (train_columns if args.train else []), rows))
    if len(trained) >= 2:
        sizes = sorted(trained)
        grows = slope(sizes, [trained[n][1] * 2**20 for n in sizes])
        print(f"\ntraining's peak RSS grows by {grows:,.0f} bytes per training impression (least squares)")


def train_one_epoch(work: Path, size: int, name: str) -> tuple[float, float]:
    """`newsrec train --epochs 1` on the import of `size`, in a process of its own: (s, peak MiB)."""
    data = work / f"mind-{size}"
    args = ["train", "--dataset", f"mind:{data}", "--out", str(work / f"{name}-{size}"), "--epochs", "1"]
    args += ["--restart", "--cache", str(work / "embeddings.sqlite")]
    return run_stage(args, None, work / f"{name}-{size}.log")


if __name__ == "__main__":
    main()
