"""News popularity as it stood at a moment: decayed clicks and views, and each item's age.

Every impression adds a view of each candidate and a click of each clicked one, at its time.
Counts decay with a half-life (yesterday's hit weighs less than this morning's), and an item's
age counts from when it was first seen. `features(ids, at)` is what the model's popularity
term reads (PP-Rec, Qi et al., ACL 2021): the state at `at`.

Training replays the logs in time order (`replay`): each impression gets the features of the
state before it, so the model never reads its own label back and learns from exactly what the
live service computes as traffic arrives. Impressions without a time (some MIND samples) are
taken to happen together at the end of the logs: each sees the others, not itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from newsrec.data.mind import Impression

__all__ = ["Popularity", "POPULARITY_FEATURES", "smoothed_ctr"]

# CTR smoothing as in the MIND sample's reference baseline: (clicks + 0.1) / (views + 1).
CTR_PRIOR_CLICKS = 0.1
CTR_PRIOR_VIEWS = 1.0
POPULARITY_FEATURES = 5  # log clicks, log views, CTR logit, log age in hours, has-log flag
HOUR = 3600.0
Counts = TypeVar("Counts", float, np.ndarray)  # one item's, or an array of items'


def smoothed_ctr(clicks: Counts, views: Counts) -> Counts:
    """(clicks + 0.1) / (views + 1); clicks beyond views (no impression was logged) count as views."""
    return (clicks + CTR_PRIOR_CLICKS) / (np.maximum(views, clicks) + CTR_PRIOR_VIEWS)


class Popularity:
    """Decayed click and view counts per news item; `half_life_hours=None` never decays.

    Kept as arrays (one row per item) so the features of a whole catalogue take milliseconds.
    """

    def __init__(self, half_life_hours: float | None = None):
        self.half_life_hours = half_life_hours
        self.row: dict[str, int] = {}
        self.ids: list[str] = []
        # per row: clicks and views decayed to `at`, the time they refer to, when first seen
        self._counts = np.zeros((0, 4), dtype=np.float64)  # columns: clicks, views, at, first_seen
        self.end = 0.0  # the latest time seen: the logs' end, where untimed impressions belong

    def __len__(self) -> int:
        return len(self.ids)

    def _keep(self, seconds: np.ndarray | float) -> np.ndarray:
        """The weight left after `seconds` (none lost for times at or before the counts)."""
        if self.half_life_hours is None:
            return np.ones_like(seconds, dtype=np.float64)
        return 0.5 ** (np.maximum(seconds, 0.0) / (self.half_life_hours * HOUR))

    def _row_of(self, news_id: str, at: float) -> int:
        row = self.row.get(news_id)
        if row is None:
            row = self.row[news_id] = len(self.ids)
            self.ids.append(news_id)
            if row == len(self._counts):  # full: double (amortised O(1) appends)
                self._counts = np.concatenate([self._counts, np.zeros((max(64, row), 4))])
            self._counts[row] = (0.0, 0.0, at, at)
        return row

    def add(self, news_id: str, at: float, views: float = 0.0, clicks: float = 0.0) -> None:
        """Count views and clicks of one item at time `at` (seconds); late arrivals decay into place."""
        row = self._row_of(news_id, at)
        c, v, t, first = self._counts[row]
        if at >= t:
            keep = float(self._keep(at - t))
            self._counts[row] = (c * keep + clicks, v * keep + views, at, min(first, at))
        else:
            weight = float(self._keep(t - at))
            self._counts[row] = (c + clicks * weight, v + views * weight, t, min(first, at))
        self.end = max(self.end, at)

    def add_impression(self, imp: Impression, at: float | None = None, sign: float = 1.0) -> None:
        """Views of every candidate, clicks of the clicked ones, at the impression's time (or `at`)."""
        when = imp.timestamp if at is None else at
        when = self.end if when is None else when
        for news_id, label in zip(imp.candidates, imp.labels or [0] * len(imp.candidates)):
            self.add(news_id, when, views=sign, clicks=sign * label)

    def counts(self, news_id: str, at: float) -> tuple[float, float]:
        """(clicks, views) decayed to `at` (a moment before the last count gives the last counts)."""
        row = self.row.get(news_id)
        if row is None:
            return 0.0, 0.0
        c, v, t, _ = self._counts[row]
        keep = float(self._keep(at - t))
        return c * keep, v * keep

    def moment_of(self, imp: Impression) -> float:
        """When an impression is scored: its time, or the logs' end if earlier or unknown (the
        logs already hold what came before their end)."""
        return max(self.end, imp.timestamp or self.end)

    def ctr(self, news_ids: Sequence[str], at: float) -> np.ndarray:
        """(N,) each item's smoothed CTR from its counts decayed to `at`: the CTR baselines' score."""
        return np.array([smoothed_ctr(*self.counts(news_id, at)) for news_id in news_ids])

    def features(self, news_ids: Sequence[str], at: float | None = None) -> np.ndarray:
        """(N, 5) features at `at` (default: the logs' end). An item never shown has zero counts
        and a has-log flag of 0; an item never seen has age 0 (it is new)."""
        at = self.end if at is None else at
        out = np.zeros((len(news_ids), POPULARITY_FEATURES), dtype=np.float32)
        rows = np.array([self.row.get(i, -1) for i in news_ids], dtype=np.int64)
        known = rows >= 0
        if not known.any():
            return out
        c, v, t, first = self._counts[rows[known]].T
        keep = self._keep(at - t)
        clicks, views = c * keep, v * keep
        logged = np.maximum(views, clicks) > 1e-6
        ctr = smoothed_ctr(clicks, views)
        block = np.zeros((len(c), POPULARITY_FEATURES))
        block[:, 0], block[:, 1], block[:, 2] = np.log1p(clicks), np.log1p(views), np.log(ctr / (1 - ctr))
        block[~logged, :3] = 0.0
        block[:, 3] = np.log1p(np.maximum(at - first, 0.0) / HOUR)
        block[:, 4] = logged
        out[known] = block
        return out

    def clicks_at_end(self) -> dict[str, float]:
        """Each item's (decayed) clicks at the logs' end: what novelty and the popularity baseline read."""
        return {news_id: self.counts(news_id, self.end)[0] for news_id in self.ids}

    def copy(self) -> Popularity:
        twin = Popularity(self.half_life_hours)
        twin.row, twin.ids, twin._counts, twin.end = dict(self.row), list(self.ids), self._counts.copy(), self.end
        return twin

    @classmethod
    def replay(
        cls, impressions: list[Impression], half_life_hours: float | None = None
    ) -> tuple[Popularity, list[dict[str, np.ndarray]]]:
        """The logs in time order: the final state, and for each impression (in the order given)
        the features of its candidates as they stood just before it."""
        state = cls(half_life_hours)
        timed = sorted(
            (i for i, imp in enumerate(impressions) if imp.timestamp is not None),
            key=lambda i: impressions[i].timestamp or 0.0,
        )
        untimed = [i for i, imp in enumerate(impressions) if imp.timestamp is None]
        before: list[dict[str, np.ndarray]] = [{} for _ in impressions]
        for i in timed:  # strictly what came before
            imp = impressions[i]
            before[i] = dict(zip(imp.candidates, state.features(imp.candidates, imp.timestamp)))
            state.add_impression(imp)
        for i in untimed:  # together at the end
            state.add_impression(impressions[i])
        for i in untimed:  # each sees the others, not itself
            imp = impressions[i]
            state.add_impression(imp, sign=-1.0)
            before[i] = dict(zip(imp.candidates, state.features(imp.candidates)))
            state.add_impression(imp)
        return state, before

    def save(self, path: str | Path) -> None:
        counts = self._counts[: len(self.ids)].tolist()
        Path(path).write_text(
            json.dumps({"half_life_hours": self.half_life_hours, "end": self.end, "items": dict(zip(self.ids, counts))})
        )

    @classmethod
    def load(cls, path: str | Path) -> Popularity:
        raw = json.loads(Path(path).read_text())
        if "items" not in raw:
            raise ValueError(f"{path} holds counts from an older newsrec: train the model again")
        state = cls(raw["half_life_hours"])
        state.end, state.ids = raw["end"], list(raw["items"])
        state.row = {news_id: i for i, news_id in enumerate(state.ids)}
        state._counts = np.array(list(raw["items"].values()), dtype=np.float64).reshape(-1, 4)
        return state
