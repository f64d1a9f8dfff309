"""Training techniques end to end: PEFT, adversarial and augmented runs save and load back; DDP."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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
    assert np.isfinite(result.history[0].train_loss)
    summary = json.loads((tmp_path / "m" / "train_summary.json").read_text())
    assert summary["trainable_parameters"] == result.trainable_parameters > 0
    ranker = Ranker.load(tmp_path / "m", news, EmbeddingCache())  # the saved config rebuilds the encoder
    given = {**config.model_dump(), "encoder": "all-MiniLM-L6-v2"}  # `auto` chose it for English titles
    assert ranker.spec.model_dump() == {k: v for k, v in given.items() if k in type(ranker.spec).model_fields}
    metrics = evaluate_scores(dev, ranker.score(dev), news, ranker.popularity.clicks_at_end())
    assert metrics["auc"] == pytest.approx(result.best_valid["auc"], abs=1e-4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_on_their_own_parts(tiny_world, tmp_path):
    """torchrun with 2 CPU processes (gloo): each reads and trains on its own half of the
    impressions, the popularity replay is the whole log's, and validation counts every dev
    impression once. The two see other rows than one process, so their model is near, not equal."""
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
        "3",
        "--batch-size",
        "16",
        "--user-encoder",
        "mean",
    ]
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
    impressions = len(read_behaviors(tiny_world / "train"))
    parts = sorted(int(n) for n in re.findall(r"process \d of 2: (\d+) training impressions", run.stderr))
    assert parts == [impressions // 2, impressions - impressions // 2]
    summaries = [json.loads((tmp_path / d / "train_summary.json").read_text()) for d in ("one", "two")]
    assert summaries[1]["processes"] == 2
    assert summaries[1]["training_impressions"] == summaries[0]["training_impressions"] == impressions
    # the replay is the whole log's, as one process makes it, and its files are gone once read
    assert not (tmp_path / "two" / "replay").exists()
    assert (tmp_path / "two" / "popularity.json").read_text() == (tmp_path / "one" / "popularity.json").read_text()
    last = [json.loads((tmp_path / d / "metrics.jsonl").read_text().splitlines()[-1]) for d in ("one", "two")]
    assert abs(last[1]["train_rows"] - last[0]["train_rows"] / 2) <= 8  # each process took its half of the rows
    best = max(
        (json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()),
        key=lambda r: r["valid_auc"],
    )
    news, dev = read_news(tiny_world), read_behaviors(tiny_world / "dev")
    ranker = Ranker.load(tmp_path / "two", news, EmbeddingCache())
    whole_dev = evaluate_scores(dev, ranker.score(dev), news, ranker.popularity.clicks_at_end())
    assert whole_dev["auc"] == pytest.approx(best["valid_auc"], abs=1e-6)  # validation merged both halves
    assert last[1]["valid_auc"] == pytest.approx(last[0]["valid_auc"], abs=0.05)
