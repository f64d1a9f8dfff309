"""What the service tells its operators: Prometheus metrics and a request log.

Both name routes by their template (`/v1/users/{user_id}/recommendations`), never a user id, a
key or a query string, and both see every reply, 401s from the guard and 500s from a failing
route included.
Under several workers (`newsrec serve --workers N`) each process writes its samples to files in
a shared folder (prometheus_client's multiprocess mode) and `/metrics` adds them all up. The
request log goes to a file and, unless `access_log` is off, to stderr: uvicorn's own access log
stays off, it prints the raw path with the user id and the query string.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Observe", "metrics_reply", "open_request_log", "CONTENT_TYPE_LATEST"]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY = Histogram("newsrec_request_seconds", "request latency", ["method", "route", "status"])
REQUESTS = Counter("newsrec_requests", "requests served", ["method", "route", "status"])
request_log = logging.getLogger("newsrec.access")


class _Stderr(logging.Handler):
    """Lines to whatever `sys.stderr` is when they are written (as logging's last resort does):
    the handler outlives the app that added it, a test's capture or a host may swap the stream."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


_TO_STDERR = _Stderr()
_TO_STDERR.setFormatter(logging.Formatter("%(asctime)s newsrec[%(process)d] %(message)s"))  # pid: which worker


def open_request_log(path: Path, to_stderr: bool) -> None:
    """Write the request log to `path`, and each line to stderr too if `to_stderr` (the access
    log a person running the service watches)."""
    request_log.setLevel(logging.INFO)
    request_log.propagate = False  # not through the root logger's handlers too
    if not any(
        isinstance(h, logging.FileHandler) and h.baseFilename == str(path.resolve()) for h in request_log.handlers
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        request_log.addHandler(handler)
    if to_stderr:  # one handler a process: the last app started says whether (a worker runs one)
        request_log.addHandler(_TO_STDERR)
    else:
        request_log.removeHandler(_TO_STDERR)


def metrics_reply(multiprocess_dir: Path | None) -> bytes:
    """The Prometheus text of this process, or of every worker when they share a folder."""
    if multiprocess_dir is None:
        return generate_latest()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(multiprocess_dir))
    return generate_latest(registry)


class Observe:
    """Times, counts and logs each request under its route's template (`routes`: the app's routes)."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]):
        self.app = app
        self.routes = routes

    def _route_template(self, scope: Scope) -> str:
        if (routed := scope.get("route")) is not None:  # the router's match, set in the shared scope
            return getattr(routed, "path", "unmatched")
        # the guard may have replied before any routing happened: matched here then
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                return getattr(route, "path", "unmatched")
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:  # an exception is a 500 too: counted and logged before it propagates
            seconds = time.perf_counter() - started
            route = self._route_template(scope)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"  # a made-up method is no new label
            LATENCY.labels(method, route, status).observe(seconds)
            REQUESTS.labels(method, route, status).inc()
            request_log.info("%s %s %d %.1fms", method, route, status, 1000 * seconds)
