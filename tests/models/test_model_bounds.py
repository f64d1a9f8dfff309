"""Saved models that declare absurd sizes, or hold weights of other shapes than they declare, are
refused by `Ranker.load` with an error that names the setting or tensor, before anything large
is built (so `newsrec serve`, a deployment and every command refuse them alike)."""

import json
import shutil

import pytest
import torch

from newsrec.models.ranker import Ranker
from newsrec.models.spec import MAX_HISTORY, ModelSpec
from newsrec.training.config import ConfigError, load_config


def edited(model_dir, to, spec=None, config=None, weights=None):
    """A copy of `model_dir` with these model.json fields, recommender_config fields and weights replaced."""
    shutil.copytree(model_dir, to)
    if spec:
        (to / "model.json").write_text(json.dumps({**json.loads((to / "model.json").read_text()), **spec}))
    saved = torch.load(to / "model.pt", weights_only=True)
    saved["recommender_config"].update(config or {})
    saved["recommender"].update(weights or {})
    torch.save(saved, to / "model.pt")
    return to


@pytest.mark.parametrize(
    ("spec", "config", "refusal"),
    [
        ({"max_history": 10**9}, {}, r"model.json does not describe .*max_history: .* less than or equal to 1000"),
        ({"encode_batch_size": 10**9}, {}, "encode_batch_size"),
        ({"adapter_size": 10**9, "lora_rank": 10**9}, {}, "lora_rank: .*; adapter_size"),
        ({}, {"dim": 10**9}, "declares news vectors of 1000000000 dimensions"),
        ({}, {"dim": 1_000, "member_dims": [1] * 1_000}, "in 1000 towers"),
        ({}, {"user_encoder": "nrms", "heads": 10**6}, "declares 1000000 attention heads"),
        ({}, {"user_encoder": "nrms", "heads": 5}, r"5 attention heads: .* divide each tower's dimensions \(\[384\]\)"),
    ],
)
def test_absurd_sizes_are_refused_before_anything_is_built(model_dir, tmp_path, monkeypatch, spec, config, refusal):
    def built(*_, **__):
        raise AssertionError("the encoder was built before the sizes were checked")

    monkeypatch.setattr(ModelSpec, "build_encoder", built)
    with pytest.raises(ValueError, match=refusal):
        Ranker.load(edited(model_dir, tmp_path / "model", spec, config), {})


def test_training_settings_have_the_same_bounds():
    assert load_config(max_history=MAX_HISTORY).max_history == MAX_HISTORY
    with pytest.raises(ConfigError, match=r"--max-history: .* less than or equal to 1000"):
        load_config(max_history=MAX_HISTORY + 1)


def test_weights_that_do_not_fit_what_the_model_declares_are_refused_by_name(model_dir, tmp_path):
    reshaped = edited(model_dir, tmp_path / "reshaped", weights={"towers.0.bilinear_delta": torch.zeros(8, 8)})
    with pytest.raises(ValueError, match=r"does not fit the model .*size mismatch for towers\.0\.bilinear_delta"):
        Ranker.load(reshaped, {})
    delta = torch.zeros(512, 512)  # weights and settings agree, but not with the encoder the model names
    wider = edited(model_dir, tmp_path / "wider", config={"dim": 512}, weights={"towers.0.bilinear_delta": delta})
    with pytest.raises(ValueError, match="vectors of 512 dimensions, its encoder all-MiniLM-L6-v2 gives 384"):
        Ranker.load(wider, {})
    other = edited(model_dir, tmp_path / "other")
    torch.save({"weights": torch.zeros(3)}, other / "model.pt")
    with pytest.raises(ValueError, match="is not a model saved by `newsrec train`"):
        Ranker.load(other, {})
