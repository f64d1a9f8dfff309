"""What the service answers: small frozen values, whatever the caller (HTTP, tests, replays)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Recommendation", "Recommendations", "Ranked", "Profile", "Stored"]


@dataclass(frozen=True)
class Recommendation:
    news_id: str
    title: str
    url: str  # the story's page ("": none given)
    score: float
    explanation: str  # one grounded sentence: why this item, from the user's own history or words


@dataclass(frozen=True)
class Recommendations:
    impression_id: str  # the client posts what it showed under this id (POST /v1/impressions)
    model_version: str
    items: tuple[Recommendation, ...]


@dataclass(frozen=True)
class Ranked:
    """Given candidates scored for one user, best first."""

    model_version: str
    scores: tuple[tuple[str, float], ...]  # (news id, score)


@dataclass(frozen=True)
class Profile:
    """What the service holds about a user."""

    user_id: str
    interests: str | None
    history: tuple[str, ...]  # the news the user engaged with, oldest first
    events_seen: int
    top_categories: tuple[str, ...]
    recent_comments: tuple[str, ...]


@dataclass(frozen=True)
class Stored:
    """The outcome of a write of events or impressions."""

    stored: int
    duplicates: tuple[str, ...]  # ids already stored (or repeated in the request): not stored again
