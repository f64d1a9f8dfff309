"""News popularity counted from click logs (PP-Rec, Qi et al., ACL 2021).

Counts come from the logs a model is trained on, never from the impressions being scored.
During training each impression's own clicks and views are left out of the counts used to
score it (leave-one-out), so the model cannot learn to read its own label back.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from newsrec.data.mind import Impression

__all__ = ["PopularityStats", "POPULARITY_FEATURES"]

# CTR smoothing as in the MIND sample's reference baseline: (clicks + 0.1) / (views + 1).
CTR_PRIOR_CLICKS = 0.1
CTR_PRIOR_VIEWS = 1.0
POPULARITY_FEATURES = 4


@dataclass
class PopularityStats:
    """Per-news click and view counts from training logs."""

    clicks: Counter = field(default_factory=Counter)
    views: Counter = field(default_factory=Counter)

    @classmethod
    def from_impressions(cls, impressions: list[Impression]) -> PopularityStats:
        stats = cls()
        for imp in impressions:
            stats.add(imp, sign=1)
        return stats

    def add(self, imp: Impression, sign: int = 1) -> None:
        if imp.labels is None:
            return
        for news_id, label in zip(imp.candidates, imp.labels):
            self.views[news_id] += sign
            self.clicks[news_id] += sign * label

    def ctr(self, news_id: str) -> float:
        return (self.clicks[news_id] + CTR_PRIOR_CLICKS) / (self.views[news_id] + CTR_PRIOR_VIEWS)

    def features(self, news_ids: list[str], leave_out: Impression | None = None) -> np.ndarray:
        """Popularity features, shape (N, 4): log clicks, log views, CTR logit, has-log flag.

        `leave_out` removes that impression's own counts first (for training samples).
        A news item with no log gets all zeros, so its score falls back to content alone.
        """
        own_clicks: Counter = Counter()
        own_views: Counter = Counter()
        if leave_out is not None and leave_out.labels is not None:
            for news_id, label in zip(leave_out.candidates, leave_out.labels):
                own_views[news_id] += 1
                own_clicks[news_id] += label
        out = np.zeros((len(news_ids), POPULARITY_FEATURES), dtype=np.float32)
        for i, news_id in enumerate(news_ids):
            views = self.views.get(news_id, 0) - own_views[news_id]
            if views <= 0:
                continue
            clicks = self.clicks.get(news_id, 0) - own_clicks[news_id]
            ctr = (clicks + CTR_PRIOR_CLICKS) / (views + CTR_PRIOR_VIEWS)
            out[i] = (math.log1p(clicks), math.log1p(views), math.log(ctr / (1 - ctr)), 1.0)
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"clicks": dict(self.clicks), "views": dict(self.views)}))

    @classmethod
    def load(cls, path: str | Path) -> PopularityStats:
        raw = json.loads(Path(path).read_text())
        return cls(Counter(raw["clicks"]), Counter(raw["views"]))
