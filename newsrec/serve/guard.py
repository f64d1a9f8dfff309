"""The door of the API, as ASGI middleware: rate limits, authentication, body size.

It runs before any route reads a byte of the body:
1. rate limit per client address (every path), and 429 for an address with too many failed
   authentications;
2. `/v1/...` needs a valid API key or user token: 401 otherwise, without reading the body;
3. rate limit per API key or user;
4. body size: a declared Content-Length over the limit is refused at once (413), and a chunked
   body is counted while it streams in and refused as soon as it passes the limit.

Limits are sliding windows kept in each worker process (`ratelimit.py`); with N workers a
client that spreads its connections can reach up to N times the configured rate.
"""

from __future__ import annotations

import json
import math

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsrec.serve.ratelimit import Rate, SlidingWindowLimiter
from newsrec.serve.settings import ServiceSettings

__all__ = ["Guard", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"body over {limit} bytes: send smaller batches")


class Guard:
    def __init__(self, app: ASGIApp, settings: ServiceSettings):
        self.app = app
        self.max_body = settings.max_body_bytes
        self.per_address = SlidingWindowLimiter(Rate.parse(settings.rate_limit))
        self.per_caller = SlidingWindowLimiter(Rate.parse(settings.key_rate_limit))
        self.auth_failures = SlidingWindowLimiter(Rate.parse(settings.auth_failure_limit))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown", 0))[0]
        if retry := self.per_address.hit(address):
            await _too_many(send, retry)
            return
        if scope["path"].startswith("/v1/"):
            if retry := self.auth_failures.wait(address):
                await _too_many(send, retry)
                return
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            principal = scope["app"].state.authenticator.principal(header)
            if principal is None:
                self.auth_failures.hit(address)
                await _reply(
                    send,
                    401,
                    "missing, unknown or expired credentials: send Authorization: Bearer API_KEY or a user token",
                    {"www-authenticate": "Bearer"},
                )
                return
            if retry := self.per_caller.hit(principal.name):
                await _too_many(send, retry)
                return
            scope.setdefault("state", {})["principal"] = principal
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _reply(send, 413, BodyTooLarge(self.max_body).detail)
            return
        await self._with_counted_body(scope, receive, send)

    async def _with_counted_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        received, started = 0, False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise BodyTooLarge(self.max_body)  # routes turn it into a 413 (starlette HTTPException)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as e:  # raised where no route catches it (e.g. a body sent to a GET)
            if not started:
                await _reply(send, 413, e.detail)


async def _too_many(send: Send, wait: float) -> None:
    retry = max(1, math.ceil(wait))
    await _reply(send, 429, f"too many requests: retry in {retry} s", {"retry-after": str(retry)})


async def _reply(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
