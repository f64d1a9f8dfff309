"""Error replies: one JSON shape for every 4xx/5xx, and never an echo of what was sent.

`{"detail": "what was wrong and what to do", "errors": [{"loc", "msg", "type"}]}` - `errors`
only for invalid requests (422, including malformed JSON; a body that is not even UTF-8 is a
400), `unknown_news_ids` (the first few) and `unknown_news_count` only when a request names
news the service does not have (409). Inputs are never copied into a reply (a 200 MB body stays
on the client's side): a reply names at most a few offending ids and counts the rest, and names
in `loc` are cut short and made printable.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from newsrec.service.inputs import IDS_NAMED, RepeatedNewsError, UnknownNewsError
from newsrec.store.silence import unanswered

__all__ = [
    "described",
    "ErrorBody",
    "FieldError",
    "ERROR_RESPONSES",
    "CONFLICT_RESPONSE",
    "install_error_handlers",
]

logger = logging.getLogger(__name__)
MAX_LOC_CHARS = 64


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[FieldError] | None = None
    unknown_news_ids: list[str] | None = Field(None, description=f"the first {IDS_NAMED} of them, sorted")
    unknown_news_count: int | None = None


def described(text: str) -> dict:
    return {"model": ErrorBody, "description": text}


# the replies every /v1 route may give besides its own (documented in the OpenAPI document)
ERROR_RESPONSES: dict[int | str, dict] = {
    400: described("the body is not UTF-8 text"),
    401: described("no valid API key or user token"),
    403: described("the key lacks the scope, or the token belongs to another user"),
    413: described("body or batch too large"),
    422: described("invalid request: `errors` names each field"),
    503: described(
        "the database stayed locked by another process (nothing was stored) or did not answer: retry after Retry-After"
    ),
    507: described("the service's disk is full: nothing was stored"),
    429: described("rate limit: wait for the Retry-After header's seconds"),
}
CONFLICT_RESPONSE: dict[int | str, dict] = {
    409: described("the request conflicts with what the service holds: a repeated id, or news it does not have")
}


def _printable(part: str | int) -> str | int:
    if isinstance(part, int):
        return part
    text = str(part).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_LOC_CHARS else text[:MAX_LOC_CHARS] + "..."


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(
            loc=[_printable(p) for p in e.get("loc", ())], msg=str(e.get("msg", ""))[:300], type=str(e.get("type", ""))
        )
        for e in exc.errors()[:50]
    ]


def _methods_of(request: Request) -> set[str]:
    """The methods the app's routes (kept in `app.state.routes`) serve at the request's path."""
    paths_match = (r for r in request.app.state.routes if r.matches(request.scope)[0] != Match.NONE)
    return {method for route in paths_match for method in route.methods or ()}


def _disk_full(exc: OperationalError) -> bool:
    """SQLite's SQLITE_FULL, or PostgreSQL's disk_full (SQLSTATE 53100)."""
    orig = exc.orig
    return "database or disk is full" in str(orig) or getattr(orig, "sqlstate", None) == "53100"


def _locked(exc: OperationalError) -> bool:
    """SQLite's "database is locked" after its busy timeout, or PostgreSQL's lock_timeout
    (SQLSTATE 55P03): another process held a lock past `db_wait_seconds`."""
    orig = exc.orig
    return "database is locked" in str(orig) or getattr(orig, "sqlstate", None) == "55P03"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        summary = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors[:3])
        body = ErrorBody(detail=f"invalid request: {summary}", errors=errors)
        return JSONResponse(body.model_dump(exclude_none=True), status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"}
        if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:  # every method of the path, not one route's
            headers["allow"] = ", ".join(sorted(_methods_of(request)))
        return JSONResponse({"detail": str(exc.detail)}, exc.status_code, headers=headers)

    @app.exception_handler(UnknownNewsError)
    async def unknown_news(_: Request, exc: UnknownNewsError) -> JSONResponse:
        body = ErrorBody(detail=str(exc), unknown_news_ids=exc.ids, unknown_news_count=exc.count)
        return JSONResponse(body.model_dump(exclude_none=True), status.HTTP_409_CONFLICT)

    @app.exception_handler(RepeatedNewsError)
    async def repeated_news(_: Request, exc: RepeatedNewsError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)

    @app.exception_handler(OperationalError)
    async def database_failure(request: Request, exc: OperationalError) -> JSONResponse:
        if _disk_full(exc):  # the write was rolled back: nothing of the request was stored
            logger.error("request failed: the database's disk is full")
            detail = "the service's disk is full: nothing of this request was stored; retry once space is freed"
            return JSONResponse({"detail": detail}, status.HTTP_507_INSUFFICIENT_STORAGE)
        if _locked(exc):  # rolled back too; the ids of events and impressions make a retry store them once
            logger.warning("request failed: the database stayed locked by another process")
            detail = "the database is held by another process: nothing of this request was stored; retry shortly"
            return JSONResponse({"detail": detail}, status.HTTP_503_SERVICE_UNAVAILABLE, {"Retry-After": "2"})
        if unanswered(exc):  # frozen, down or unreachable: a write may or may not have been committed
            logger.warning("request failed: the database did not answer")
            detail = (
                "the database did not answer in time: retry shortly "
                "(events and impressions are stored once by their ids, however often they are sent)"
            )
            return JSONResponse({"detail": detail}, status.HTTP_503_SERVICE_UNAVAILABLE, {"Retry-After": "5"})
        return await failure(request, exc)

    @app.exception_handler(Exception)
    async def failure(_: Request, exc: Exception) -> JSONResponse:
        # the type only: messages of some errors quote the data they failed on
        logger.error("request failed with %s", type(exc).__name__)
        return JSONResponse({"detail": "internal error: it was logged; retry later"}, 500)
