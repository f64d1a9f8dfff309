"""Training-curve PNG: loss and validation metrics per epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here: render to file
import matplotlib.pyplot as plt

from newsrec.training.epoch_record import EpochRecord

__all__ = ["plot_curve"]


def plot_curve(history: list[EpochRecord], path: str | Path) -> Path:
    epochs = [h.epoch for h in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h.train_loss for h in history], marker="o")
    ax_loss.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    for name in ("auc", "mrr", "ndcg@10"):
        values = [h.valid.get(name) for h in history]
        if any(v is not None for v in values):
            ax_metric.plot(epochs, values, marker="o", label=name)
    ax_metric.set(title="validation" if ax_metric.lines else "validation (no --valid file given)", xlabel="epoch")
    if ax_metric.lines:
        ax_metric.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
