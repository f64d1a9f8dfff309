"""Request and response bodies of the HTTP API (pydantic: a wrong field is a 422 naming it).

Text fields refuse what a database cannot store or a reader cannot see: lone UTF-16 surrogates
and NUL characters. Times must be ISO 8601 strings (`2026-11-29T08:00:00Z`; a number such as
`0` is refused), no earlier than 1970 and no later than a day from now, and are kept in UTC
(a time without an offset is taken as UTC).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = ["NewsIn", "NewsBatch", "EventIn", "EventBatch", "InterestsIn", "TokenRequest", "RecommendationOut",
           "RecommendationsOut", "IngestResult", "EventsResult", "ProfileOut", "InterestsOut", "DeletionOut",
           "TokenOut", "HealthOut", "UserIdPath", "ID_PATTERN", "USER_ID_PATTERN"]

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
USER_ID_PATTERN = r"^[A-Za-z0-9_.:@-]+$"
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)  # clocks differ; "published next year" does not


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains a lone surrogate (invalid Unicode): send UTF-8 text") from None
    return value


def _string_time(value: object) -> object:
    if not isinstance(value, (str, datetime)):
        raise ValueError("give the time as an ISO 8601 string, e.g. 2026-11-29T08:00:00Z")
    return value


def _sane_time(value: datetime) -> datetime:
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if not EARLIEST <= value <= datetime.now(timezone.utc) + FUTURE_SLACK:
        raise ValueError("time must lie between 1970 and tomorrow")
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
Timestamp = Annotated[datetime, BeforeValidator(_string_time), AfterValidator(_sane_time)]
NewsId = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
UserId = Annotated[str, Field(min_length=1, max_length=128, pattern=USER_ID_PATTERN)]
UserIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=USER_ID_PATTERN,
                                 description="the app's id for the user: letters, digits and _.:@-")]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class NewsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: NewsId
    title: Annotated[Text, Field(min_length=1, max_length=1000)]
    category: Annotated[Text, Field(max_length=64)] = ""
    subcategory: Annotated[Text, Field(max_length=64)] = ""
    abstract: Annotated[Text, Field(max_length=10_000)] = ""
    published_at: Timestamp | None = None


class NewsBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[NewsIn] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _distinct(cls, items: list[NewsIn]) -> list[NewsIn]:
        seen: set[str] = set()
        repeated = sorted({n.id for n in items if n.id in seen or seen.add(n.id)})
        if repeated:
            raise ValueError(f"each news id at most once per batch; repeated: {', '.join(repeated[:10])}")
        return items


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: Annotated[str, Field(min_length=1, max_length=128, pattern=USER_ID_PATTERN)]
    user_id: UserId
    news_id: NewsId
    type: Literal["click", "like", "save", "comment", "skip"]
    text: Annotated[Text, Field(max_length=5_000)] | None = None
    ts: Timestamp = Field(default_factory=_now)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1)


class InterestsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[Text, Field(min_length=1, max_length=2_000)]


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ttl_seconds: int | None = Field(None, ge=60, description="life of the token; at most the service's maximum")


class RecommendationOut(BaseModel):
    news_id: str
    title: str
    score: float
    explanation: str


class RecommendationsOut(BaseModel):
    user_id: str
    items: list[RecommendationOut]


class IngestResult(BaseModel):
    stored: int


class EventsResult(BaseModel):
    stored: int
    duplicates: list[str]


class ProfileOut(BaseModel):
    user_id: str
    interests: str | None
    history: list[str]
    events_seen: int
    top_categories: list[str]
    recent_comments: list[str]


class InterestsOut(BaseModel):
    user_id: str
    interests: str


class DeletionOut(BaseModel):
    user_id: str
    deleted: dict[str, int]


class TokenOut(BaseModel):
    token: str
    user_id: str
    expires_at: datetime


class HealthOut(BaseModel):
    status: Literal["ok", "starting"]
    news: int
