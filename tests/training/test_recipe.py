import json

import numpy as np
import pytest
import torch

from newsrec.data.behaviors import Behaviors, read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.training.config import load_config
from newsrec.training.recipe import train
from newsrec.training.samples import impressions_of, sample_rows


def test_samples_put_the_click_first_with_k_non_clicks(tiny_world):
    import random

    imps = Behaviors.read(tiny_world / "train")
    rows = sample_rows(imps, negatives=4, rng=random.Random(0))
    assert rows.shape == (imps.clicks(), 5)  # every impression here has non-clicks: a row per click
    assert (imps.labels[rows[:, 0]] == 1).all() and (imps.labels[rows[:, 1:]] == 0).all()
    owner = impressions_of(imps, rows)
    assert (owner == owner[:, :1]).all()  # a row's candidates come from one impression
    assert np.array_equal(np.bincount(owner[:, 0], minlength=len(imps)), [len(i.clicked) for i in imps])
    assert not np.array_equal(owner[:, 0], np.sort(owner[:, 0]))  # shuffled
    again = sample_rows(imps, negatives=4, rng=random.Random(0))
    assert np.array_equal(rows, again)  # the seed decides


def test_training_lowers_the_loss_and_writes_its_artifacts(tiny_world, tmp_path):
    news = read_news(tiny_world)
    config = load_config(epochs=4, patience=4, user_encoder="nrms", scorer="bilinear", lr=3e-3)
    result = train(
        config,
        news,
        read_behaviors(tiny_world / "train"),
        tmp_path / "m",
        valid_impressions=read_behaviors(tiny_world / "dev"),
        cache=EmbeddingCache(),
    )
    losses = [h.train_loss for h in result.history]
    assert len(losses) == 4 and losses[-1] < losses[0] * 0.9
    for name in ("model.pt", "config.json", "popularity.json", "metrics.jsonl", "training_curve.png", "checkpoint.pt"):
        assert (tmp_path / "m" / name).is_file(), name
    assert json.loads((tmp_path / "m" / "config.json").read_text())["user_encoder"] == "nrms"
    assert len((tmp_path / "m" / "metrics.jsonl").read_text().splitlines()) == 4
    assert 0.5 < result.best_valid["auc"] <= 1.0


def test_a_stopped_run_resumes_where_it_ended(tiny_world, tmp_path):
    news, imps = read_news(tiny_world), read_behaviors(tiny_world / "train")
    first = train(load_config(epochs=1), news, imps, tmp_path / "m", cache=EmbeddingCache())
    resumed = train(load_config(epochs=3), news, imps, tmp_path / "m", cache=EmbeddingCache())
    assert [h.epoch for h in resumed.history] == [1, 2, 3]
    assert resumed.history[0] == first.history[0]  # epoch 1 was not run again
    straight = train(load_config(epochs=3), news, imps, tmp_path / "straight", cache=EmbeddingCache())
    assert [h.train_loss for h in straight.history] == pytest.approx([h.train_loss for h in resumed.history], rel=1e-4)
    with pytest.raises(ValueError, match="other settings"):
        train(load_config(epochs=3, lr=0.5), news, imps, tmp_path / "m", cache=EmbeddingCache())
    # an optimiser state in another parameter order (a run stopped by a pre-towers newsrec): a clear error
    checkpoint = torch.load(tmp_path / "m" / "checkpoint.pt", weights_only=False)
    moments = checkpoint["optimizer"]["state"]
    moments[0], moments[1] = moments[1], moments[0]
    torch.save(checkpoint, tmp_path / "m" / "checkpoint.pt")
    with pytest.raises(ValueError, match="--restart"):
        train(load_config(epochs=4), news, imps, tmp_path / "m", cache=EmbeddingCache())


def test_finetuning_trains_only_the_top_layers(tiny_world, tmp_path):
    news, imps = read_news(tiny_world), read_behaviors(tiny_world / "train")[:20]
    config = load_config(epochs=1, finetune_layers=1, max_length=16, batch_size=8, user_encoder="mean")
    train(config, news, imps, tmp_path / "ft", cache=EmbeddingCache())
    saved = torch.load(tmp_path / "ft" / "model.pt", weights_only=True)["plm_trained"]
    assert saved and all(k.startswith("transformer.encoder.layer.5.") for k in saved)
    from newsrec.encoders.plm import PLM

    base = dict(PLM("all-MiniLM-L6-v2").named_parameters())
    assert any(not torch.equal(v, base[k]) for k, v in saved.items())
