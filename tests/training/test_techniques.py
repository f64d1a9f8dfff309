"""Training techniques: adversarial training, augmentation, PEFT runs, ensembles, DDP."""

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from newsrec.config import ConfigError, load_config, parse_settings
from newsrec.data.augment import augment, perturb
from newsrec.data.mind import read_behaviors, read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.evaluation.evaluate import evaluate_scores
from newsrec.models.ensemble import Ensemble, fit_ensemble, load_scorer
from newsrec.models.ranker import Ranker
from newsrec.training.adversarial import adversarial_loss
from newsrec.training.recipe import train


@pytest.mark.parametrize("method", ["fgm", "pgd"])
def test_adversarial_loss_is_finite_bounded_and_leaves_weights_and_inputs_alone(method):
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 1)
    x = torch.nn.functional.normalize(torch.randn(4, 5, 8), dim=-1)
    x_before, w_before = x.clone(), layer.weight.detach().clone()
    seen = []

    def loss_fn(inputs):
        seen.append(inputs[0].detach())
        scores = layer(inputs[0]).squeeze(-1)
        return torch.nn.functional.cross_entropy(scores, torch.zeros(4, dtype=torch.long))

    clean = loss_fn([x])
    adv = adversarial_loss(loss_fn, [x], method, epsilon=0.1, steps=3)
    assert torch.isfinite(adv) and adv > clean  # the perturbation found a worse point
    assert torch.equal(x, x_before) and torch.equal(layer.weight, w_before) and layer.weight.grad is None
    shift = (seen[-1] - x).norm(dim=-1)
    assert shift.max() <= 0.1 * x.norm(dim=-1).max() + 1e-6  # within epsilon |x|
    adv.backward()
    assert layer.weight.grad is not None and torch.isfinite(layer.weight.grad).all()


def test_augmentation_and_perturbations_are_seeded_and_keep_text():
    text = "Lakers beat the Celtics in a thrilling overtime game on Sunday"
    a = augment(text, random.Random(1), dropout=0.3, swap=0.3)
    assert a == augment(text, random.Random(1), dropout=0.3, swap=0.3) and a != text
    assert set(a.split()) <= set(text.split())
    assert augment(text, random.Random(1)) == text
    dropped = perturb(text, "drop_words", 0.5, random.Random(2))
    assert 0 < len(dropped.split()) < len(text.split())
    typos = perturb(text, "typos", 1.0, random.Random(3))
    assert typos != text and len(typos.split()) == len(text.split())
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb(text, "shout", 0.5, random.Random(0))


def test_set_flags_and_invalid_combinations_are_explained():
    assert parse_settings(["tuning=lora", "adv_epsilon=0.1", "stem=true"]) == {"tuning": "lora", "adv_epsilon": 0.1,
                                                                                "stem": True}
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_settings(["tuning"])
    with pytest.raises(ConfigError, match="--tuning: Input should be .full., .lora., .adalora. or .adapter."):
        load_config(tuning="prefix")
    with pytest.raises(ConfigError, match="needs token_dropout"):
        load_config(augment_prob=0.5)
    with pytest.raises(ConfigError, match="needs a trainable transformer"):
        load_config(finetune_layers=1, quantize="int8")


@pytest.mark.parametrize("settings", [
    {"finetune_layers": 1, "tuning": "lora", "adversarial": "fgm"},
    {"finetune_layers": 1, "tuning": "adapter", "adversarial": "pgd", "adv_steps": 2},
    {"adversarial": "pgd", "augment_prob": 0.3, "token_dropout": 0.2, "token_swap": 0.1, "remove_stopwords": True},
])
def test_techniques_train_save_and_load_back(tiny_world, tmp_path, settings):
    news = read_news(tiny_world)
    imps, dev = read_behaviors(tiny_world / "train")[:40], read_behaviors(tiny_world / "dev")[:30]
    config = load_config(epochs=1, max_length=24, batch_size=16, user_encoder="mean", **settings)
    result = train(config, news, imps, tmp_path / "m", valid_impressions=dev, cache=EmbeddingCache())
    assert np.isfinite(result.history[0]["train_loss"])
    summary = json.loads((tmp_path / "m" / "train_summary.json").read_text())
    assert summary["trainable_parameters"] == result.trainable_parameters > 0
    ranker = Ranker.load(tmp_path / "m", news, EmbeddingCache())  # the saved config rebuilds the encoder
    assert ranker.spec.model_dump() == {k: v for k, v in config.model_dump().items() if k in type(ranker.spec).model_fields}
    metrics = evaluate_scores(dev, ranker.score(dev), news, ranker.stats)
    assert metrics["auc"] == pytest.approx(result.best_valid["auc"], abs=1e-4)


def test_ensemble_weights_and_fusion_layer_load_back(tiny_world, tmp_path):
    news, imps = read_news(tiny_world), read_behaviors(tiny_world / "train")
    dev = read_behaviors(tiny_world / "dev")
    dirs = []
    for name, settings in (("mean", {"user_encoder": "mean"}), ("nrms", {"user_encoder": "nrms"})):
        train(load_config(epochs=2, **settings), news, imps, tmp_path / name, cache=EmbeddingCache())
        dirs.append(str(tmp_path / name))
    members = [Ranker.load(d, news, EmbeddingCache()) for d in dirs]
    for fusion in ("mean", "weights", "learned"):
        fitted = fit_ensemble(members, dirs, fusion, dev)
        fitted.save(tmp_path / fusion)
        loaded = load_scorer(tmp_path / fusion, news, EmbeddingCache())
        assert isinstance(loaded, Ensemble) and np.allclose(loaded.weights, fitted.weights)
        for a, b in zip(fitted.score(dev), loaded.score(dev)):
            assert np.allclose(a, b, atol=1e-6)
    assert abs(fitted.weights.sum() - 1) < 1e-9


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_matches_one_process(tiny_world, tmp_path):
    """torchrun with 2 CPU processes (gloo) takes the same steps as one process on the whole batch.

    Tolerance: parameters within 1e-4, validation AUC within 1e-3 (gradient sums in another order;
    the mean user encoder has no dropout, whose random masks would differ per process). The
    popularity MLP's biases shift every logged candidate of an impression alike, which the
    softmax ignores: their gradients are rounding noise that Adam scales up to steps of about
    the learning rate, so they are held to lr x steps (what such noise can add up to).
    """
    newsrec = str(Path(sys.executable).parent / "newsrec")
    args = ["train", "--news", str(tiny_world), "--behaviors", str(tiny_world / "train"), "--valid",
            str(tiny_world / "dev"), "--epochs", "2", "--batch-size", "16", "--user-encoder", "mean",
            "--set", "quantize=none", "--set", "train_precision=fp32"]  # the tolerance below is for fp32
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([newsrec, *args, "--out", str(tmp_path / "one")], check=True, env=env, capture_output=True)
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                          f"--master_port={_free_port()}", newsrec, *args, "--out", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True)
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
