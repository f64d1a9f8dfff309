"""Per model version: what the logged traffic says (impressions, clicks, CTR@k)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsrec.store.models import EventRow, ImpressionRow

__all__ = ["VersionTraffic", "traffic_by_version", "click_rank"]


@dataclass
class VersionTraffic:
    version: str  # "" for impressions whose id named no served model
    impressions: int
    clicks: int
    ctr_at_5: float  # share of impressions with a click among the first 5 shown
    ctr_at_10: float

    def as_dict(self) -> dict[str, str | int | float]:
        """The row with its metrics named as `evaluate` names them (ctr@5, ctr@10)."""
        return {
            "version": self.version,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "ctr@5": self.ctr_at_5,
            "ctr@10": self.ctr_at_10,
        }


def click_rank(shown: list[str], news_id: str) -> int | None:
    """1-based place of a clicked item in the list shown, or None if it was not in it."""
    return shown.index(news_id) + 1 if news_id in shown else None


def traffic_by_version(session: Session) -> list[VersionTraffic]:
    shown = {
        (r.user_id, r.impression_id): (r.model_version, r.news_ids.split())
        for r in session.scalars(select(ImpressionRow))
    }
    best: dict[tuple[str, str], int] = {}  # impression -> best place clicked
    clicks: dict[str, int] = defaultdict(int)
    clicked = select(EventRow).where(EventRow.type == "click", EventRow.impression_id.is_not(None))
    for event in session.scalars(clicked):
        key = (event.user_id, event.impression_id or "")
        if key not in shown or (place := click_rank(shown[key][1], event.news_id)) is None:
            continue
        clicks[shown[key][0]] += 1
        best[key] = min(best.get(key, place), place)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # impressions, hit@5, hit@10
    for key, (version, _) in shown.items():
        row = counts[version]
        row[0] += 1
        row[1] += best.get(key, 99) <= 5
        row[2] += best.get(key, 99) <= 10
    return [VersionTraffic(v, n, clicks[v], h5 / n, h10 / n) for v, (n, h5, h10) in sorted(counts.items())]
