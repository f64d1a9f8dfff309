"""How the PLM's top layers learn: fully, or through a parameter-efficient method.

- `full`: the layers' own weights train.
- `lora` / `adalora` (peft): low-rank updates of the attention query/key/value and the
  feed-forward projections; AdaLoRA also moves rank between matrices during training and
  adds an orthogonality penalty on its factors.
- `adapter`: a bottleneck adapter (Houlsby/Pfeiffer: down-projection, GELU, up-projection,
  residual) after each tuned layer's feed-forward output. Hand-written in a few lines because
  peft has no bottleneck adapter and the `adapters` library pins transformers 4.x.

Only the top `layers` change; everything below stays frozen, which is what lets the
trainer run the lower layers once per news item (see `layer_cache.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from torch import nn

__all__ = ["TuningMethod", "TUNING_METHODS", "TuningSpec", "BottleneckAdapter", "apply_tuning", "adalora_penalty"]

TuningMethod = Literal["full", "lora", "adalora", "adapter"]
TUNING_METHODS: tuple[str, ...] = get_args(TuningMethod)
LORA_TARGETS = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]


@dataclass(frozen=True)
class TuningSpec:
    layers: int = 0  # top transformer layers that learn; 0 = frozen PLM
    method: str = "full"
    rank: int = 8  # LoRA rank (AdaLoRA: the target average rank)
    alpha: int = 16
    adapter_size: int = 64
    total_steps: int = 1000  # AdaLoRA's rank budget schedule needs the run length


class BottleneckAdapter(nn.Module):
    """x + up(gelu(down(x))); `up` starts at zero so the adapter starts as the identity."""

    def __init__(self, dim: int, size: int):
        super().__init__()
        self.down = nn.Linear(dim, size)
        self.up = nn.Linear(size, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(nn.functional.gelu(self.down(x)))


def apply_tuning(transformer: Any, spec: TuningSpec) -> Any:
    """Freeze the transformer, then make its top `spec.layers` learn by `spec.method`.

    `transformer` is a transformers encoder model (BERT-like: `.encoder.layer[i]`, untyped there).
    Returns peft's tuner for AdaLoRA (the trainer calls its `update_and_allocate`), else None.
    """
    if spec.method not in TUNING_METHODS:
        raise ValueError(f"unknown tuning method {spec.method!r}: choose from {TUNING_METHODS}")
    layers = transformer.encoder.layer
    if spec.layers > len(layers):
        raise ValueError(f"--finetune-layers {spec.layers} exceeds the model's {len(layers)} layers")
    for p in transformer.parameters():
        p.requires_grad = False
    top = list(range(len(layers) - spec.layers, len(layers)))
    if not top:
        return None
    if spec.method == "full":
        for i in top:
            layers[i].requires_grad_(True)
        return None
    if spec.method == "adapter":
        for i in top:
            dense = layers[i].output.dense
            layers[i].output.dense = nn.Sequential(dense, BottleneckAdapter(dense.out_features, spec.adapter_size))
            layers[i].output.dense[1].requires_grad_(True)
        return None
    return _inject_peft(transformer, spec, top)


def _inject_peft(transformer: Any, spec: TuningSpec, top: list[int]) -> Any:
    from peft import AdaLoraConfig, LoraConfig
    from peft.tuners.adalora import AdaLoraModel
    from peft.tuners.lora import LoraModel

    common: dict[str, Any] = dict(
        target_modules=LORA_TARGETS, layers_to_transform=top, layers_pattern="layer", lora_alpha=spec.alpha
    )
    if spec.method == "lora":
        LoraModel(transformer, LoraConfig(r=spec.rank, **common), "default")  # injects in place
        return None
    steps = max(spec.total_steps, 10)
    config = AdaLoraConfig(
        init_r=int(spec.rank * 1.5),
        target_r=spec.rank,
        total_step=steps,
        tinit=steps // 10,
        tfinal=steps // 5,
        **common,
    )
    return AdaLoraModel(transformer, config, "default")


def adalora_penalty(tuner: Any) -> torch.Tensor:
    """AdaLoRA's orthogonality regulariser ||P^T P - I|| over its factors, times its weight.

    peft adds it inside the wrapped model's forward when a loss is returned; the trainer calls
    the layers directly, so it adds the same term itself.
    """
    config = tuner.peft_config["default"]
    terms = []
    for name, p in tuner.model.named_parameters():
        if ("lora_A" in name or "lora_B" in name) and p.requires_grad:
            cov = p @ p.T if "lora_A" in name else p.T @ p
            terms.append(torch.linalg.matrix_norm(cov - torch.eye(len(cov)), "fro"))
    return config.orth_reg_weight * torch.stack(terms).mean() if terms else torch.zeros(())
