"""News encoding speed: newsrec's encoder path vs sentence-transformers on the same model.

Same texts (MIND title + abstract, or the synthetic world's when the sample is absent), same
all-MiniLM-L6-v2 weights, 64 tokens. Each encoder runs in its own fresh process (its peak RSS
is reported); each figure is the median of --repeats runs after one warm-up. Quality: the
cosine of each vector to sentence-transformers' fp32 vector (min and mean).

Usage: python bench/encoding.py [--mind ../shared/data/mind-sample] [--n 2000] [--batch 32 128]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import in_fresh_process, median_seconds, table

MODEL, MAX_LENGTH = "all-MiniLM-L6-v2", 64
PEER = "sentence-transformers encode (peer)"
# row label -> PLM quantize setting (None: the peer)
ENCODERS = {
    PEER: None,
    "newsrec PLM.embed fp32": "none",
    "newsrec PLM.embed bf16": "bf16",
    "newsrec PLM.embed int8": "int8",
}
TARGET_SPEEDUP, TARGET_COSINE = 2.0, 0.99


def news_texts(mind: Path | None, n: int) -> list[str]:
    from newsrec.data.mind import read_news
    from newsrec.data.synthetic import SyntheticWorldConfig, generate_world

    if mind is not None and (mind / "news.tsv").is_file():
        items = list(read_news(mind).values())
    else:
        items = generate_world(SyntheticWorldConfig(n_news=n))["news"]
    return [f"{x.title}. {x.abstract}".strip(". ") for x in items[:n]]


def encode_timed(quantize: str | None, texts: list[str], batches: list[int], repeats: int) -> dict:
    """In a fresh process: {batch: (median seconds, vectors)} for one encoder."""
    from newsrec.encoders.packaged import resolve_model_path
    from newsrec.encoders.plm import PLM

    if quantize is None:
        from sentence_transformers import SentenceTransformer

        peer = SentenceTransformer(str(resolve_model_path(MODEL)), device="cpu")
        peer.max_seq_length = MAX_LENGTH
        encode = lambda batch: peer.encode(texts, batch_size=batch, normalize_embeddings=True)  # noqa: E731
    else:
        plm = PLM(MODEL, MAX_LENGTH, quantize=quantize)
        encode = lambda batch: plm.embed(texts, batch_size=batch)  # noqa: E731
    return {batch: median_seconds(lambda batch=batch: encode(batch), repeats) for batch in batches}


def report(mind: Path | None, n: int = 2000, batches: tuple[int, ...] = (32, 128), repeats: int = 3) -> str:
    texts = news_texts(mind, n)
    measured = {
        label: in_fresh_process(encode_timed, quantize, texts, list(batches), repeats)
        for label, quantize in ENCODERS.items()
    }
    rows, verdicts = [], []
    for batch in batches:
        peer_seconds, reference = measured[PEER][0][batch]
        best = None
        for label, (by_batch, rss) in measured.items():
            seconds, vectors = by_batch[batch]
            cosine = (vectors * reference).sum(1)
            speedup = peer_seconds / seconds
            rows.append(
                [
                    label,
                    batch,
                    f"{len(texts) / seconds:.0f}",
                    f"{speedup:.2f}",
                    f"{cosine.min():.4f} / {cosine.mean():.4f}",
                    f"{rss:.0f}",
                ]
            )
            if label != PEER and cosine.min() >= TARGET_COSINE and (best is None or speedup > best[1]):
                best = (label, speedup)
        if best:
            verdicts.append(
                f"batch {batch}: {best[0]} is {best[1]:.2f}x the peer with every vector at cosine "
                f">= {TARGET_COSINE} ({'meets' if best[1] >= TARGET_SPEEDUP else 'misses'} the "
                f"{TARGET_SPEEDUP:.0f}x target)"
            )
    source = "MIND" if mind is not None and (mind / "news.tsv").is_file() else "synthetic"
    return "\n\n".join(
        [
            f"{len(texts):,} {source} news (title + abstract, {MAX_LENGTH} tokens), {MODEL}; median of {repeats} runs; "
            "each encoder in its own process (peak RSS = model + texts + buffers).",
            table(["encoder", "batch", "news/s", "x peer", "cosine to peer min / mean", "peak RSS MiB"], rows),
            "Fastest at equal vectors: " + "; ".join(verdicts) + "." if verdicts else "No encoder kept cosine >= 0.99.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, default=Path("../shared/data/mind-sample"))
    parser.add_argument("--n", type=int, default=2000, help="news texts to encode")
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(report(args.mind, args.n, tuple(args.batch), args.repeats))


if __name__ == "__main__":
    main()
