"""Training samples, MIND-style: each click with K non-clicks sampled from its impression.

The click sits at position 0, so the loss is cross-entropy against class 0 over 1 + K
scores. An impression with fewer than K non-clicks repeats them (sampling with replacement);
one with no non-click yields no sample. A row is the candidate slots of a `Behaviors` (its
history and its candidates' popularity before the impression are looked up per batch), so an
epoch's rows take 4-8 bytes a candidate, not a copy of every impression.
"""

from __future__ import annotations

import random

import numpy as np

from newsrec.data.behaviors import Behaviors

__all__ = ["sample_rows", "impressions_of"]


def sample_rows(behaviors: Behaviors, negatives: int, rng: random.Random) -> np.ndarray:
    """One shuffled epoch of rows: (rows, 1 + K) candidate slots, the click first.

    The random draws are those of sampling each impression's candidate list in turn: the same
    seed gives the same rows whatever the layout of the data.
    """
    labels, at, impression = behaviors.labels, behaviors.candidates_at, behaviors.impression_of_slot()
    has_non_click = np.zeros(len(behaviors), bool)
    has_non_click[impression[labels == 0]] = True
    clicks_per_impression = np.bincount(impression[labels == 1], minlength=len(behaviors))
    rows: np.ndarray = np.empty(
        (int(clicks_per_impression[has_non_click].sum()), 1 + negatives), _slot_type(len(labels))
    )
    r = 0
    for i in np.flatnonzero(has_non_click & (clicks_per_impression > 0)).tolist():
        own = labels[at[i] : at[i + 1]]
        non_clicks = (np.flatnonzero(own == 0) + at[i]).tolist()
        for click in (np.flatnonzero(own == 1) + at[i]).tolist():
            if len(non_clicks) >= negatives:
                sampled = rng.sample(non_clicks, negatives)
            else:
                sampled = rng.choices(non_clicks, k=negatives)
            rows[r, 0], rows[r, 1:] = click, sampled
            r += 1
    order = list(range(len(rows)))
    rng.shuffle(order)
    return rows[order]


def impressions_of(behaviors: Behaviors, slots: np.ndarray) -> np.ndarray:
    """The impression each slot belongs to."""
    return np.searchsorted(behaviors.candidates_at, slots, side="right") - 1


def _slot_type(slots: int) -> type:
    return np.int32 if slots < 2**31 else np.int64
