"""News popularity as it stood at a moment: decayed clicks and views, and each item's age.

Every impression adds a view of each candidate and a click of each clicked one, at its time.
Counts decay with a half-life (yesterday's hit weighs less than this morning's), and an item's
age counts from its publication where the news has a time (EB-NeRD, Adressa, a site's logs,
posted news: `publish`), else from when it was first seen. `features(ids, at)` is what the model's popularity
term reads (PP-Rec, Qi et al., ACL 2021): the state at `at`.

Training replays the logs in time order (`replay`): each impression gets the features of the
state before it, so the model never reads its own label back and learns from exactly what the
live service computes as traffic arrives. Impressions without a time (some MIND samples) are
taken to happen together at the end of the logs: each sees the others, not itself. The replay
runs on `Behaviors`' arrays and keeps 8 bytes a candidate (`CountsBefore`), not a dict of
features per impression.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from newsrec.data.behaviors import Behaviors, positions_of
from newsrec.data.mind import Impression, News, epoch_seconds

__all__ = [
    "Popularity",
    "CountsBefore",
    "POPULARITY_FEATURES",
    "AGE_FEATURE",
    "smoothed_ctr",
    "popularity_features",
    "publication_times",
]

# CTR smoothing as in the MIND sample's reference baseline: (clicks + 0.1) / (views + 1).
CTR_PRIOR_CLICKS = 0.1
CTR_PRIOR_VIEWS = 1.0
POPULARITY_FEATURES = 5  # log clicks, log views, CTR logit, log age in hours, has-log flag
AGE_FEATURE = 3  # the column of log age in hours
HOUR = 3600.0
Counts = TypeVar("Counts", float, np.ndarray)  # one item's, or an array of items'


def publication_times(news: Mapping[str, News]) -> dict[str, float]:
    """News id -> publication time in seconds, for the news that have one (`Popularity.replay`)."""
    return {i: epoch_seconds(n.published_at) for i, n in news.items() if n.published_at is not None}


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

    def publish(self, news_ids: Sequence[str], times: Sequence[float]) -> None:
        """Count each item's age from its publication time (seconds), or from its first sighting
        if that came earlier; an item not yet shown gets a row without counts."""
        for news_id, at in zip(news_ids, times):
            row = self._row_of(news_id, at)
            self._counts[row, 3] = min(self._counts[row, 3], at)

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
        if known.any():
            c, v, t, first = self._counts[rows[known]].T
            keep = self._keep(at - t)
            out[known] = popularity_features(c * keep, v * keep, first, at)
        return out

    def first_seen(self, news_ids: Sequence[str]) -> np.ndarray:
        """(N,) when each item was first counted (0 for one never counted)."""
        rows = np.array([self.row.get(i, -1) for i in news_ids], dtype=np.int64)
        return np.where(rows >= 0, self._counts[rows, 3], 0.0) if len(self._counts) else np.zeros(len(rows))

    def clicks_at_end(self) -> dict[str, float]:
        """Each item's (decayed) clicks at the logs' end: what novelty and the popularity baseline read."""
        return {news_id: self.counts(news_id, self.end)[0] for news_id in self.ids}

    def copy(self) -> Popularity:
        twin = Popularity(self.half_life_hours)
        twin.row, twin.ids, twin._counts, twin.end = dict(self.row), list(self.ids), self._counts.copy(), self.end
        return twin

    @classmethod
    def replay(
        cls, behaviors: Behaviors, half_life_hours: float | None = None, published: Mapping[str, float] | None = None
    ) -> tuple[Popularity, CountsBefore]:
        """The logs in time order: the final state, and for each candidate slot its item's counts
        as they stood just before its impression (ties in time: in the order given). Ages count
        from `published` (news id -> seconds) where given; the state also holds the published
        news the logs never showed."""
        state = cls(half_life_hours)
        published = published or {}
        n_news, slots_in_all = len(behaviors.news), len(behaviors.candidates)
        counts = np.zeros((n_news, 4))  # per news code: clicks, views, at, first seen
        released = np.array([published.get(i, np.inf) for i in behaviors.news.ids], np.float64)
        order = np.full(n_news, -1, np.int64)  # when each item was first counted: the saved order
        before = CountsBefore(
            np.zeros(slots_in_all, np.float32), np.zeros(slots_in_all, np.float32), counts[:, 3], None
        )
        timed = np.flatnonzero(~np.isnan(behaviors.moments))
        timed = timed[np.argsort(behaviors.moments[timed], kind="stable")]
        end = behaviors.moments[timed[-1]] if len(timed) else 0.0
        seen = 0
        for i in [*timed.tolist(), *np.flatnonzero(np.isnan(behaviors.moments)).tolist()]:
            slots = slice(behaviors.candidates_at[i], behaviors.candidates_at[i + 1])
            codes, at = behaviors.candidates[slots], behaviors.moments[i]
            at = end if np.isnan(at) else at
            fresh = codes[order[codes] < 0]
            if len(fresh):  # first counted now, in the order listed
                fresh = fresh[np.sort(np.unique(fresh, return_index=True)[1])]
                order[fresh] = np.arange(seen, seen + len(fresh))
                counts[fresh] = (0.0, 0.0, at, at)
                counts[fresh, 3] = np.minimum(at, released[fresh])
                seen += len(fresh)
            keep = state._keep(at - counts[codes, 2])
            if not np.isnan(behaviors.moments[i]):  # strictly what came before
                before.clicks[slots], before.views[slots] = counts[codes, 0] * keep, counts[codes, 1] * keep
            counts[codes, :2] *= keep[:, None]  # decayed to now (repeated codes: the same value twice)
            counts[codes, 2] = at
            np.add.at(counts[:, 0], codes, np.maximum(behaviors.labels[slots], 0))
            np.add.at(counts[:, 1], codes, 1.0)
        untimed = np.flatnonzero(np.isnan(behaviors.moments))
        if len(untimed):  # together at the end: each sees the others, not itself
            _leave_own_out(behaviors, counts, untimed, before)
        known = np.flatnonzero(order >= 0)
        known = known[np.argsort(order[known])]
        state.ids = [behaviors.news.ids[c] for c in known.tolist()]
        state.row = {news_id: i for i, news_id in enumerate(state.ids)}
        state._counts, state.end = counts[known].copy(), float(end)
        unseen = [i for i in published if i not in state.row]
        state.publish(unseen, [published[i] for i in unseen])
        before.moments = np.where(np.isnan(behaviors.moments), end, behaviors.moments)
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


def popularity_features(
    clicks: np.ndarray, views: np.ndarray, first_seen: np.ndarray, at: np.ndarray | float
) -> np.ndarray:
    """(N, 5) the model's popularity features from counts decayed to `at`, and when each item was
    first seen (an item first seen at or after `at` is new: age 0)."""
    clicks, views = np.asarray(clicks, np.float64), np.asarray(views, np.float64)
    logged = np.maximum(views, clicks) > 1e-6
    ctr = smoothed_ctr(clicks, views)
    block = np.zeros((len(clicks), POPULARITY_FEATURES))
    block[:, 0], block[:, 1], block[:, 2] = np.log1p(clicks), np.log1p(views), np.log(ctr / (1 - ctr))
    block[~logged, :3] = 0.0
    block[:, AGE_FEATURE] = np.log1p(np.maximum(at - first_seen, 0.0) / HOUR)
    block[:, 4] = logged
    return block.astype(np.float32)


@dataclass
class CountsBefore:
    """For each candidate slot of a `Behaviors`: its item's decayed clicks and views just before
    the impression (float32, 8 bytes a slot); with each item's first sighting and each
    impression's moment, the features the model trained on (`features`)."""

    clicks: np.ndarray  # (slots,)
    views: np.ndarray  # (slots,)
    first_seen: np.ndarray  # (news codes,)
    moments: np.ndarray | None  # (impressions,) when each is scored: its time, else the logs' end

    def features(self, slots: np.ndarray, impressions: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """(B, N, 5) for slots (B, N) of impressions (B,), which hold news codes (B, N)."""
        assert self.moments is not None, "set by Popularity.replay"
        flat = popularity_features(
            self.clicks[slots.ravel()],
            self.views[slots.ravel()],
            self.first_seen[codes.ravel()],
            np.broadcast_to(self.moments[impressions][:, None], slots.shape).ravel(),
        )
        return flat.reshape(*slots.shape, POPULARITY_FEATURES)


def _leave_own_out(behaviors: Behaviors, counts: np.ndarray, untimed: np.ndarray, before: CountsBefore) -> None:
    """Counts before each untimed impression: everything (all at the end) but its own views and clicks."""
    at = behaviors.candidates_at
    impression = np.repeat(untimed, at[untimed + 1] - at[untimed])
    slots = positions_of(at, untimed)
    codes = behaviors.candidates[slots]
    # its own views and clicks of each item: an item listed twice counts twice
    key = impression.astype(np.int64) * len(behaviors.news) + codes
    unique, inverse = np.unique(key, return_inverse=True)
    own_views = np.bincount(inverse, minlength=len(unique))[inverse]
    own_clicks = np.bincount(inverse, weights=np.maximum(behaviors.labels[slots], 0), minlength=len(unique))[inverse]
    before.clicks[slots] = counts[codes, 0] - own_clicks
    before.views[slots] = counts[codes, 1] - own_views
