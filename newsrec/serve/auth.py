"""Who is calling: an app's API key (scopes) or one user's short-lived token.

- API keys come from settings as `KEY:SCOPE+SCOPE` (`news`, `users`, `admin` = all); they are
  for servers (a news pipeline, the app's back end) and are compared in constant time.
- A user token is a signed JWT (HS256, PyJWT) bound to one user id, minted by an app key with
  the `users` scope (`POST /v1/users/{user_id}/tokens`). It reaches only that user's routes and
  events. The first configured secret signs; every listed secret verifies (the `kid` header
  names which), so a rotated-out secret keeps working until its tokens expire. A token must
  carry its issue time, and one that would live longer than the service's maximum is refused,
  whoever signed it; a token issued before its user was erased is revoked (`deps.Caller`).

Both travel as `Authorization: Bearer ...`; neither is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

__all__ = ["Principal", "Authenticator"]

AUDIENCE = "newsrec-user"
CLOCK_SKEW_SECONDS = 30  # between the instances that mint and verify


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `user_id` is set for user tokens, which carry no scopes."""

    name: str  # rate-limit bucket: a hash of the key, or the token's user
    scopes: frozenset[str] = frozenset()
    user_id: str | None = None
    issued_at: float = 0.0  # a token's `iat`: one issued before its user's erasure is revoked

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def may_act_for(self, user_id: str) -> bool:
        """Apps with the users scope act for every user; a user token only for its own user."""
        return self.has("users") or self.user_id == user_id


def _kid(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


class Authenticator:
    def __init__(self, api_keys: dict[str, frozenset[str]], token_secrets: list[str], max_ttl_seconds: int):
        if not token_secrets:
            raise ValueError("user tokens need at least one secret")
        self._keys = [(key.encode(), scopes) for key, scopes in api_keys.items()]
        self._secrets = {_kid(s): s for s in token_secrets}
        self._signing = token_secrets[0]
        self.max_ttl_seconds = max_ttl_seconds

    def principal(self, authorization: str | None) -> Principal | None:
        """The caller behind an Authorization header, or None if it proves nothing."""
        scheme, _, credential = (authorization or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return None
        given = credential.encode("utf-8", "replace")
        for key, scopes in self._keys:
            if hmac.compare_digest(key, given):
                return Principal("key:" + hashlib.sha256(key).hexdigest()[:16], scopes)
        claims = self._verify(credential)
        return Principal("user:" + claims["sub"], user_id=claims["sub"], issued_at=claims["iat"]) if claims else None

    def _verify(self, token: str) -> dict | None:
        """The claims of a token signed by one of the secrets, issued in the past, not expired, and
        living no longer than the service's maximum; None otherwise."""
        try:
            secret = self._secrets.get(jwt.get_unverified_header(token).get("kid", ""))
            if secret is None:
                return None
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "sub", "aud"], "verify_iat": False},  # checked below
            )
        except jwt.PyJWTError:
            return None
        issued, expires = claims["iat"], claims["exp"]
        if not (
            isinstance(claims["sub"], str) and isinstance(issued, int | float) and isinstance(expires, int | float)
        ):
            return None
        if issued > time.time() + CLOCK_SKEW_SECONDS or expires - issued > self.max_ttl_seconds:
            return None  # issued in the future, or a longer life than this service grants: not one of its tokens
        return claims

    def mint(self, user_id: str, ttl_seconds: int | None = None) -> tuple[str, datetime]:
        """A token for `user_id` valid for `ttl_seconds` (at most the configured maximum)."""
        ttl = min(ttl_seconds or self.max_ttl_seconds, self.max_ttl_seconds)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        expires = now + timedelta(seconds=ttl)
        claims = {"sub": user_id, "aud": AUDIENCE, "iat": now, "exp": expires}
        return jwt.encode(claims, self._signing, algorithm="HS256", headers={"kid": _kid(self._signing)}), expires
