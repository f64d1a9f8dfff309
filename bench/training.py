"""Training throughput: impressions per second of a training epoch, frozen encoder and LoRA, in
fp32 and with bf16 matrix products, and the time from an empty cache to the core model's dev AUC.

Data: the MIND sample (train/ + train-extra/ to train, dev/ to validate), or a synthetic world
when it is absent. Each run is `newsrec.training.recipe.train` in a fresh process with an empty
embedding cache (so the time to the target AUC includes encoding every news item); its peak RSS
is reported. Impressions/s = training impressions / the median epoch's step time (forward,
backward, optimiser; not validation). The LoRA rows train the top 2 layers for one epoch on
the first --lora-impressions impressions: steps run the candidates through the tuned layers.

Usage: python bench/training.py [--mind ../shared/data/mind-sample] [--lora-impressions 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from harness import in_fresh_process, mind_or_synthetic, table

CORE_AUC = 69.49  # the core model's MIND dev AUC (docs/RESULTS.md), reached within TOLERANCE
TOLERANCE = 0.1
FP32 = {"quantize": "none", "train_precision": "fp32"}
LORA = {"finetune_layers": 2, "tuning": "lora", "plm_lr": 2e-4, "epochs": 1}
# row label -> (settings, whether the run uses only the first --lora-impressions impressions)
RUNS = {
    "frozen PLM (core model), fp32": (FP32, False),
    "frozen PLM (core model), auto = bf16 here": ({}, False),
    "LoRA top 2 layers, fp32": ({**LORA, **FP32}, True),
    "LoRA top 2 layers, auto = bf16 here": (LORA, True),
}


def data(mind: Path) -> tuple[dict, list, list]:
    from newsrec.data.behaviors import read_all_behaviors, read_behaviors
    from newsrec.data.mind import read_news

    train_dirs = [d for d in (mind / "train", mind / "train-extra") if d.is_dir()]
    return read_news(mind), read_all_behaviors(train_dirs), read_behaviors(mind / "dev")


def train_timed(mind: Path, settings: dict, limit: int | None) -> dict:
    """In a fresh process with an empty cache: the per-epoch history and the data sizes."""
    from newsrec.encoders.cache import EmbeddingCache
    from newsrec.training.config import load_config
    from newsrec.training.recipe import train

    news, train_imps, dev = data(mind)
    if limit:
        train_imps, dev = train_imps[:limit], dev[: limit // 3]
    with tempfile.TemporaryDirectory() as tmp:
        result = train(
            load_config(**settings),
            news,
            train_imps,
            Path(tmp) / "model",
            dev,
            EmbeddingCache(Path(tmp) / "embeddings.sqlite"),
        )
    return {"history": [record.row() for record in result.history], "train": len(train_imps), "dev": len(dev)}


def report(mind: Path | None, lora_impressions: int = 300, tiny: bool = False) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        mind = mind_or_synthetic(mind, Path(tmp), tiny)
        rows = []
        for label, (settings, limited) in RUNS.items():
            if tiny:
                settings = {**settings, "epochs": 1}
            run, rss = in_fresh_process(train_timed, mind, settings, lora_impressions if limited else None)
            history = run["history"]
            step = statistics.median(h["step_seconds"] for h in history)
            best = max(history, key=lambda h: h["valid_auc"])
            reached = next((h["seconds"] for h in history if 100 * h["valid_auc"] >= CORE_AUC - TOLERANCE), None)
            rows.append(
                [
                    label,
                    f"{run['train']:,}",
                    len(history),
                    f"{step:.1f}",
                    f"{run['train'] / step:.0f}",
                    f"{100 * best['valid_auc']:.2f} (epoch {best['epoch']}, {run['dev']:,} dev)",
                    "-" if limited or reached is None else f"{reached:.0f}",
                    f"{rss:.0f}",
                ]
            )
    return "\n\n".join(
        [
            "Each run in a fresh process with an empty embedding cache; step s = the median epoch's training steps; "
            f"time to AUC = seconds from the start (encoding every news item included) to the first epoch with dev "
            f"AUC >= {CORE_AUC - TOLERANCE:.2f} (the core model's {CORE_AUC} within {TOLERANCE}).",
            table(
                [
                    "run",
                    "train impressions",
                    "epochs",
                    "step s / epoch",
                    "impressions/s",
                    "best dev AUC",
                    "time to AUC s",
                    "peak RSS MiB",
                ],
                rows,
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, default=Path("../shared/data/mind-sample"))
    parser.add_argument("--lora-impressions", type=int, default=300)
    args = parser.parse_args()
    print(report(args.mind, args.lora_impressions))


if __name__ == "__main__":
    main()
