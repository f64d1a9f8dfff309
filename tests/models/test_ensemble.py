"""Ensembles: mean, tuned weights and a learned fusion layer; each saves and loads back."""

import numpy as np
import pytest
import torch

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.evaluation.evaluate import evaluate_scores
from newsrec.models.ensemble import Ensemble, FusionLayer, fit_ensemble, load_scorer
from newsrec.models.ranker import Ranker
from newsrec.training.config import load_config
from newsrec.training.recipe import train


@pytest.fixture(scope="module")
def members(tiny_world, tmp_path_factory):
    news, imps = read_news(tiny_world), read_behaviors(tiny_world / "train")
    tmp = tmp_path_factory.mktemp("members")
    dirs = []
    for name, settings in (("mean", {"user_encoder": "mean"}), ("nrms", {"user_encoder": "nrms"})):
        train(load_config(epochs=2, **settings), news, imps, tmp / name, cache=EmbeddingCache())
        dirs.append(str(tmp / name))
    return news, dirs, [Ranker.load(d, news, EmbeddingCache()) for d in dirs]


@pytest.mark.parametrize("fusion", ["mean", "weights", "learned"])
def test_each_fusion_saves_and_loads_back(members, tiny_world, tmp_path, fusion):
    news, dirs, rankers = members
    dev = read_behaviors(tiny_world / "dev")
    fitted = fit_ensemble(rankers, dirs, fusion, dev)
    fitted.save(tmp_path / fusion)
    loaded = load_scorer(tmp_path / fusion, news, EmbeddingCache())
    assert isinstance(loaded, Ensemble) and loaded.fusion == fusion and np.allclose(loaded.weights, fitted.weights)
    for a, b in zip(fitted.score(dev), loaded.score(dev), strict=True):
        assert np.allclose(a, b, atol=1e-6)


def test_tuned_weights_and_the_learned_layer_actually_learn(members, tiny_world):
    _, dirs, rankers = members
    dev = read_behaviors(tiny_world / "dev")
    auc = lambda scorer: evaluate_scores(dev, scorer.score(dev), {})["auc"]  # noqa: E731
    mean = fit_ensemble(rankers, dirs, "mean", dev)
    weights = fit_ensemble(rankers, dirs, "weights", dev)
    assert abs(weights.weights.sum() - 1) < 1e-9 and auc(weights) >= auc(mean)  # the grid holds the mean's point
    learned = fit_ensemble(rankers, dirs, "learned", dev, seed=0)
    torch.manual_seed(0)
    untrained = FusionLayer(len(rankers))
    assert learned.layer is not None
    moved = [
        not torch.equal(a, b) for a, b in zip(learned.layer.state_dict().values(), untrained.state_dict().values())
    ]
    assert all(moved)  # trained from the same start, so every tensor moved
    assert auc(learned) > 0.5
