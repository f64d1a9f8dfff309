"""What every news encoder offers: texts in, unit vectors out, and a cache key for its weights."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from torch import nn

from newsrec.progress import Progress

__all__ = ["Encoder", "FrozenEngine"]


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

    def embed(self, texts: list[str], batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        """(N,) strings -> (N, D) float32 unit vectors; `progress` is counted up as texts finish."""
        ...


class FrozenEngine(nn.Module):
    """An encoder that runs its own inference engine and has no parameters, so the trainer treats
    it like a frozen PLM. Subclasses set `name`, `dim`, `engine` (the cache key's suffix) and
    `_encode` (one batch of texts -> unit vectors)."""

    name: str
    dim: int
    engine: str

    def __init__(self, max_length: int):
        super().__init__()
        self.max_length = max_length  # kept for the cache key; the engines read whole texts

    @property
    def model_id(self) -> str:
        return f"{self.name}|{self.engine}"

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: list[str], batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        """(N,) strings -> (N, dim) float32 unit vectors, in batches; `progress` counts the texts done."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            out[start : start + len(batch)] = self._encode(batch)
            if progress is not None:
                progress.update(len(batch))
        return out
