"""What every news encoder offers: texts in, unit vectors out, and a cache key for its weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

__all__ = ["Encoder", "embed_in_batches"]


class Encoder(Protocol):
    """A text encoder: `PLM` (transformers, can learn), or a frozen engine (`E5Encoder`, `USEEncoder`)."""

    name: str
    max_length: int

    @property
    def dim(self) -> int: ...

    @property
    def model_id(self) -> str:
        """Cache key of the current weights: changes whenever they change."""
        ...

    def embed(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """(N,) strings -> (N, D) float32 unit vectors."""
        ...


def embed_in_batches(
    encode: Callable[[list[str]], np.ndarray], texts: list[str], dim: int, name: str, batch_size: int, progress: bool
) -> np.ndarray:
    """Run a frozen engine's `encode` over `texts` in batches: (N,) strings -> (N, dim) float32."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    batches = range(0, len(texts), batch_size)
    for start in tqdm(batches, desc=f"encoding with {name}", unit="batch", disable=None if progress else True):
        out[start : start + batch_size] = encode(texts[start : start + batch_size])
    return out
