"""The real thing: train on the shared MIND sample and beat the CTR baseline on dev."""

import pytest

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.evaluation.report import compare_with_baselines
from newsrec.models.ranker import Ranker
from newsrec.training.config import load_config
from newsrec.training.recipe import train
from tests.conftest import MIND_SAMPLE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MIND_SAMPLE.exists(), reason="shared MIND sample not present"),
]


def test_trained_model_beats_every_baseline_on_mind_dev(tmp_path):
    news = read_news(MIND_SAMPLE)
    train_imps = read_behaviors(MIND_SAMPLE / "train") + read_behaviors(MIND_SAMPLE / "train-extra")
    dev = read_behaviors(MIND_SAMPLE / "dev")
    cache = EmbeddingCache()
    # 3 epochs of the defaults: about a minute with a cold cache on 2 cores
    train(load_config(epochs=3), news, train_imps, tmp_path / "m", valid_impressions=dev, cache=cache)
    results = compare_with_baselines(Ranker.load(tmp_path / "m", news, cache), news, dev, cache)
    model = results.pop("newsrec (trained)")
    assert model["auc"] > 0.68
    assert all(model["auc"] > r["auc"] for r in results.values()), results
