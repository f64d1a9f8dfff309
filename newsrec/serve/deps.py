"""FastAPI dependencies: the service of this worker and who is calling (set by the guard)."""

from __future__ import annotations

import time
from typing import Annotated

import anyio
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from newsrec.serve.auth import Principal
from newsrec.serve.schemas import UserIdPath
from newsrec.service.recommender_service import FEEDS_READ_AFTER, RecommenderService

__all__ = ["Service", "Caller", "require_scope", "UserAccess", "check_batch"]

# declares the Bearer scheme in the OpenAPI document; the guard has already checked the header
bearer = HTTPBearer(auto_error=False, description="an API key, or a user token from POST /v1/users/{user_id}/tokens")


# async: these only read what is already there, so they run on the event loop instead of taking
# a thread-pool hop each (which cost about half the throughput at 100k news)


async def _service(request: Request) -> RecommenderService:
    return request.app.state.service


async def _caller(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    principal: Principal = request.state.principal
    service: RecommenderService = request.app.state.service
    if principal.user_id is not None:
        arrived = time.monotonic()
        if await anyio.to_thread.run_sync(service.token_revoked, principal.user_id, principal.issued_at, arrived):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "this token's user was erased: mint a new token",
                {"www-authenticate": "Bearer"},
            )
        # the check read the feeds after the request arrived: the route's own reads need not
        # (set here, in the request's context, which the route's thread or batch inherits)
        FEEDS_READ_AFTER.set(arrived)
    return principal


Service = Annotated[RecommenderService, Depends(_service)]
Caller = Annotated[Principal, Depends(_caller)]


def check_batch(request: Request, n: int) -> None:
    """Refuse a batch of more items than this service takes in one request (`max_batch`)."""
    limit = request.app.state.settings.max_batch
    if n > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{n} items: at most {limit} per request")


def require_scope(scope: str):
    """An app key with `scope` (or admin); user tokens are refused."""

    async def check(caller: Caller) -> Principal:
        if not caller.has(scope):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs an API key with the '{scope}' scope")
        return caller

    return check


async def _user_access(user_id: UserIdPath, caller: Caller) -> str:
    if not caller.may_act_for(user_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this token belongs to another user, or the key lacks the 'users' scope"
        )
    return user_id


UserAccess = Annotated[str, Depends(_user_access)]  # the path's user id, once the caller may act for it
