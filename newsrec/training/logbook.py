"""What a run writes about itself besides the model: a line per epoch, metrics.jsonl, the
training curve and train_summary.json (each stage's seconds and peak memory)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from newsrec.evaluation.evaluate import HEADLINE_METRICS
from newsrec.stages import Stages
from newsrec.training.epoch_record import EpochRecord
from newsrec.training.plot import plot_curve

__all__ = ["METRICS_FILE", "CURVE_FILE", "SUMMARY_FILE", "epoch_line", "log_epoch", "write_summary"]

logger = logging.getLogger(__name__)
METRICS_FILE, CURVE_FILE = "metrics.jsonl", "training_curve.png"
SUMMARY_FILE = "train_summary.json"  # trainable parameters, seconds, processes, stages


def epoch_line(record: EpochRecord, epochs: int) -> str:
    """One epoch as a table row: "epoch 2/5 | loss 1.2345 | auc 69.52 mrr 33.10 ... | 24.4 s | best"."""
    valid = " ".join(f"{m} {100 * record.valid[m]:.2f}" for m in HEADLINE_METRICS if m in record.valid)
    cells = [
        f"epoch {record.epoch}/{epochs}",
        f"loss {record.train_loss:.4f}",
        *([f"valid {valid}"] if valid else []),
        f"{record.step_seconds:.1f} s",
        *(["best"] if record.best else []),
    ]
    return " | ".join(cells)


def log_epoch(out_dir: Path, record: EpochRecord, epochs: int) -> None:
    """The epoch's line in the log and its record in metrics.jsonl."""
    logger.info("%s", epoch_line(record, epochs))
    with (out_dir / METRICS_FILE).open("a") as f:
        f.write(json.dumps(record.row()) + "\n")


def write_summary(out_dir: Path, history: list[EpochRecord], stages: Stages, **figures: float | int) -> None:
    """The training curve and train_summary.json: `figures` (trainable parameters, seconds, ...) and the stages."""
    plot_curve(history, out_dir / CURVE_FILE)
    (out_dir / SUMMARY_FILE).write_text(json.dumps({**figures, "stages": stages.records}, indent=2))
