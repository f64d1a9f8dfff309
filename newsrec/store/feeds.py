"""The change feeds: what every worker follows to stay in step with the database.

Each feed is a table whose `seq` only grows: news, tallies (anonymous views and clicks),
events, deletions (tombstones) and deployments. A reader keeps the last `seq` it applied of
each and asks for the rows after it, `ROWS_PER_READ` at a time (bounded memory however far
behind it is); `heads` tells in one round trip which feeds moved at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsrec.store.models import DeletionRow, DeploymentRow, EventRow, NewsRow, TallyRow

__all__ = ["FEEDS", "ROWS_PER_READ", "rows_since", "heads"]

ROWS_PER_READ = 10_000  # rows read from the store at a time, by feeds and by the news snapshot
FEEDS: dict[str, Any] = {  # each feed's table (each has a `seq` column)
    "news": NewsRow,
    "tallies": TallyRow,
    "events": EventRow,
    "deletions": DeletionRow,
    "deployments": DeploymentRow,
}
_NEWEST = select(*(select(func.max(table.seq)).scalar_subquery() for table in FEEDS.values()))  # built once


def rows_since(session: Session, feed: str, seq: int, limit: int) -> list:
    """The rows of `feed` after `seq`, in feed order, at most `limit`."""
    table = FEEDS[feed]
    return list(session.scalars(select(table).where(table.seq > seq).order_by(table.seq).limit(limit)))


def heads(session: Session) -> dict[str, int]:
    """The newest `seq` of every feed (0 while empty), in one round trip: a worker reads a feed
    only when its head moved past what it applied."""
    return {name: seq or 0 for name, seq in zip(FEEDS, session.execute(_NEWEST).one())}
