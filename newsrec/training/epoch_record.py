"""What one finished epoch left: its loss, rows and time, its validation metrics, whether it was
the best yet. Kept in the checkpoint (to resume), written as a line of metrics.jsonl."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["EpochRecord"]

VALID = "valid_"  # metrics.jsonl's prefix of a validation metric: "valid_auc"


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_rows: int  # this process's rows, a repeated batch counted again
    step_seconds: float  # the epoch's training steps
    seconds: float  # since the run started
    valid: dict[str, float] = field(default_factory=dict)  # {"auc": ..., "mrr": ...}; empty without validation
    best: bool = False

    @property
    def metric(self) -> float:
        """Higher is better: validation AUC, or minus the training loss when there is no validation set."""
        return self.valid.get("auc", -self.train_loss)

    def row(self) -> dict:
        """The record as metrics.jsonl writes it (validation metrics flat, named `valid_<metric>`)."""
        flat = {name: getattr(self, name) for name in ("epoch", "train_loss", "train_rows", "step_seconds", "seconds")}
        return {
            **flat,
            **{VALID + name: value for name, value in self.valid.items()},
            **({"best": True} if self.best else {}),
        }

    @classmethod
    def from_row(cls, row: dict) -> EpochRecord:
        valid = {name.removeprefix(VALID): value for name, value in row.items() if name.startswith(VALID)}
        fields = {name: row[name] for name in ("epoch", "train_loss", "train_rows", "step_seconds", "seconds")}
        return cls(**fields, valid=valid, best=bool(row.get("best")))
