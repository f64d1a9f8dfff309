"""The evaluation loop, written once: scores for impressions -> averaged metrics.

Accuracy metrics are averaged over impressions that have at least one click and one
non-click (MIND's rule for AUC); beyond-accuracy figures look at each impression's top k.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from newsrec.data.mind import Impression, News
from newsrec.evaluation import metrics

__all__ = ["evaluate_scores", "METRIC_NAMES", "ACCURACY_METRICS"]

ACCURACY_METRICS = ("auc", "mrr", "ndcg@5", "ndcg@10", "acc@1", "ctr@5", "ctr@10")
BEYOND_METRICS = ("diversity@10", "coverage@10", "novelty@10")
METRIC_NAMES = ACCURACY_METRICS + BEYOND_METRICS
TOP_K = 10


def evaluate_scores(
    impressions: list[Impression],
    scores: list[np.ndarray],
    news: dict[str, News],
    clicks: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Average every metric over the labelled impressions; returns {metric: value, "impressions": n}.

    `clicks` (training clicks per item) makes novelty measurable.
    """
    if len(impressions) != len(scores):
        raise ValueError(f"{len(impressions)} impressions but {len(scores)} score lists")
    per: dict[str, list[float]] = {m: [] for m in METRIC_NAMES}
    tops = []
    category = {i: n.category for i, n in news.items()}
    clicks = clicks or {}
    total_clicks = sum(clicks.values())
    for imp, s in zip(impressions, scores):
        if imp.labels is None or len(set(imp.labels)) < 2:
            continue  # no click or nothing but clicks: no ranking to judge
        y = imp.labels
        per["auc"].append(metrics.auc(y, s))
        per["mrr"].append(metrics.mrr(y, s))
        per["ndcg@5"].append(metrics.ndcg(y, s, 5))
        per["ndcg@10"].append(metrics.ndcg(y, s, 10))
        per["acc@1"].append(metrics.hit_at_k(y, s, 1))
        per["ctr@5"].append(metrics.hit_at_k(y, s, 5))
        per["ctr@10"].append(metrics.hit_at_k(y, s, 10))
        top = metrics.top_k(imp.candidates, s, TOP_K)
        tops.append(top)
        per["diversity@10"].append(metrics.category_diversity(top, category))
        per["novelty@10"].append(metrics.novelty(top, clicks, total_clicks))
    if not tops:
        raise ValueError("no impression has both a click and a non-click: nothing to evaluate")
    catalogue = {c for imp in impressions for c in imp.candidates}
    result = {m: float(np.mean(v)) for m, v in per.items() if v}
    result["coverage@10"] = metrics.coverage(tops, catalogue)
    result["impressions"] = len(tops)
    return result
