"""Database tables (SQLAlchemy 2.0): news, user events, impressions, interests, tallies,
deletions, service metadata.

News, events, tallies and deletions each carry a strictly increasing `seq` (never reused, also
after a delete: AUTOINCREMENT on SQLite, a sequence on PostgreSQL). Together they are the
change feed every service worker follows: it reads the rows with `seq` above what it last saw.
Tallies are the anonymous side of traffic (which news were viewed or clicked, when): live
popularity counts from them, so erasing a user removes their rows but not the counts every
worker already holds, and a worker started later counts the same.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, LargeBinary, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from newsrec.data.mind import News

__all__ = [
    "Base",
    "NewsRow",
    "EventRow",
    "ImpressionRow",
    "TallyRow",
    "InterestRow",
    "DeletionRow",
    "DeploymentRow",
    "MetaRow",
    "EVENT_TYPES",
    "POSITIVE_EVENTS",
    "VECTOR_ID_CHARS",
]

EVENT_TYPES = ("click", "like", "save", "comment", "skip")
POSITIVE_EVENTS = ("click", "like", "save", "comment")  # these describe interest; a skip only hides
VECTOR_ID_CHARS = 256  # the longest name of the model that computed a stored news vector

# SQLite autoincrements INTEGER PRIMARY KEY only; PostgreSQL gets BIGINT identity.
Seq = BigInteger().with_variant(Integer(), "sqlite")
NEVER_REUSED = {"sqlite_autoincrement": True}  # without it SQLite hands out max(seq) + 1 again after a delete


class Base(DeclarativeBase):
    pass


class NewsRow(Base):
    __tablename__ = "news"
    __table_args__ = (NEVER_REUSED,)

    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    news_id: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64), default="")
    subcategory: Mapped[str] = mapped_column(String(64), default="")
    abstract: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")  # the story's page ("": none)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32 news vector: other workers skip the encoder
    # the posting model's `vector_id`
    encoder_id: Mapped[str | None] = mapped_column(String(VECTOR_ID_CHARS), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @classmethod
    def of(cls, news: News, vector: bytes, encoder_id: str | None) -> NewsRow:
        """The row of a news item, with its vector by the model named `encoder_id`."""
        fields = ("news_id", "title", "category", "subcategory", "abstract", "url", "published_at")
        return cls(**{name: getattr(news, name) for name in fields}, vector=vector, encoder_id=encoder_id)

    def as_news(self) -> News:
        """The news item as models read it (`News`)."""
        return News(
            self.news_id,
            self.title,
            self.category or "",
            self.subcategory or "",
            self.abstract or "",
            self.url or "",
            published_at=self.published_at,
        )


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id", name="uq_events_user_event"),  # a retried post is stored once
        Index("ix_events_user_seq", "user_id", "seq"),
        Index("ix_events_user_counted", "user_id", "counted", "received_at"),
        NEVER_REUSED,
    )

    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    news_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    impression_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # the list it was clicked in
    counted: Mapped[bool] = mapped_column(Boolean, default=False)  # a click popularity counts (service/counting.py)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the service's clock: caps count it


class ImpressionRow(Base):
    """A list of news a user was shown (what the client says it showed), once per impression id."""

    __tablename__ = "impressions"
    __table_args__ = (
        UniqueConstraint("user_id", "impression_id", name="uq_impressions_user_impression"),
        Index("ix_impressions_user_counted", "user_id", "counted", "received_at"),
        NEVER_REUSED,
    )

    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    impression_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    news_ids: Mapped[str] = mapped_column(Text)  # space-separated, in the order shown
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model_version: Mapped[str] = mapped_column(String(64), default="")
    counted: Mapped[bool] = mapped_column(Boolean, default=False)  # views popularity counts (service/counting.py)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the service's clock: caps count it


class TallyRow(Base):
    """Views or clicks of news at a time, with no user: the feed live popularity counts from."""

    __tablename__ = "tallies"
    __table_args__ = (NEVER_REUSED,)

    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # view | click
    news_ids: Mapped[str] = mapped_column(Text)  # space-separated
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InterestRow(Base):
    __tablename__ = "interests"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeletionRow(Base):
    """A tombstone: this user was erased. Workers drop their cached state for that user.

    It holds a keyed hash of the user id, never the id itself, so it leaves no readable trace.
    """

    __tablename__ = "user_deletions"
    __table_args__ = (NEVER_REUSED,)

    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    user_key: Mapped[str] = mapped_column(String(64))
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeploymentRow(Base):
    """Which models serve, and to what share of users: the latest row holds for every worker."""

    __tablename__ = "deployments"
    __table_args__ = (NEVER_REUSED,)

    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    arms: Mapped[str] = mapped_column(Text)  # JSON: [{"model_dir", "version", "share"}, ...]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MetaRow(Base):
    """Service-wide values every instance must share (the secret behind tokens and tombstones)."""

    __tablename__ = "service_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
