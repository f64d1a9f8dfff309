"""Routes without a key: health, metrics, the web page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from newsrec.serve.observability import CONTENT_TYPE_LATEST, metrics_reply
from newsrec.serve.schemas import HealthOut

router = APIRouter(tags=["system"])
STATIC = Path(__file__).parents[1] / "static"


@router.get("/health")
def health(request: Request) -> HealthOut:
    svc = getattr(request.app.state, "service", None)
    return HealthOut(status="ok" if svc else "starting", news=len(svc.news) if svc else 0)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(metrics_reply(request.app.state.settings.metrics_dir), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")
