"""Request and response bodies of the HTTP API (pydantic: a wrong field is a 422 naming it)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["NewsIn", "NewsBatch", "EventIn", "EventBatch", "InterestsIn", "RecommendationOut",
           "RecommendationsOut", "IngestResult", "EventsResult"]

Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
UserId = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")


class NewsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Id
    title: str = Field(min_length=1, max_length=1000)
    category: str = Field("", max_length=64)
    subcategory: str = Field("", max_length=64)
    abstract: str = Field("", max_length=10_000)
    published_at: datetime | None = None


class NewsBatch(BaseModel):
    items: list[NewsIn] = Field(min_length=1)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(min_length=1, max_length=128)
    user_id: str = UserId
    news_id: str = Id
    type: Literal["click", "like", "save", "comment", "skip"]
    text: str | None = Field(None, max_length=5_000)
    ts: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


class EventBatch(BaseModel):
    events: list[EventIn] = Field(min_length=1)


class InterestsIn(BaseModel):
    text: str = Field(min_length=1, max_length=2_000)


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
