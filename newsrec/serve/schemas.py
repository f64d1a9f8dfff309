"""Request and response bodies of the HTTP API (pydantic: a wrong field is a 422 naming it).

Text fields refuse what a database cannot store or a reader cannot see: lone UTF-16 surrogates
and NUL characters; a title or interests text must also have a visible character (the rule is
in the OpenAPI document as a pattern: `visible_text.py`). A news url is an absolute http or
https link, or empty (pages link to it: no `javascript:` or other scheme). Times must be ISO 8601
strings from 1970 on (`2026-11-29T08:00:00Z`; a number such as `0` is refused) and are kept in
UTC, a time without an offset taken as UTC. A time later than now is taken as now: a clock
running ahead cannot make news "fresh" for ever.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from newsrec.data.mind import News
from newsrec.serve.visible_text import VISIBLE_PATTERN, is_visible
from newsrec.service.inputs import PostedEvent, ShownList

__all__ = [
    "NewsIn",
    "NewsBatch",
    "EventIn",
    "EventBatch",
    "ImpressionIn",
    "ImpressionBatch",
    "ImpressionsResult",
    "RankIn",
    "RankOut",
    "Scored",
    "InterestsIn",
    "TokenRequest",
    "RecommendationOut",
    "RecommendationsOut",
    "IngestResult",
    "EventsResult",
    "ProfileOut",
    "InterestsOut",
    "DeletionOut",
    "TokenOut",
    "UserIdPath",
    "ID_PATTERN",
    "USER_ID_PATTERN",
]

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
USER_ID_PATTERN = r"^[A-Za-z0-9_.:@-]+$"
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Most items of one batch body (news, events, impressions): in the schema, so a longer list is
# refused before one element is validated (`max_batch` of the settings may lower it).
BATCH_CEILING = 5_000
FROM_1970 = r"^(19[7-9][0-9]|[2-9][0-9]{3})-"  # the same rule, told to clients in the OpenAPI document
# http(s)://, a host, then anything without spaces or control characters; or nothing
WEB_LINK = r"^([Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f-\x9f/?#\\]+([/?#][^\x00-\x20\x7f-\x9f]*)?)?$"


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains a lone surrogate (invalid Unicode): send UTF-8 text") from None
    return value


def _visible(value: str) -> str:
    # spaces, invisible marks and fillers say nothing to encode or show (the rule: visible_text.py)
    if not is_visible(value):
        raise ValueError("text is blank: send at least one visible character")
    return value


def _web_link(value: str) -> str:
    if not re.fullmatch(WEB_LINK, value):
        raise ValueError("give the story's page as an absolute http:// or https:// link, or leave it out")
    return value


def _string_time(value: object) -> object:
    if not isinstance(value, (str, datetime)):
        raise ValueError("give the time as an ISO 8601 string, e.g. 2026-11-29T08:00:00Z")
    return value


def _sane_time(value: datetime) -> datetime:
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if value < EARLIEST:
        raise ValueError("time must be 1970 or later")
    return min(value, datetime.now(timezone.utc))


Text = Annotated[str, AfterValidator(_clean_text), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})]
VisibleText = Annotated[
    str,
    AfterValidator(_clean_text),
    AfterValidator(_visible),
    Field(json_schema_extra={"pattern": VISIBLE_PATTERN}),  # the same rule, told to clients
]
WebLink = Annotated[
    str,
    Field(max_length=2_000, json_schema_extra={"pattern": WEB_LINK}),  # the rule, told to clients
    AfterValidator(_clean_text),
    AfterValidator(_web_link),
]
Timestamp = Annotated[
    datetime, BeforeValidator(_string_time), AfterValidator(_sane_time), Field(json_schema_extra={"pattern": FROM_1970})
]
NewsId = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
UserId = Annotated[str, Field(min_length=1, max_length=128, pattern=USER_ID_PATTERN)]
UserIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=USER_ID_PATTERN,
        description="the app's id for the user: letters, digits and _.:@-",
    ),
]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class NewsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: NewsId
    title: Annotated[VisibleText, Field(min_length=1, max_length=1000)]
    category: Annotated[Text, Field(max_length=64)] = ""
    subcategory: Annotated[Text, Field(max_length=64)] = ""
    abstract: Annotated[Text, Field(max_length=10_000)] = ""
    url: WebLink = Field("", description="the story's page: an absolute http(s) link")
    published_at: Timestamp | None = None

    def as_news(self) -> News:
        fields = (self.title, self.category, self.subcategory, self.abstract, self.url)
        return News(self.id, *fields, published_at=self.published_at)


class NewsBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[NewsIn] = Field(
        min_length=1, max_length=BATCH_CEILING, description="each news id at most once (409 otherwise)"
    )


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: Annotated[str, Field(min_length=1, max_length=128, pattern=USER_ID_PATTERN)]
    user_id: UserId
    news_id: NewsId
    type: Literal["click", "like", "save", "comment", "skip"]
    text: Annotated[Text, Field(max_length=5_000)] | None = None
    ts: Timestamp = Field(default_factory=_now)
    impression_id: Annotated[str, Field(min_length=1, max_length=128, pattern=USER_ID_PATTERN)] | None = Field(
        None, description="the recommendation list the click came from"
    )

    def posted(self) -> PostedEvent:
        return PostedEvent(self.event_id, self.user_id, self.news_id, self.type, self.ts, self.text, self.impression_id)


class ImpressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    impression_id: Annotated[str, Field(min_length=1, max_length=128, pattern=USER_ID_PATTERN)]
    user_id: UserId
    news_ids: list[NewsId] = Field(min_length=1, max_length=200, description="what was shown, in order")
    ts: Timestamp = Field(default_factory=_now)

    def shown(self) -> ShownList:
        return ShownList(self.impression_id, self.user_id, tuple(self.news_ids), self.ts)


class ImpressionBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    impressions: list[ImpressionIn] = Field(min_length=1, max_length=BATCH_CEILING)


class ImpressionsResult(BaseModel):
    stored: int
    duplicates: list[str]


class RankIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    candidates: list[NewsId] = Field(min_length=1, max_length=1000, description="news ids to score")
    at: Timestamp | None = Field(None, description="score with popularity as it stood then (default: now)")


class Scored(BaseModel):
    news_id: str
    score: float


class RankOut(BaseModel):
    user_id: str
    model_version: str
    items: list[Scored]


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1, max_length=BATCH_CEILING)


class InterestsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[VisibleText, Field(min_length=1, max_length=2_000)]


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ttl_seconds: int | None = Field(None, ge=60, description="life of the token; at most the service's maximum")


class RecommendationOut(BaseModel):
    news_id: str
    title: str
    url: str = Field(description="the story's page, as posted with it; empty when none was")
    score: float
    explanation: str


class RecommendationsOut(BaseModel):
    user_id: str
    impression_id: str = Field(description="post what you showed under this id: POST /v1/impressions")
    model_version: str
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
