"""PLM tuning: the encode-once cache equals the full model; PEFT methods touch only their parameters;
int8 quantisation keeps the embeddings."""

import numpy as np
import pytest
import torch

from newsrec.encoders.layer_cache import LayerCache
from newsrec.encoders.plm import PLM
from newsrec.encoders.tuning import TuningSpec

TEXTS = [
    "Lakers win the opener",
    "Fed cuts interest rates again as inflation cools",
    "Storm hits the coast",
    "A very long headline about the election " * 6,
]


@pytest.mark.parametrize("method", ["full", "lora", "adapter"])
def test_cached_lower_layers_give_the_full_models_vectors(method):
    plm = PLM(max_length=48, quantize="none")  # fp32 like the tuned layers, so the match can be exact
    plm.tune(TuningSpec(2, method))
    with torch.no_grad():  # move the tuned parameters off their identity start so the check means something
        for p in plm.parameters():
            if p.requires_grad:
                p.add_(0.02 * torch.randn_like(p))
    cache = LayerCache(plm, TEXTS, batch_size=2)  # batches pad differently from the full run below
    cached = cache.encode_all(plm)
    full = plm.embed(TEXTS)
    assert np.abs(cached - full).max() < 1e-5
    assert (
        np.abs(full - PLM(max_length=48, quantize="none").embed(TEXTS)).max() > 1e-3
    )  # the tuned layers did change the output


@pytest.mark.parametrize("method,marker", [("lora", "lora_"), ("adalora", "lora_"), ("adapter", "output.dense.1.")])
def test_a_training_step_changes_only_the_methods_parameters(method, marker):
    plm = PLM(max_length=32)
    plm.tune(TuningSpec(2, method, total_steps=20))
    frozen_id = plm.model_id
    before = {k: v.detach().clone() for k, v in plm.named_parameters()}
    trainable = {k for k, v in plm.named_parameters() if v.requires_grad}
    assert trainable and all(marker in k and (".layer.4." in k or ".layer.5." in k) for k in trainable)
    optimizer = torch.optim.AdamW([p for p in plm.parameters() if p.requires_grad], lr=1e-2)
    plm.train()
    for step in range(1, 3):  # lora_B / adapter "up" start at zero: the second step moves everything
        cache = LayerCache(plm, TEXTS)
        vectors = plm.upper(*cache.batch(list(range(len(TEXTS)))))
        loss = -(vectors[0] @ vectors[1]) + plm.regularization()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        plm.after_step(step)
    changed = {k for k, v in plm.named_parameters() if not torch.equal(v, before[k])}
    assert changed and changed <= trainable
    assert plm.model_id.startswith(frozen_id + "|ft-")  # tuned vectors never mix with the frozen cache


def test_int8_encoder_keeps_the_embeddings_and_its_own_cache_key():
    fp32, int8 = PLM(max_length=32, quantize="none"), PLM(max_length=32, quantize="int8")
    a, b = fp32.embed(TEXTS), int8.embed(TEXTS)
    cosine = (a * b).sum(1)
    assert cosine.mean() > 0.95 and cosine.min() > 0.9
    assert int8.model_id != fp32.model_id
    with pytest.raises(ValueError, match="cannot be trained"):
        int8.tune(TuningSpec(1))
