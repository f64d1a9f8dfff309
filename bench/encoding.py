"""News encoding speed: newsrec's encoder path vs sentence-transformers on the same model.

Same texts (MIND title + abstract, or the synthetic world's when the sample is absent), same
all-MiniLM-L6-v2 weights, 64 tokens, torch threads as set by the machine. Each figure is the
median of --repeats runs after one warm-up; quality is the cosine of each vector to
sentence-transformers' fp32 vector (min and mean).

Usage: python bench/encoding.py [--mind ../shared/data/mind-sample] [--n 2000] [--batch 32 128]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from newsrec.data.mind import read_news
from newsrec.data.synthetic import SyntheticWorldConfig, generate_world
from newsrec.encoders.packaged import resolve_model_path
from newsrec.encoders.plm import PLM

MODEL, MAX_LENGTH = "all-MiniLM-L6-v2", 64


def news_texts(mind: Path | None, n: int) -> list[str]:
    if mind is not None and (mind / "news.tsv").is_file():
        items = list(read_news(mind).values())
    else:
        items = generate_world(SyntheticWorldConfig(n_news=n))["news"]
    return [f"{x.title}. {x.abstract}".strip(". ") for x in items[:n]]


def timed(encode: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    vectors = encode()  # warm-up, and the vectors to compare
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        encode()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, default=Path("../shared/data/mind-sample"))
    parser.add_argument("--n", type=int, default=2000, help="news texts to encode")
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    texts = news_texts(args.mind, args.n)
    peer = SentenceTransformer(str(resolve_model_path(MODEL)), device="cpu")
    peer.max_seq_length = MAX_LENGTH
    fp32, int8 = PLM(MODEL, MAX_LENGTH), PLM(MODEL, MAX_LENGTH, quantize="int8")
    print(f"{len(texts)} texts; {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print("| encoder | batch | news/s | x peer | cosine to peer min / mean |")
    print("|---|---|---|---|---|")
    for batch in args.batch:
        peer_s, reference = timed(lambda: peer.encode(texts, batch_size=batch, normalize_embeddings=True), args.repeats)
        rows = [("sentence-transformers encode (peer)", peer_s, reference)]
        for name, plm in (("newsrec PLM.embed fp32", fp32), ("newsrec PLM.embed int8", int8)):
            seconds, vectors = timed(lambda: plm.embed(texts, batch_size=batch), args.repeats)
            rows.append((name, seconds, vectors))
        for name, seconds, vectors in rows:
            cosine = (vectors * reference).sum(1)
            print(f"| {name} | {batch} | {len(texts) / seconds:.0f} | {peer_s / seconds:.2f} | "
                  f"{cosine.min():.4f} / {cosine.mean():.4f} |")


if __name__ == "__main__":
    main()
