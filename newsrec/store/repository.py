"""Reads and writes of the service's data, one function per operation.

Each function takes a Session and leaves committing to the caller's `with session.begin()`,
so one request is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from newsrec.store.models import EventRow, InterestRow, NewsRow

__all__ = [
    "NewsRecord",
    "EventRecord",
    "upsert_news",
    "news_since",
    "known_news_ids",
    "add_events",
    "events_since",
    "get_interests",
    "set_interests",
    "delete_user",
]


@dataclass
class NewsRecord:
    news_id: str
    title: str
    category: str = ""
    subcategory: str = ""
    abstract: str = ""
    published_at: datetime | None = None


@dataclass
class EventRecord:
    event_id: str
    user_id: str
    news_id: str
    type: str
    ts: datetime
    text: str | None = None


def upsert_news(session: Session, items: list[NewsRecord], vectors: np.ndarray) -> None:
    """Insert or replace news; a replaced item gets a new `seq`, so every worker re-reads it."""
    ids = [n.news_id for n in items]
    session.execute(delete(NewsRow).where(NewsRow.news_id.in_(ids)))
    session.add_all(
        NewsRow(**vars(n), vector=np.asarray(v, dtype=np.float32).tobytes()) for n, v in zip(items, vectors)
    )


def news_since(session: Session, seq: int) -> list[NewsRow]:
    return list(session.scalars(select(NewsRow).where(NewsRow.seq > seq).order_by(NewsRow.seq)))


def known_news_ids(session: Session, news_ids: set[str]) -> set[str]:
    return set(session.scalars(select(NewsRow.news_id).where(NewsRow.news_id.in_(news_ids))))


def add_events(session: Session, events: list[EventRecord]) -> list[str]:
    """Store events once each (by event_id); returns the ids that were already stored."""
    if not events:
        return []
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    rows = [vars(e) for e in events]
    stored = session.scalars(
        insert(EventRow).values(rows).on_conflict_do_nothing(index_elements=["event_id"]).returning(EventRow.event_id)
    )
    new = set(stored)
    return [e.event_id for e in events if e.event_id not in new]


def events_since(session: Session, user_id: str, seq: int) -> list[EventRow]:
    query = select(EventRow).where(EventRow.user_id == user_id, EventRow.seq > seq).order_by(EventRow.seq)
    return list(session.scalars(query))


def get_interests(session: Session, user_id: str) -> str | None:
    row = session.get(InterestRow, user_id)
    return row.text if row else None


def set_interests(session: Session, user_id: str, text: str) -> None:
    row = session.get(InterestRow, user_id)
    if row:
        row.text = text
        row.updated_at = datetime.now().astimezone()
    else:
        session.add(InterestRow(user_id=user_id, text=text))


def delete_user(session: Session, user_id: str) -> dict[str, int]:
    """Erase every stored trace of a user; returns how many rows went from each table."""
    events = session.execute(delete(EventRow).where(EventRow.user_id == user_id)).rowcount
    interests = session.execute(delete(InterestRow).where(InterestRow.user_id == user_id)).rowcount
    return {"events": events, "interests": interests}
