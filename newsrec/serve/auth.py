"""API keys with scopes: `Authorization: Bearer KEY`. 401 without a valid key, 403 without
the scope; `admin` implies every scope. Keys are compared in constant time and never logged."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

__all__ = ["require"]


def _scopes_of(request: Request) -> frozenset[str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    for key, scopes in request.app.state.api_keys.items():
        if hmac.compare_digest(key.encode(), token.strip().encode()):
            return scopes
    return None


def require(scope: str):
    """A FastAPI dependency: the request's key must carry `scope` (or admin)."""

    def check(request: Request) -> None:
        scopes = _scopes_of(request)
        if scopes is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown API key: send Authorization: Bearer KEY",
                                headers={"WWW-Authenticate": "Bearer"})
        if scope not in scopes and "admin" not in scopes:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this API key lacks the '{scope}' scope")

    return check
