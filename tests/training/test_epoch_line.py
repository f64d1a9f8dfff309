"""An epoch is told in one line (time, loss, validation metrics), its stages still timed in the summary."""

import json
import logging

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.stages import Stages
from newsrec.training.config import load_config
from newsrec.training.recipe import train


def test_each_epoch_is_one_line_and_its_stages_stay_in_the_summary(tiny_world, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    # a progress report only on a slow machine (its own lines are tested in test_progress.py): never here
    monkeypatch.setenv("NEWSREC_PROGRESS_SECONDS", "3600")
    out = tmp_path / "m"
    train(
        load_config(epochs=2, patience=2),
        read_news(tiny_world),
        read_behaviors(tiny_world / "train"),
        out,
        valid_impressions=read_behaviors(tiny_world / "dev"),
        cache=EmbeddingCache(),
    )
    timed = [r.getMessage() for r in caplog.records if r.getMessage().endswith(("MiB)", " s", " s | best"))]
    epoch_lines = [line for line in timed if line.startswith("epoch ") and "| loss " in line]
    assert len(epoch_lines) == 2 and all("| valid auc " in line for line in epoch_lines), epoch_lines
    assert not [line for line in timed if line.startswith(("epoch 1:", "epoch 2:", "validation "))], timed
    assert any(line.startswith("news encoding and model: ") for line in timed)  # other stages keep their line
    stages = [s["stage"] for s in json.loads((out / "train_summary.json").read_text())["stages"]]
    assert stages[-4:] == ["epoch 1", "validation 1", "epoch 2", "validation 2"]
    assert logging.getLogger(Stages.__module__).level == logging.NOTSET  # stage lines are back after training
