"""Reads and writes of the service's data, one function per operation.

Each function takes a Session and leaves committing to the caller's `with session.begin()`,
so one request is one transaction. Writers to the change feed (news, events, deletions) call
`lock_feed` first: on PostgreSQL two transactions could otherwise commit their `seq` values out
of order, and a worker that already read the larger one would skip the smaller for good.
SQLite takes one writer at a time anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import CursorResult, Delete, bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from newsrec.data.mind import News
from newsrec.store.models import (
    DeletionRow,
    DeploymentRow,
    EventRow,
    ImpressionRow,
    InterestRow,
    MetaRow,
    NewsRow,
    TallyRow,
)

__all__ = [
    "EventRecord",
    "ImpressionRecord",
    "lock_feed",
    "upsert_news",
    "newest_news",
    "news_extent",
    "news_columns",
    "news_at",
    "known_news_ids",
    "add_events",
    "user_events",
    "add_impressions",
    "impressions_named",
    "counted_clicks_since",
    "counted_lists_since",
    "counted_clicks_on",
    "interests_of",
    "set_interests",
    "delete_user",
    "user_key",
    "service_secret",
    "add_deployment",
    "ping",
]

FEED_LOCK = 7_301_001  # advisory lock id on PostgreSQL
# bound parameters of one `IN (...)`: well below SQLite's 32,766 and PostgreSQL's 65,535 (a
# request may name more ids than that: 5,000 impressions of 200 news)
IDS_PER_QUERY = 10_000


@dataclass
class EventRecord:
    event_id: str
    user_id: str
    news_id: str
    type: str
    ts: datetime
    text: str | None = None
    impression_id: str | None = None
    counted: bool = False  # a click popularity counts (service/counting.py decides)


@dataclass
class ImpressionRecord:
    impression_id: str
    user_id: str
    news_ids: list[str]
    ts: datetime
    model_version: str = ""
    counted: bool = False  # clicks in it can count (service/counting.py decides)
    viewed: list[str] = field(default_factory=list)  # the news whose views popularity counts


def lock_feed(session: Session) -> None:
    """Serialise feed writers until this transaction ends, so `seq` commits in order."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": FEED_LOCK})


def upsert_news(session: Session, items: Sequence[News], vectors: np.ndarray, encoder_id: str | None = None) -> None:
    """Insert or replace news with their vectors by `encoder_id`; a replaced item gets a new
    `seq`, so every worker re-reads it."""
    lock_feed(session)
    session.execute(delete(NewsRow).where(NewsRow.news_id.in_([n.news_id for n in items])))
    session.add_all(
        NewsRow.of(n, vector=np.asarray(v, dtype=np.float32).tobytes(), encoder_id=encoder_id)
        for n, v in zip(items, vectors)
    )


def news_extent(session: Session, after: int = 0, through: int | None = None) -> tuple[int, int]:
    """(how many news are stored with `after < seq <= through`, the newest such `seq`; 0 when none)."""
    query = select(func.count(), func.max(NewsRow.seq)).where(NewsRow.seq > after)
    if through is not None:
        query = query.where(NewsRow.seq <= through)
    count, newest = session.execute(query).one()
    return count, newest or 0


def news_columns(session: Session, after: int, through: int, limit: int) -> list:
    """What a search needs of news with `after < seq <= through`, in seq order, without their
    abstracts: (seq, news_id, title, url, category, published_at, updated_at, encoder_id, vector) rows."""
    columns = (NewsRow.seq, NewsRow.news_id, NewsRow.title, NewsRow.url, NewsRow.category, NewsRow.published_at)
    more = (NewsRow.updated_at, NewsRow.encoder_id, NewsRow.vector)
    query = select(*columns, *more).where(NewsRow.seq > after, NewsRow.seq <= through)
    return list(session.execute(query.order_by(NewsRow.seq).limit(limit)))


def news_at(session: Session, seqs: list[int]) -> list[NewsRow]:
    return list(session.scalars(select(NewsRow).where(NewsRow.seq.in_(seqs)).order_by(NewsRow.seq)))


def newest_news(session: Session, limit: int) -> list[NewsRow]:
    return list(session.scalars(select(NewsRow).order_by(NewsRow.seq.desc()).limit(limit)))


def known_news_ids(session: Session, news_ids: set[str]) -> set[str]:
    """Those of `news_ids` that are stored, asked in chunks of `IDS_PER_QUERY`."""
    ids = sorted(news_ids)
    chunks = (ids[i : i + IDS_PER_QUERY] for i in range(0, len(ids), IDS_PER_QUERY))
    return {n for chunk in chunks for n in session.scalars(select(NewsRow.news_id).where(NewsRow.news_id.in_(chunk)))}


