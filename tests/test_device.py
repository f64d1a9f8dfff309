"""--device: what each name resolves to, the precision each device gets, and a CPU run through
the same plumbing a GPU run takes (the GPU itself: bench/gpu_check.sh, on a lent GPU)."""

import pytest
import torch

from newsrec.device import resolve_device
from newsrec.precision import needs_scaler, products_dtype


def fake_gpus(monkeypatch, count: int, bf16: bool = True) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)


def test_auto_takes_a_gpu_when_there_is_one_and_the_cpu_otherwise(monkeypatch):
    fake_gpus(monkeypatch, 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") == resolve_device(" CPU ")
    fake_gpus(monkeypatch, 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1) and resolve_device("cuda") == torch.device("cuda", 0)


@pytest.mark.parametrize(
    "name, gpus, fault",
    [("cuda", 0, "no CUDA GPU"), ("cuda:2", 2, "has 2 CUDA GPU"), ("tpu", 0, "unknown device"), ("mps", 0, "Metal")],
)
def test_a_device_this_machine_lacks_is_a_clear_error(monkeypatch, name, gpus, fault):
    fake_gpus(monkeypatch, gpus)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match=fault):
        resolve_device(name)


def test_each_device_gets_the_16_bit_products_it_has(monkeypatch):
    assert products_dtype("fp32", "cpu") is None and products_dtype("bf16", "cpu") == torch.bfloat16
    fake_gpus(monkeypatch, 1, bf16=True)
    assert products_dtype("auto", "cuda") == torch.bfloat16 and not needs_scaler(torch.bfloat16)
    fake_gpus(monkeypatch, 1, bf16=False)  # before Ampere: float16, whose gradients need scaling
    assert products_dtype("auto", "cuda") == torch.float16 and needs_scaler(torch.float16)
    assert products_dtype("auto", "mps") is None
    with pytest.raises(ValueError, match="unknown precision"):
        products_dtype("fp8", "cpu")


def test_train_and_score_through_the_device_plumbing_on_the_cpu(tiny_world, tmp_path):
    from newsrec.data.behaviors import read_behaviors
    from newsrec.data.mind import read_news
    from newsrec.encoders.cache import EmbeddingCache
    from newsrec.models.ranker import Ranker
    from newsrec.training.config import load_config
    from newsrec.training.recipe import train

    news, dev = read_news(tiny_world), read_behaviors(tiny_world / "dev")
    config = load_config(epochs=1, user_encoder="mean", train_precision="fp32")
    train(config, news, read_behaviors(tiny_world / "train"), tmp_path / "m", dev, EmbeddingCache(), device="cpu")
    ranker = Ranker.load(tmp_path / "m", news, EmbeddingCache(), device="cpu")
    assert ranker.device == torch.device("cpu") and ranker.encoder.device == torch.device("cpu")
    scores = ranker.score(dev[:3])
    assert [len(s) for s in scores] == [len(i.candidates) for i in dev[:3]]
    if not torch.cuda.is_available():  # a GPU this machine lacks stops the run before any work
        with pytest.raises(ValueError, match="no CUDA GPU"):
            train(config, news, read_behaviors(tiny_world / "train"), tmp_path / "g", device="cuda")
