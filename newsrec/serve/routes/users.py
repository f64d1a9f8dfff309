"""/v1/users/{user_id}/...: recommendations, profile, interests, tokens and erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, status

from newsrec.serve.deps import Service, UserAccess, require_scope
from newsrec.serve.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from newsrec.serve.schemas import (
    DeletionOut,
    InterestsIn,
    InterestsOut,
    ProfileOut,
    RankIn,
    RankOut,
    RecommendationOut,
    RecommendationsOut,
    Scored,
    TokenOut,
    TokenRequest,
    UserIdPath,
)

router = APIRouter(prefix="/v1/users/{user_id}", tags=["users"], responses=ERROR_RESPONSES)


@router.get("/recommendations")
async def get_recommendations(
    user_id: UserAccess, svc: Service, k: Annotated[int, Query(ge=1, le=100)] = 10
) -> RecommendationsOut:
    """Top-k fresh, unread news with a one-line explanation; unknown users get cold-start picks."""
    # async: the requests awaiting together are answered in one batch by the service's answering
    # thread (one thread hand-off per batch, not one per request)
    answer = await svc.recommend(user_id, k)
    items = [RecommendationOut(**vars(r)) for r in answer.items]
    return RecommendationsOut(
        user_id=user_id, impression_id=answer.impression_id, model_version=answer.model_version, items=items
    )


@router.post("/rank", responses=CONFLICT_RESPONSE)
def rank(user_id: UserAccess, body: RankIn, svc: Service) -> RankOut:
    """Score candidates from your own candidate generator, by the same model and state as
    recommendations; `at` scores them with popularity as it stood then (for replays)."""
    ranked = svc.rank(user_id, body.candidates, body.at)
    items = [Scored(news_id=news_id, score=score) for news_id, score in ranked.scores]
    return RankOut(user_id=user_id, model_version=ranked.model_version, items=items)


@router.get("/profile")
def get_profile(user_id: UserAccess, svc: Service) -> ProfileOut:
    """What the service holds about the user: interests, history, latest comments."""
    return ProfileOut(**vars(svc.profile(user_id)))


@router.put("/interests")
def put_interests(user_id: UserAccess, body: InterestsIn, svc: Service) -> InterestsOut:
    """Free-text interests ("I follow the NBA and electric cars"): cold start, or blended with history."""
    svc.writes.set_interests(user_id, body.text)
    return InterestsOut(user_id=user_id, interests=body.text)


@router.delete("")
def delete_user(user_id: UserAccess, svc: Service) -> DeletionOut:
    """Erase every trace of the user in every worker and instance: events, interests, cached state."""
    return DeletionOut(user_id=user_id, deleted=svc.writes.forget(user_id))


@router.post("/tokens", status_code=status.HTTP_201_CREATED, dependencies=[Depends(require_scope("users"))])
def post_token(user_id: UserIdPath, request: Request, body: Annotated[TokenRequest | None, Body()] = None) -> TokenOut:
    """A short-lived token for one user (for their browser or app): it reaches only their own routes.

    Needs an API key with the users scope; a user token cannot mint tokens.
    """
    token, expires = request.app.state.authenticator.mint(user_id, body.ttl_seconds if body else None)
    return TokenOut(token=token, user_id=user_id, expires_at=expires)
