"""Several frozen encoders read as one: their unit vectors side by side, scaled to unit length.

`--encoder multilingual-e5-small+use-multilingual-v3` gives every news and user text a
384 + 512 = 896-d vector. The recommender on top gives each member's slice its own tower (user
encoder, W, scale; models/recommender.py) and sums their scores: an ensemble of one interest
model per encoder, trained together, which the service's vector index serves as one model.
Each member keeps its own cache key, so a member's vectors are reused by single-encoder models.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from newsrec.encoders.base import Encoder
from newsrec.progress import Progress

__all__ = ["ConcatEncoder", "SEPARATOR", "member_dims"]

SEPARATOR = "+"


class ConcatEncoder(nn.Module):
    """Frozen only: the members' own tuning would need one learning path per member."""

    def __init__(self, members: list[Encoder]):
        super().__init__()
        self.members = members
        self.name = SEPARATOR.join(m.name for m in members)
        self.max_length = max(m.max_length for m in members)

    @property
    def dim(self) -> int:
        return sum(m.dim for m in self.members)

    @property
    def model_id(self) -> str:
        return SEPARATOR.join(m.model_id for m in self.members)

    def embed(self, texts: list[str], batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        """(N,) strings -> (N, sum of dims) float32 unit vectors (each member weighs the same)."""
        joined = self.join([m.embed(texts, batch_size) for m in self.members])
        if progress is not None:
            progress.update(len(texts))
        return joined

    @staticmethod
    def join(parts: list[np.ndarray]) -> np.ndarray:
        """The members' unit vectors of the same texts -> one unit vector per text."""
        return np.concatenate(parts, axis=1) / np.sqrt(len(parts), dtype=np.float32)


def member_dims(encoder: object) -> list[int] | None:
    """The slice of the vector each member fills, for a ConcatEncoder; None for a single encoder."""
    return [m.dim for m in encoder.members] if isinstance(encoder, ConcatEncoder) else None
