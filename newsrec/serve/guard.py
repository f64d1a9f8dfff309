"""The door of the API, as ASGI middleware: rate limits, authentication, body size and pace.

It runs before any route reads a byte of the body:
1. rate limit per client address (every path);
2. `/v1/...` needs one Authorization header with a valid API key or user token: 401 otherwise
   (400 for several headers), without reading the body; an address whose wrong credentials
   pass `auth_failure_limit` gets 429 for further wrong ones, while valid credentials from it
   still pass (a neighbour behind the same address is not locked out) and a request with none
   is a plain 401 (it guesses nothing);
3. rate limit per API key or user;
4. body size: a declared Content-Length over the limit is refused at once (413), and a chunked
   body is counted while it streams in and refused as soon as it passes the limit; so are its
   JSON values (commas, brackets and braces: `[1,1,...]` or `[{},{},...]` of a few MB would
   take gigabytes as Python objects and validation errors), before anything parses it;
5. body pace: a body not complete `body_timeout_seconds` after its headers is refused (408)
   and its connection closed, so a client trickling bytes cannot hold a worker's connections.

The client address is the peer's, or what a proxy in `trusted_proxies` says it forwarded for
(uvicorn's proxy headers, off by default: no one else can claim another address).
Limits are sliding windows kept in each worker process (`ratelimit.py`); with N workers a
client that spreads its connections can reach up to N times the configured rate.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsrec.serve.ratelimit import Rate, SlidingWindowLimiter
from newsrec.serve.settings import ServiceSettings

__all__ = ["Guard", "BodyRefused", "BodyTooLarge", "BodyTooComplex", "BodyTooSlow"]


class BodyRefused(HTTPException):
    """A body the guard stops reading; routes turn it into its reply (starlette HTTPException)."""


class BodyTooLarge(BodyRefused):
    def __init__(self, limit: int):
        super().__init__(413, f"body over {limit} bytes: send smaller batches")


class BodyTooComplex(BodyRefused):
    def __init__(self, limit: int):
        super().__init__(413, f"body holds over {limit} JSON values: send smaller batches")


class BodyTooSlow(BodyRefused):
    def __init__(self, seconds: float):
        message = f"body not complete within {seconds:g} s of its headers: send it at once, or in smaller batches"
        super().__init__(408, message, headers={"connection": "close"})


class Guard:
    def __init__(self, app: ASGIApp, settings: ServiceSettings):
        self.app = app
        self.max_body = settings.max_body_bytes
        self.max_values = settings.max_json_values
        self.body_timeout = settings.body_timeout_seconds
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
            given = [value for name, value in scope["headers"] if name == b"authorization"]
            if len(given) > 1:
                await _reply(send, 400, "several Authorization headers: send one")
                return
            principal = scope["app"].state.authenticator.principal(given[0].decode("latin-1") if given else None)
            if principal is None:
                if given and (retry := self.auth_failures.hit(address)):  # a wrong credential is a guess
                    await _too_many(send, retry)
                    return
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
        received, values, complete, started = 0, 0, False, False
        deadline = time.monotonic() + self.body_timeout

        async def counted_receive() -> Message:
            nonlocal received, values, complete
            if complete:  # past the body only a disconnect can come: no deadline for it
                return await receive()
            try:
                with anyio.fail_after(max(0.0, deadline - time.monotonic())):  # a cancel scope: no extra task
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.body_timeout) from None
            body = message.get("body", b"")
            received += len(body)
            values += body.count(b",") + body.count(b"[") + body.count(b"{")  # at C speed, over-counting text
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if received > self.max_body:
                raise BodyTooLarge(self.max_body)
            if values > self.max_values:
                raise BodyTooComplex(self.max_values)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyRefused as e:  # raised where no route catches it (e.g. a body sent to a GET)
            if not started:
                await _reply(send, e.status_code, e.detail, e.headers)


async def _too_many(send: Send, wait: float) -> None:
    retry = max(1, math.ceil(wait))
    await _reply(send, 429, f"too many requests: retry in {retry} s", {"retry-after": str(retry)})


async def _reply(send: Send, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
