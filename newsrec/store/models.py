"""Database tables (SQLAlchemy 2.0): news, user events, user interests.

Every table has an increasing `seq` so service workers can pick up rows written by another
worker since they last looked, without re-reading everything.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "NewsRow", "EventRow", "InterestRow", "EVENT_TYPES", "POSITIVE_EVENTS"]

EVENT_TYPES = ("click", "like", "save", "comment", "skip")
POSITIVE_EVENTS = ("click", "like", "save", "comment")  # these describe interest; a skip only hides

# SQLite autoincrements INTEGER PRIMARY KEY only; PostgreSQL gets BIGINT identity.
Seq = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class NewsRow(Base):
    __tablename__ = "news"

    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    news_id: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64), default="")
    subcategory: Mapped[str] = mapped_column(String(64), default="")
    abstract: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32 PLM embedding: other workers skip the PLM
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_user_seq", "user_id", "seq"),)

    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)  # a retried post is stored once
    user_id: Mapped[str] = mapped_column(String(128))
    news_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InterestRow(Base):
    __tablename__ = "interests"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
