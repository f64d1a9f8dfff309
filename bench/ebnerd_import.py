"""`newsrec data import ebnerd` at EB-NeRD's sizes: time and peak memory per impression.

Writes synthetic files in EB-NeRD's published schema (the dataset itself is licensed and not
here) at each size: N training impressions of N/10 users, 5 to 20 articles in view each, a
history row of 50 articles per user, 20,000 articles (EB-NeRD small: 232,887 training
impressions of 18,827 users, 20,738 articles; large: 12.1M impressions, 788,090 users). Then
imports each in a fresh process and reports its wall time and peak RSS, the way
`bench/scale.py` reports MIND's growth.

    python bench/ebnerd_import.py --sizes 10000 100000 1000000 --work /tmp/ebnerd-bench
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
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        root = args.work / f"ebnerd-{size}"
        if not (root / "train" / "behaviors.parquet").is_file():
            write_dataset(root, size)
        (seconds, written), peak = in_fresh_process(run_import, str(root), str(args.work / f"mind-{size}"))
        rows.append([f"{size:,}", f"{max(1, size // 10):,}", f"{written:,}", f"{seconds:.1f}", f"{peak:.0f}"])
    print(f"{machine()}\n")
    print(table(["training impressions", "users", "written", "import s", "peak RSS MiB"], rows))


if __name__ == "__main__":
    main()
