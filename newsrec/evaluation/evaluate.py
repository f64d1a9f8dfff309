"""The evaluation loop, written once: scores for impressions -> averaged metrics.

Every metric is averaged over the impressions that have at least one click and one non-click
(MIND's rule for AUC, `metrics.judgeable`); the others (no labels, no click, or nothing but
clicks) are skipped and counted: the result's "impressions" are those judged, its "skipped"
those left out. Beyond-accuracy figures look at each judged impression's top k. `MetricTally`
takes the impressions in chunks (`SCORE_CHUNK` at a time where a caller scores them), so a
large file never has all its scores in memory at once.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence

import numpy as np

from newsrec.data.mind import Impression, News
from newsrec.evaluation import metrics

__all__ = ["evaluate_scores", "MetricTally", "METRIC_NAMES", "ACCURACY_METRICS", "HEADLINE_METRICS", "SCORE_CHUNK"]

ACCURACY_METRICS = ("auc", "mrr", "ndcg@5", "ndcg@10", "acc@1", "ctr@5", "ctr@10")
HEADLINE_METRICS = ACCURACY_METRICS[:4]  # the four the MIND leaderboard reports: an epoch's line, replay, tables
BEYOND_METRICS = ("diversity@10", "coverage@10", "novelty@10")
METRIC_NAMES = ACCURACY_METRICS + BEYOND_METRICS
TOP_K = 10
# what a tally counted: per-impression metrics, items shown in a top k, items listed, impressions skipped
Counted = tuple[dict[str, array], set[str], set[str], int]
SCORE_CHUNK = 2_000  # impressions scored and tallied at a time (and the step of a progress count)


def evaluate_scores(
    impressions: Sequence[Impression],
    scores: list[np.ndarray],
    news: dict[str, News],
    clicks: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Average every metric over the judged impressions: {metric: value, "impressions": judged, "skipped": n}.

    `clicks` (training clicks per item) makes novelty measurable.
    """
    tally = MetricTally(news, clicks)
    tally.add(impressions, scores)
    return tally.result()


class MetricTally:
    """The metrics of impressions added chunk by chunk: a file of any size in bounded memory
    (8 bytes per impression and metric, the items shown and listed for coverage). Impressions
    without both a click and a non-click are not judged: `skipped` counts them."""

    def __init__(self, news: dict[str, News], clicks: Mapping[str, float] | None = None):
        self.category = {i: n.category for i, n in news.items()}
        self.clicks = clicks or {}
        self.total_clicks = sum(self.clicks.values())
        self.per = {m: array("d") for m in METRIC_NAMES if m != "coverage@10"}
        self.shown: set[str] = set()  # in some top-k list
        self.catalogue: set[str] = set()  # among some impression's candidates
        self.skipped = 0  # impressions with no ranking to judge (no labels, no click or no non-click)

    def add(self, impressions: Sequence[Impression], scores: list[np.ndarray]) -> None:
        if len(impressions) != len(scores):
            raise ValueError(f"{len(impressions)} impressions but {len(scores)} score lists")
        per = self.per
        for imp, s in zip(impressions, scores):
            self.catalogue.update(imp.candidates)
            if imp.labels is None or not metrics.judgeable(imp.labels):
                self.skipped += 1
                continue
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

    def counted(self) -> Counted:
        """What was counted (per-impression metrics, items shown and listed, impressions skipped), to be `merged`."""
        return self.per, self.shown, self.catalogue, self.skipped

    @classmethod
    def merged(cls, parts: Sequence[Counted]) -> MetricTally:
        """One tally of the impressions several tallies counted (e.g. one per process), in order."""
        tally = cls({})
        for per, shown, catalogue, skipped in parts:
            for name, values in per.items():
                tally.per[name].extend(values)
            tally.shown |= shown
            tally.catalogue |= catalogue
            tally.skipped += skipped
        return tally

    def result(self) -> dict[str, float]:
        judged = len(self.per["auc"])
        if not judged:
            raise ValueError(
                f"none of the {self.skipped} impressions has both a click and a non-click: nothing to evaluate "
                "(give a labelled behaviors file)"
            )
        result = {m: float(np.mean(v)) for m, v in self.per.items()}
        result["coverage@10"] = len(self.shown & self.catalogue) / len(self.catalogue)
        result["impressions"] = judged
        result["skipped"] = self.skipped
        return result
