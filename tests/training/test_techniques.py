"""Training techniques end to end: PEFT, adversarial and augmented runs save and load back; DDP."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.evaluation.evaluate import evaluate_scores
from newsrec.models.ranker import Ranker
from newsrec.training.config import load_config
from newsrec.training.recipe import train


@pytest.mark.parametrize(
    "settings",
    [
        {"finetune_layers": 1, "tuning": "lora", "adversarial": "fgm"},
        {"finetune_layers": 1, "tuning": "adapter", "adversarial": "pgd", "adv_steps": 2},
        {"adversarial": "pgd", "augment_prob": 0.3, "token_dropout": 0.2, "token_swap": 0.1, "remove_stopwords": True},
    ],
)
def test_techniques_train_save_and_load_back(tiny_world, tmp_path, settings):
    news = read_news(tiny_world)
    imps, dev = read_behaviors(tiny_world / "train")[:40], read_behaviors(tiny_world / "dev")[:30]
    config = load_config(epochs=1, max_length=24, batch_size=16, user_encoder="mean", **settings)
    result = train(config, news, imps, tmp_path / "m", valid_impressions=dev, cache=EmbeddingCache())
    assert np.isfinite(result.history[0]["train_loss"])
    summary = json.loads((tmp_path / "m" / "train_summary.json").read_text())
    assert summary["trainable_parameters"] == result.trainable_parameters > 0
    ranker = Ranker.load(tmp_path / "m", news, EmbeddingCache())  # the saved config rebuilds the encoder
    assert ranker.spec.model_dump() == {
        k: v for k, v in config.model_dump().items() if k in type(ranker.spec).model_fields
    }
    metrics = evaluate_scores(dev, ranker.score(dev), news, ranker.popularity.clicks_at_end())
    assert metrics["auc"] == pytest.approx(result.best_valid["auc"], abs=1e-4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tiny_world, tmp_path):
    """torchrun with 2 CPU processes (gloo) takes the same steps as one process on the whole batch.

    Tolerance: parameters within 1e-4, validation AUC within 1e-3 (gradient sums in another order;
    the mean user encoder has no dropout, whose random masks would differ per process). The
    popularity MLP's biases shift every logged candidate of an impression alike, which the
    softmax ignores: their gradients are rounding noise that Adam scales up to steps of about
    the learning rate, so they are held to lr x steps (what such noise can add up to).
    """
    newsrec = str(Path(sys.executable).parent / "newsrec")
    args = [
        "train",
        "--news",
        str(tiny_world),
        "--behaviors",
        str(tiny_world / "train"),
        "--valid",
        str(tiny_world / "dev"),
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--user-encoder",
        "mean",
        "--set",
        "quantize=none",
        "--set",
        "train_precision=fp32",
    ]  # the tolerance below is for fp32
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([newsrec, *args, "--out", str(tmp_path / "one")], check=True, env=env, capture_output=True)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={_free_port()}",
            newsrec,
            *args,
            "--out",
            str(tmp_path / "two"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "train_summary.json").read_text())["processes"] == 2
    one = torch.load(tmp_path / "one" / "model.pt", weights_only=True)["recommender"]
    two = torch.load(tmp_path / "two" / "model.pt", weights_only=True)["recommender"]
    noise_only = {"popularity.0.bias", "popularity.2.bias"}
    assert max((one[k] - two[k]).abs().max().item() for k in one if k not in noise_only) < 1e-4
    steps = 2 * -(-sum(len(i.clicked) for i in read_behaviors(tiny_world / "train")) // 16)  # 2 epochs
    assert max((one[k] - two[k]).abs().max().item() for k in noise_only) <= 1e-4 * steps
    last = [json.loads((tmp_path / d / "metrics.jsonl").read_text().splitlines()[-1]) for d in ("one", "two")]
    assert last[0]["valid_auc"] == pytest.approx(last[1]["valid_auc"], abs=1e-3)
    assert abs(last[1]["train_rows"] - last[0]["train_rows"] / 2) <= 8  # each process took half of every batch
