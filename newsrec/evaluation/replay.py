"""Replay time-ordered MIND impressions through a running service, and score the service live.

The service gets the news, then each impression in time order: before `start_at` it is only
posted (warm-up), after it the service first ranks its candidates (`POST /v1/users/{id}/rank`
at the impression's time), then it is posted as shown (`POST /v1/impressions`) with its clicks
(`POST /v1/events`), so the next impression sees them. The user's history column is posted as
plain clicks (no impression: a user's history, not popularity traffic).

In the same run, for the same impressions: the model with popularity frozen at training time
(`Scorer.score` offline: a Ranker or an Ensemble) and two baselines, the smoothed CTR counted from the replayed logs
before `start_at` only (frozen) and updated impression by impression (live).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np

from newsrec.data.mind import Impression, News
from newsrec.data.popularity import Popularity
from newsrec.evaluation.evaluate import HEADLINE_METRICS, evaluate_scores
from newsrec.evaluation.metrics import judgeable
from newsrec.evaluation.scorer import Scorer
from newsrec.progress import progress

__all__ = ["ReplayResult", "replay", "in_time_order", "ROWS", "Client"]

logger = logging.getLogger(__name__)
ROWS = ("live", "frozen", "ctr_live", "ctr_frozen")
NEWS_BATCH = 500


class Client(Protocol):
    """An HTTP client with the service's base URL and key set: httpx's, or FastAPI's TestClient."""

    def post(self, url: str, *, json: Any = None) -> Any: ...


@dataclass
class ReplayResult:
    metrics: dict[str, dict[str, float]]  # row -> {"auc", "mrr", "ndcg@5", "ndcg@10"}: fractions, as `evaluate` gives
    impressions: int

    def as_dict(self) -> dict:
        return {**self.metrics, "impressions": self.impressions}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def _check(reply: Any) -> dict:
    if reply.status_code >= 400:
        raise RuntimeError(f"{reply.request.method} {reply.request.url.path}: {reply.status_code} {reply.text[:300]}")
    return reply.json()


def _post_news(client: Client, news: dict[str, News]) -> None:
    items = [
        {
            "id": n.news_id,
            "title": n.title or n.news_id,
            "category": n.category[:64],
            "subcategory": n.subcategory[:64],
            "abstract": n.abstract[:10_000],
        }
        for n in news.values()
    ]
    batches = range(0, len(items), NEWS_BATCH)
    for start in progress(batches, "posting news", "batches"):
        _check(client.post("/v1/news", json={"items": items[start : start + NEWS_BATCH]}))


class _Traffic:
    """Posts what the logs say happened, once: histories, impressions and their clicks."""

    def __init__(self, client: Client, history_time: float):
        self.client, self.history_time = client, history_time
        self.histories: dict[str, set[str]] = {}

    def history(self, imp: Impression) -> None:
        known = self.histories.setdefault(imp.user_id, set())
        new = [n for n in imp.history if n not in known]
        if new:
            events = [
                {
                    "event_id": f"h-{n}",
                    "user_id": imp.user_id,
                    "news_id": n,
                    "type": "click",
                    "ts": _iso(self.history_time),
                }
                for n in new
            ]
            _check(self.client.post("/v1/events", json={"events": events}))
            known.update(new)

    def shown(self, imp: Impression, at: float) -> None:
        body = {
            "impressions": [
                {"impression_id": imp.impression_id, "user_id": imp.user_id, "news_ids": imp.candidates, "ts": _iso(at)}
            ]
        }
        _check(self.client.post("/v1/impressions", json=body))
        clicks = [
            {
                "event_id": f"c-{imp.impression_id}-{n}",
                "user_id": imp.user_id,
                "news_id": n,
                "type": "click",
                "ts": _iso(at),
                "impression_id": imp.impression_id,
            }
            for n in imp.clicked
        ]
        if clicks:
            _check(self.client.post("/v1/events", json={"events": clicks}))
        self.histories.setdefault(imp.user_id, set()).update(imp.clicked)


def in_time_order(impressions: list[Impression]) -> list[tuple[float, Impression]]:
    """(time, impression) pairs, oldest first; a replay needs every impression's time."""
    untimed = [i.impression_id for i in impressions if i.timestamp is None]
    if untimed:
        raise ValueError(f"replay needs every impression's time; {len(untimed)} have none (e.g. {untimed[0]})")
    return sorted(((i.timestamp or 0.0, i) for i in impressions), key=lambda pair: pair[0])


def replay(
    client: Client, scorer: Scorer, news: dict[str, News], impressions: list[Impression], start_at: float
) -> ReplayResult:
    """Replay `impressions` (all timed) through the service behind `client` (base URL and key set)."""
    ordered = in_time_order(impressions)
    _post_news(client, news)
    traffic = _Traffic(client, history_time=ordered[0][0] if ordered else 0.0)
    live_counts, frozen_counts = Popularity(), Popularity()  # raw counts for the CTR baselines
    scores: dict[str, list[np.ndarray]] = {row: [] for row in ROWS}
    evaluated: list[Impression] = []
    for at, imp in progress(ordered, "replaying", "impressions"):
        traffic.history(imp)
        if at >= start_at and imp.labels and judgeable(imp.labels):
            ranked = _check(
                client.post(f"/v1/users/{imp.user_id}/rank", json={"candidates": imp.candidates, "at": _iso(at)})
            )
            by_id = {r["news_id"]: r["score"] for r in ranked["items"]}
            scores["live"].append(np.array([by_id[c] for c in imp.candidates]))
            scores["frozen"].append(scorer.score([imp])[0])
            scores["ctr_live"].append(live_counts.ctr(imp.candidates, at))
            scores["ctr_frozen"].append(frozen_counts.ctr(imp.candidates, at))
            evaluated.append(imp)
        traffic.shown(imp, at)
        live_counts.add_impression(imp, at)
        if at < start_at:
            frozen_counts.add_impression(imp, at)
    if not evaluated:
        raise ValueError(f"no impression with a click and a non-click at or after {_iso(start_at)}")
    metrics = {}
    for row in ROWS:
        m = evaluate_scores(evaluated, scores[row], news)
        metrics[row] = {name: round(m[name], 4) for name in HEADLINE_METRICS}
    return ReplayResult(metrics, len(evaluated))
