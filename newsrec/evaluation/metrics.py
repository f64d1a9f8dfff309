"""Ranking metrics per impression, as in MIND's evaluate.py, plus beyond-accuracy figures.

Each accuracy metric takes one impression's labels `y` (1 = clicked) and scores, and the
caller averages over impressions. nDCG uses gain 2^rel - 1 and discount log2(rank + 1);
MRR is the mean reciprocal rank of the clicked items. Tied scores are ranked in expectation
over every order of the tied items (AUC counts a tie half): a scorer that ties many items
(popularity or CTR on unseen news) gains or loses nothing by the order the candidates were
listed in. `ranks` (prediction.txt) and `top_k` (beyond-accuracy) need one order: theirs keeps
the listed order among ties.

One rule for every accuracy metric (MIND's rule for AUC): an impression is judged only if it has
at least one click and one non-click. Any other (no click, or nothing but clicks) has no ranking
to judge: each metric raises `UnjudgeableImpression` for it, and callers that average over
impressions skip those for which `judgeable` is false and count them (`MetricTally.skipped`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "UnjudgeableImpression",
    "judgeable",
    "auc",
    "mrr",
    "ndcg",
    "hit_at_k",
    "ranks",
    "top_k",
    "category_diversity",
    "coverage",
    "novelty",
]


class UnjudgeableImpression(ValueError):
    """An impression without a click or without a non-click: no accuracy metric is defined for it."""


def judgeable(y: ArrayLike) -> bool:
    """Whether an impression's labels hold at least one click (1) and one non-click (0)."""
    labels = np.asarray(y)
    return bool((labels == 1).any() and (labels == 0).any())


def _require_judgeable(y: ArrayLike, metric: str) -> np.ndarray:
    labels = np.asarray(y)
    if not judgeable(labels):
        clicks = int((labels == 1).sum())
        raise UnjudgeableImpression(
            f"{metric} needs at least one click and one non-click in the impression (it has {clicks} clicks "
            f"among {len(labels)} candidates): skip such impressions, as `metrics.judgeable` tells"
        )
    return labels


def auc(y: ArrayLike, scores: ArrayLike) -> float:
    """Probability a random click outranks a random non-click (ties count half)."""
    labels, s = _require_judgeable(y, "AUC"), np.asarray(scores, dtype=np.float64)
    pos, neg = s[labels == 1], s[labels == 0]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def _order(scores: ArrayLike) -> np.ndarray:
    # Stable sort on -score: equal scores keep the listed order, so results are deterministic.
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def _expected_sum(gains: np.ndarray, scores: ArrayLike, discount: np.ndarray) -> float:
    """E[sum over positions of gain(item there) x discount[position]] over every order of tied
    items (McSherry & Najork, ECIR 2008): each run of equal scores spreads its mean gain over
    the discounts of the positions it holds. Without ties: the plain sum."""
    s = np.asarray(scores, dtype=np.float64)
    order = _order(s)
    ranked = s[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    sizes = np.diff(np.r_[starts, len(s)])
    group_gain = np.add.reduceat(np.asarray(gains, dtype=np.float64)[order], starts)
    return float((group_gain / sizes * np.add.reduceat(discount, starts)).sum())


def mrr(y: ArrayLike, scores: ArrayLike) -> float:
    """Mean reciprocal rank of the clicked items; tied scores give each tied item the mean of
    their places' reciprocal ranks (the listed order decides nothing)."""
    labels = _require_judgeable(y, "MRR").astype(np.float64)
    return _expected_sum(labels, scores, 1.0 / (np.arange(len(labels)) + 1)) / labels.sum()


def _dcg(y_sorted: np.ndarray, k: int) -> float:
    y_sorted = y_sorted[:k]
    gains = 2**y_sorted - 1
    return float((gains / np.log2(np.arange(len(y_sorted)) + 2)).sum())


def ndcg(y: ArrayLike, scores: ArrayLike, k: int) -> float:
    """nDCG@k, in expectation over the orders of tied items."""
    labels = _require_judgeable(y, "nDCG")
    best = _dcg(np.sort(labels)[::-1], k)
    discount = 1.0 / np.log2(np.arange(len(labels)) + 2)
    discount[k:] = 0.0
    return _expected_sum(2.0**labels - 1, scores, discount) / best


def hit_at_k(y: ArrayLike, scores: ArrayLike, k: int) -> float:
    """Whether a clicked item is in the top k (CTR@k over impressions): the probability of it
    when tied items straddle the cut-off, over every order of them."""
    labels, s = _require_judgeable(y, "CTR@k"), np.asarray(scores, dtype=np.float64)
    order = _order(s)
    ranked, clicked = s[order], labels[order] == 1
    if k >= len(s):
        return float(clicked.any())
    cut = ranked[k - 1]  # the score at the last place inside the top k
    if clicked[ranked > cut].any():
        return 1.0
    tied = ranked == cut
    n, c, places = int(tied.sum()), int(clicked[tied].sum()), int(k - (ranked > cut).sum())
    # of the n tied items, `places` fall inside: none of the c clicked ones among them
    return 1.0 - math.comb(n - c, places) / math.comb(n, places)


def ranks(scores: ArrayLike) -> list[int]:
    """1-based rank of each listed item, best = 1 (the MIND leaderboard's prediction.txt)."""
    order = _order(scores)
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(1, len(order) + 1)
    return out.tolist()


def top_k(items: Sequence[str], scores: ArrayLike, k: int) -> list[str]:
    return [items[i] for i in _order(scores)[:k]]


def category_diversity(top_items: Sequence[str], category: dict[str, str]) -> float:
    """Share of distinct categories in one top-k list (1.0 = all different)."""
    cats = [category.get(i, "") for i in top_items]
    return len(set(cats)) / len(cats) if cats else 0.0


def coverage(top_lists: Sequence[Sequence[str]], catalogue: set[str]) -> float:
    """Share of the candidate catalogue that appears in at least one top-k list."""
    shown = {i for lst in top_lists for i in lst}
    return len(shown & catalogue) / len(catalogue) if catalogue else 0.0


def novelty(top_items: Sequence[str], clicks: Mapping[str, float], total_clicks: float) -> float:
    """Mean self-information -log2 p(i) of the items, p from training clicks (add-one smoothed)."""
    n_items = len(clicks) + 1
    return float(np.mean([-math.log2((clicks.get(i, 0) + 1) / (total_clicks + n_items)) for i in top_items]))
