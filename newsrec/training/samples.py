"""Training samples, MIND-style: each click with K non-clicks sampled from its impression.

The click sits at position 0, so the loss is cross-entropy against class 0 over 1 + K
scores. An impression with fewer than K non-clicks repeats them (sampling with replacement);
one with no non-click yields no sample. Each row carries its candidates' popularity features
as they stood just before the impression (`Popularity.replay`).
"""

from __future__ import annotations

import random

import numpy as np

from newsrec.data.mind import Impression
from newsrec.models.batch import Row

__all__ = ["sample_rows"]


def sample_rows(
    impressions: list[Impression], popularity: list[dict[str, np.ndarray]], negatives: int, rng: random.Random
) -> list[Row]:
    """One shuffled epoch of rows: [click, K non-clicks] with the impression's history.

    `popularity[i]` maps impression i's candidates to their features before it.
    """
    rows = []
    for imp, features in zip(impressions, popularity):
        non_clicks = [c for c, y in zip(imp.candidates, imp.labels or []) if y == 0]
        if not non_clicks:
            continue
        for click in imp.clicked:
            if len(non_clicks) >= negatives:
                sampled = rng.sample(non_clicks, negatives)
            else:
                sampled = rng.choices(non_clicks, k=negatives)
            candidates = [click, *sampled]
            rows.append(Row(imp.history, candidates, np.stack([features[c] for c in candidates])))
    rng.shuffle(rows)
    return rows
