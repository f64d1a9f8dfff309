"""The evaluation loop, written once: scores for impressions -> averaged metrics.

Accuracy metrics are averaged over impressions that have at least one click and one
non-click (MIND's rule for AUC); beyond-accuracy figures look at each impression's top k.
`MetricTally` takes the impressions in chunks, so a large file never has all its scores in
memory at once.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence

import numpy as np

from newsrec.data.mind import Impression, News
from newsrec.evaluation import metrics

__all__ = ["evaluate_scores", "MetricTally", "METRIC_NAMES", "ACCURACY_METRICS", "HEADLINE_METRICS"]

ACCURACY_METRICS = ("auc", "mrr", "ndcg@5", "ndcg@10", "acc@1", "ctr@5", "ctr@10")
HEADLINE_METRICS = ACCURACY_METRICS[:4]  # the four the MIND leaderboard reports: an epoch's line, replay, tables
BEYOND_METRICS = ("diversity@10", "coverage@10", "novelty@10")
METRIC_NAMES = ACCURACY_METRICS + BEYOND_METRICS
TOP_K = 10


def evaluate_scores(
    impressions: Sequence[Impression],
    scores: list[np.ndarray],
    news: dict[str, News],
    clicks: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Average every metric over the labelled impressions; returns {metric: value, "impressions": n}.

    `clicks` (training clicks per item) makes novelty measurable.
    """
    tally = MetricTally(news, clicks)
    tally.add(impressions, scores)
    return tally.result()


class MetricTally:
    """The metrics of impressions added chunk by chunk: a file of any size in bounded memory
    (8 bytes per impression and metric, the items shown and listed for coverage)."""

    def __init__(self, news: dict[str, News], clicks: Mapping[str, float] | None = None):
        self.category = {i: n.category for i, n in news.items()}
        self.clicks = clicks or {}
        self.total_clicks = sum(self.clicks.values())
        self.per = {m: array("d") for m in METRIC_NAMES if m != "coverage@10"}
        self.shown: set[str] = set()  # in some top-k list
        self.catalogue: set[str] = set()  # among some impression's candidates

    def add(self, impressions: Sequence[Impression], scores: list[np.ndarray]) -> None:
        if len(impressions) != len(scores):
            raise ValueError(f"{len(impressions)} impressions but {len(scores)} score lists")
        per = self.per
        for imp, s in zip(impressions, scores):
            self.catalogue.update(imp.candidates)
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
            self.shown.update(top)
            per["diversity@10"].append(metrics.category_diversity(top, self.category))
            per["novelty@10"].append(metrics.novelty(top, self.clicks, self.total_clicks))

    def counted(self) -> tuple[dict[str, array], set[str], set[str]]:
        """What was counted (per-impression metrics, items shown and listed), to be `merged`."""
        return self.per, self.shown, self.catalogue

    @classmethod
    def merged(cls, parts: Sequence[tuple[dict[str, array], set[str], set[str]]]) -> MetricTally:
        """One tally of the impressions several tallies counted (e.g. one per process), in order."""
        tally = cls({})
        for per, shown, catalogue in parts:
            for name, values in per.items():
                tally.per[name].extend(values)
            tally.shown |= shown
            tally.catalogue |= catalogue
        return tally

    def result(self) -> dict[str, float]:
        judged = len(self.per["auc"])
        if not judged:
            raise ValueError("no impression has both a click and a non-click: nothing to evaluate")
        result = {m: float(np.mean(v)) for m, v in self.per.items()}
        result["coverage@10"] = len(self.shown & self.catalogue) / len(self.catalogue)
        result["impressions"] = judged
        return result
