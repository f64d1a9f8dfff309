"""The service's logged traffic as MIND files, so `newsrec train` can retrain on what it saw.

news.tsv holds every posted news item. behaviors.tsv holds one line per logged impression, in
time order: the user, its time, the user's history at that time (their clicks, likes, saves and
comments before it, oldest first) and the news shown, each labelled 1 if a click named that
impression, else 0.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsrec.data.mind import MIND_TIME, Impression, News, write_behaviors, write_news
from newsrec.progress import progress
from newsrec.store.models import POSITIVE_EVENTS, EventRow, ImpressionRow, NewsRow

__all__ = ["export_mind", "Exported"]


@dataclass
class Exported:
    news: int
    impressions: int
    clicks: int


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def export_mind(session: Session, out_dir: str | Path) -> Exported:
    """Write news.tsv and behaviors.tsv of everything logged into `out_dir`."""
    out_dir = Path(out_dir)
    news = [News(r.news_id, r.title, r.category, r.subcategory, r.abstract) for r in session.scalars(select(NewsRow))]
    reads: dict[str, list[tuple[datetime, str]]] = defaultdict(list)  # user -> (time, news id) of positive events
    clicked: set[tuple[str, str, str]] = set()  # (user, impression id, news id)
    for event in session.scalars(select(EventRow).order_by(EventRow.seq)):
        if event.type in POSITIVE_EVENTS:
            reads[event.user_id].append((_utc(event.ts), event.news_id))
        if event.type == "click" and event.impression_id:
            clicked.add((event.user_id, event.impression_id, event.news_id))
    for user_reads in reads.values():
        user_reads.sort(key=lambda read: read[0])
    impressions: list[Impression] = []
    rows = session.scalars(select(ImpressionRow).order_by(ImpressionRow.ts, ImpressionRow.seq))
    total = session.scalar(select(func.count()).select_from(ImpressionRow))
    for row in progress(rows, "exporting impressions", "impressions", total=total):
        at = _utc(row.ts)
        before = reads.get(row.user_id, [])
        history = list(dict.fromkeys(n for _, n in before[: bisect.bisect_left(before, (at, ""))]))
        shown = row.news_ids.split()
        labels = [int((row.user_id, row.impression_id, n) in clicked) for n in shown]
        impressions.append(Impression(str(row.seq), row.user_id, at.strftime(MIND_TIME), history, shown, labels))
    write_news(out_dir / "news.tsv", news)
    write_behaviors(out_dir / "behaviors.tsv", impressions)
    return Exported(len(news), len(impressions), sum(sum(i.labels or []) for i in impressions))
