"""Baselines scored beside every model: random, popularity, CTR, freshness, zero-shot PLM cosine.

Popularity and CTR are counted from the training logs only (the `Popularity` saved with the
model, at each impression's time), never from the impressions being scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from newsrec.data.mind import Impression
from newsrec.data.popularity import AGE_FEATURE, Popularity
from newsrec.encoders.news_table import PAD, NewsTable

__all__ = [
    "ScoreFn",
    "random_scorer",
    "popularity_scorer",
    "ctr_scorer",
    "freshness_scorer",
    "cosine_scorer",
    "baseline_scorers",
]

ScoreFn = Callable[[Sequence[Impression]], list[np.ndarray]]


def random_scorer(seed: int = 0) -> ScoreFn:
    rng = np.random.default_rng(seed)  # one stream over every call: chunks score as one whole

    def score(impressions: Sequence[Impression]) -> list[np.ndarray]:
        return [rng.random(len(i.candidates)) for i in impressions]

    return score


def popularity_scorer(popularity: Popularity) -> ScoreFn:
    """Rank by (decayed) click count in the training logs."""
    return lambda imps: [
        np.array([popularity.counts(c, popularity.moment_of(i))[0] for c in i.candidates]) for i in imps
    ]


def ctr_scorer(popularity: Popularity) -> ScoreFn:
    """Rank by smoothed click-through rate (clicks + 0.1) / (views + 1) in the training logs."""
    return lambda imps: [popularity.ctr(i.candidates, popularity.moment_of(i)) for i in imps]


def freshness_scorer(popularity: Popularity) -> ScoreFn:
    """Newest first: each item's age at the impression, from its publication where the news has a
    time, else from its first sighting in the training logs (one they never showed is new)."""
    return lambda imps: [-popularity.features(i.candidates, popularity.moment_of(i))[:, AGE_FEATURE] for i in imps]


def cosine_scorer(table: NewsTable) -> ScoreFn:
    """Zero-shot PLM: user = mean of history vectors, score = cosine to the candidate."""
    vectors = table.vectors.numpy()

    def score(impressions: Sequence[Impression]) -> list[np.ndarray]:
        out = []
        for imp in impressions:
            hist = [r for r in table.rows(imp.history) if r != PAD]
            user = vectors[hist].mean(0) if hist else np.zeros(vectors.shape[1], np.float32)
            user /= max(float(np.linalg.norm(user)), 1e-9)
            out.append(vectors[table.rows(imp.candidates)] @ user)
        return out

    return score


def baseline_scorers(popularity: Popularity, frozen_table: NewsTable, seed: int = 0) -> dict[str, ScoreFn]:
    return {
        "random": random_scorer(seed),
        "popularity": popularity_scorer(popularity),
        "ctr": ctr_scorer(popularity),
        "freshness": freshness_scorer(popularity),
        "plm-cosine (zero-shot)": cosine_scorer(frozen_table),
    }
