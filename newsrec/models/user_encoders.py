"""User encoders: a user's clicked-news vectors -> one interest vector.

All take history vectors `(B, H, D)` and a mask `(B, H)` (True = real item) and return
`(B, D)`. Rows with an empty history are the recommender's business (it swaps in a prior);
here they only must not produce NaN.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

__all__ = [
    "UserEncoderKind",
    "MeanUserEncoder",
    "AdditiveAttention",
    "NRMSUserEncoder",
    "build_user_encoder",
    "USER_ENCODERS",
]


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, H, 1)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


class MeanUserEncoder(nn.Module):
    """The user is the mean of their clicked news vectors (no parameters)."""

    def forward(self, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return _masked_mean(history, mask)


class AdditiveAttention(nn.Module):
    """Additive attention pooling (Wu et al. 2019): a_i = softmax(q^T tanh(W h_i + b))."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))

    def weights(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, H, D), (B, H) -> attention weights (B, H); all-zero for an empty row."""
        logits = self.proj(x).squeeze(-1).masked_fill(~mask, float("-inf"))
        return torch.softmax(logits, dim=-1).nan_to_num(0.0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bh,bhd->bd", self.weights(x, mask), x)


class NRMSUserEncoder(nn.Module):
    """NRMS (Wu et al. 2019): multi-head self-attention over history, then additive attention.

    A residual connection and layer norm keep the pretrained geometry of frozen embeddings
    at initialisation, which matters with few training clicks.
    """

    def __init__(self, dim: int, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.pool = AdditiveAttention(dim)

    def forward(self, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # An all-padding row would make attention NaN: let it attend to slot 0 (masked out later).
        safe = mask.clone()
        safe[:, 0] |= ~mask.any(1)
        attended, _ = self.self_attn(history, history, history, key_padding_mask=~safe, need_weights=False)
        h = self.norm(history + attended)
        return self.pool(h, mask)


UserEncoderKind = Literal["mean", "nrms"]
USER_ENCODERS: tuple[str, ...] = get_args(UserEncoderKind)


def build_user_encoder(name: str, dim: int, heads: int = 4) -> nn.Module:
    if name == "mean":
        return MeanUserEncoder()
    if name == "nrms":
        return NRMSUserEncoder(dim, heads)
    raise ValueError(f"unknown user encoder {name!r}: choose from {USER_ENCODERS}")
