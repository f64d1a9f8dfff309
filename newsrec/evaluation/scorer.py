"""What `evaluate` and `predict` need of a trained scorer: a single model or an ensemble."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from newsrec.data.mind import Impression, News
from newsrec.data.popularity import Popularity
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import NewsTable

__all__ = ["Scorer"]


class Scorer(Protocol):
    """`Ranker` and `Ensemble` both score impressions; the baselines beside them need the
    training-log counts and the untrained encoder's vectors of the same news."""

    @property
    def popularity(self) -> Popularity:
        """Clicks and views in the training logs (the popularity and CTR baselines)."""
        ...

    def score(self, impressions: Sequence[Impression]) -> list[np.ndarray]:
        """One score array per impression, in candidate order; higher = more relevant."""
        ...

    def zero_shot_table(self, news: dict[str, News], cache: EmbeddingCache | None = None) -> NewsTable:
        """Vectors of `news` from the pretrained encoder, untouched by training (the cosine baseline)."""
        ...
