"""The checkpoint of a run: what a killed or stopped training needs to go on after its last epoch.

`checkpoint.pt` in the run's folder holds the settings, the weights (the recommender's and any
tuned encoder layers'), the optimiser's moments, the epoch records, early stopping's state and
the random generator. It is written after every epoch through a temporary file, so a kill
mid-write leaves the previous one whole. A run resumes only with the same settings (more
epochs excepted).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from newsrec.training.config import TrainConfig
from newsrec.training.epoch_record import EpochRecord

__all__ = ["CHECKPOINT_FILE", "TrainingState", "save_checkpoint", "load_checkpoint", "interrupt_says_what_resumes"]

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class TrainingState:
    """What changes from epoch to epoch; all of it but `step` is in the checkpoint."""

    history: list[EpochRecord] = field(default_factory=list)  # one record per finished epoch
    best_metric: float = -float("inf")
    bad_epochs: int = 0  # epochs since the best one
    step: int = 0  # optimiser steps, for AdaLoRA's rank schedule


class _Stateful(Protocol):  # the encoder side of a run (training.news_encoding.NewsEncoding)
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def save_checkpoint(
    out_dir: Path,
    config: TrainConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    encoding: _Stateful,
    state: TrainingState,
) -> None:
    tmp = out_dir / (CHECKPOINT_FILE + ".tmp")
    torch.save(
        {
            "config": config.model_dump(),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "plm_trained": encoding.state_dict(),
            "history": [record.row() for record in state.history],
            "best_metric": state.best_metric,
            "bad_epochs": state.bad_epochs,
            "torch_rng": torch.get_rng_state(),
        },
        tmp,
    )
    tmp.replace(out_dir / CHECKPOINT_FILE)  # atomic: a kill mid-write leaves the old checkpoint


def load_checkpoint(
    out_dir: Path, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer, encoding: _Stateful
) -> TrainingState | None:
    """Load the checkpoint in `out_dir` into the model, optimiser and encoder; its state, or None without one."""
    path = out_dir / CHECKPOINT_FILE
    if not path.is_file():
        return None
    saved = torch.load(path, weights_only=False, map_location="cpu")  # the optimiser puts its state by the weights
    epochs = config.epochs  # more epochs is the one change that may continue a run
    if {**saved["config"], "epochs": epochs} != {**config.model_dump(), "epochs": epochs}:
        raise ValueError(f"{out_dir} holds a run with other settings: use a new --out, or --restart to overwrite it")
    model.load_state_dict(saved["model"])
    encoding.load_state_dict(saved["plm_trained"])
    optimizer.load_state_dict(saved["optimizer"])
    _check_optimizer_state(optimizer, path)
    torch.set_rng_state(saved["torch_rng"])
    return TrainingState(
        [EpochRecord.from_row(row) for row in saved["history"]], saved["best_metric"], saved["bad_epochs"]
    )


@contextmanager
def interrupt_says_what_resumes(out_dir: Path, restart: bool) -> Iterator[None]:
    """Ctrl-C meanwhile is raised again with a sentence saying whether a checkpoint in `out_dir`
    lets the same command resume, or that nothing was saved (`newsrec` prints it)."""
    try:
        yield
    except KeyboardInterrupt as e:
        if not (out_dir / CHECKPOINT_FILE).is_file():
            kept = f"nothing was saved in {out_dir} (a checkpoint is written at the end of each epoch)"
        elif restart:  # the same command would start over again
            kept = (
                f"{out_dir / CHECKPOINT_FILE} holds the last finished epoch: `newsrec train` with the "
                "same settings and --out, without --restart, resumes from it"
            )
        else:
            kept = f"run the same command again to resume from the last finished epoch (saved in {out_dir})"
        raise KeyboardInterrupt(kept) from e


def _check_optimizer_state(optimizer: torch.optim.Optimizer, path: Path) -> None:
    """Each parameter's saved moments must have its shape: a checkpoint of a run stopped by an older
    newsrec (before towers) lists them in another order, and would fail at the first step."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            moment = optimizer.state.get(p, {}).get("exp_avg")
            if moment is not None and moment.shape != p.shape:
                raise ValueError(
                    f"{path} was written by an older newsrec and cannot be resumed: "
                    "add --restart to train from the start (models saved by that version still load)"
                )