def _insert_new(session: Session, table: type, rows: list[dict], key: tuple[str, str]) -> set[tuple]:
    """Insert the rows whose `key` columns are not stored yet; returns the keys inserted."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    columns = [getattr(table, k) for k in key]
    statement = insert(table).values(rows).on_conflict_do_nothing(index_elements=list(key)).returning(*columns)
    return {tuple(row) for row in session.execute(statement)}


def add_events(session: Session, events: list[EventRecord]) -> list[EventRecord]:
    """Store events once each (by user and event id), and a click tally for each new counted
    click (popularity's feed); returns the events that were already stored."""
    if not events:
        return []
    lock_feed(session)
    now = datetime.now(timezone.utc)
    stored = _insert_new(session, EventRow, [{**vars(e), "received_at": now} for e in events], ("user_id", "event_id"))
    new = [e for e in events if (e.user_id, e.event_id) in stored]
    session.add_all(TallyRow(kind="click", news_ids=e.news_id, ts=e.ts) for e in new if e.counted)
    return [e for e in events if (e.user_id, e.event_id) not in stored]


def add_impressions(session: Session, impressions: list[ImpressionRecord]) -> list[ImpressionRecord]:
    """Store impressions once each (by user and impression id), a view tally of the `viewed`
    news of each new one; returns those that were already stored."""
    if not impressions:
        return []
    lock_feed(session)
    now = datetime.now(timezone.utc)
    rows = [
        {**{k: v for k, v in vars(i).items() if k != "viewed"}, "news_ids": " ".join(i.news_ids), "received_at": now}
        for i in impressions
    ]
    stored = _insert_new(session, ImpressionRow, rows, ("user_id", "impression_id"))
    new = [i for i in impressions if (i.user_id, i.impression_id) in stored]
    session.add_all(TallyRow(kind="view", news_ids=" ".join(i.viewed), ts=i.ts) for i in new if i.viewed)
    return [i for i in impressions if (i.user_id, i.impression_id) not in stored]


def impressions_named(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], ImpressionRow]:
    """The stored impressions of these (user id, impression id) pairs, asked in chunks."""
    ids = sorted({impression_id for _, impression_id in keys})
    found = {}
    for i in range(0, len(ids), IDS_PER_QUERY):
        for row in session.scalars(
            select(ImpressionRow).where(ImpressionRow.impression_id.in_(ids[i : i + IDS_PER_QUERY]))
        ):
            if (row.user_id, row.impression_id) in keys:
                found[(row.user_id, row.impression_id)] = row
    return found


def counted_clicks_since(session: Session, user_id: str, since: datetime) -> int:
    """How many of this user's clicks popularity counted, received after `since`."""
    clicks = select(func.count()).where(EventRow.user_id == user_id, EventRow.counted, EventRow.received_at > since)
    return session.scalar(clicks) or 0


def counted_lists_since(session: Session, user_id: str, since: datetime) -> list[str]:
    """The news of each counted impression of this user received after `since`, space-separated
    (a superset of the news whose views counted: a story listed again counts no second view)."""
    query = select(ImpressionRow.news_ids).where(
        ImpressionRow.user_id == user_id, ImpressionRow.counted, ImpressionRow.received_at > since
    )
    return list(session.scalars(query))


def counted_clicks_on(session: Session, user_id: str, news_ids: set[str]) -> set[str]:
    """Those of `news_ids` this user has a counted click on."""
    query = select(EventRow.news_id).where(
        EventRow.user_id == user_id, EventRow.counted, EventRow.news_id.in_(news_ids)
    )
    return set(session.scalars(query))


def user_events(session: Session, user_id: str) -> list[EventRow]:
    """One user's events, oldest first."""
    return list(session.scalars(select(EventRow).where(EventRow.user_id == user_id).order_by(EventRow.seq)))


_INTERESTS = select(InterestRow.user_id, InterestRow.text).where(
    InterestRow.user_id.in_(bindparam("users", expanding=True))
)  # built once, asked per batch of answers


def interests_of(session: Session, user_ids: Iterable[str]) -> dict[str, str]:
    """The free-text interests of those of these users who gave some."""
    return {user_id: text for user_id, text in session.execute(_INTERESTS, {"users": list(set(user_ids))})}


def set_interests(session: Session, user_id: str, text: str) -> None:
    """Insert or replace in one statement: writes racing for one user (or racing its erasure)
    each land whole, the last one wins, and none fails on a row another just wrote or deleted."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = datetime.now(timezone.utc)
    statement = insert(InterestRow).values(user_id=user_id, text=text, updated_at=now)
    session.execute(statement.on_conflict_do_update(index_elements=["user_id"], set_={"text": text, "updated_at": now}))


def service_secret(session: Session) -> str:
    """The random secret this database was created with (shared by every instance)."""
    return session.scalars(select(MetaRow.value).where(MetaRow.key == "secret")).one()


def user_key(secret: str, user_id: str) -> str:
    """A keyed hash of a user id: what a tombstone holds instead of the id."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def delete_user(session: Session, user_id: str, key: str) -> dict[str, int]:
    """Erase every stored trace of a user and leave a tombstone; returns rows removed per table."""
    lock_feed(session)
    events = _deleted(session, delete(EventRow).where(EventRow.user_id == user_id))
    impressions = _deleted(session, delete(ImpressionRow).where(ImpressionRow.user_id == user_id))
    interests = _deleted(session, delete(InterestRow).where(InterestRow.user_id == user_id))
    session.add(DeletionRow(user_key=key, deleted_at=datetime.now(timezone.utc)))  # to the microsecond: revokes tokens
    return {"events": events, "impressions": impressions, "interests": interests}


def _deleted(session: Session, statement: Delete) -> int:
    result: CursorResult = session.execute(statement)  # type: ignore[assignment]  # a DELETE gives a cursor result
    return result.rowcount


def add_deployment(session: Session, arms: list[dict]) -> int:
    """Record which models serve from now on (every worker follows); returns its seq."""
    lock_feed(session)
    row = DeploymentRow(arms=json.dumps(arms))
    session.add(row)
    session.flush()
    return row.seq


def ping(session: Session) -> None:
    """A read of the service's own table: raises unless the database answers with its schema."""
    session.execute(select(MetaRow.key).limit(1)).all()
