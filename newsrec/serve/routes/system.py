"""Routes without a key: liveness and readiness, metrics, the web page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, status
from fastapi.responses import FileResponse, JSONResponse, Response

from newsrec.serve.observability import CONTENT_TYPE_LATEST, metrics_reply
from newsrec.serve.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["system"])
STATIC = Path(__file__).parents[1] / "static"


@router.get("/health")
def health(request: Request) -> HealthOut:
    """Liveness: this worker runs and answers. Whether it can serve users: /ready."""
    svc = getattr(request.app.state, "service", None)
    return HealthOut(status="ok" if svc else "starting", news=len(svc.news) if svc else 0)


@router.get("/ready", responses={503: {"model": ReadyOut, "description": "this worker cannot serve now"}})
def ready(request: Request) -> ReadyOut:
    """Readiness: the database answers this worker and a model serves (200), or why not (503)."""
    svc = getattr(request.app.state, "service", None)
    problem = svc.unready() if svc else "starting"
    answer = ReadyOut(status="unready" if problem else "ready", problem=problem, news=len(svc.news) if svc else 0)
    if problem:
        return JSONResponse(answer.model_dump(), status.HTTP_503_SERVICE_UNAVAILABLE)  # type: ignore[return-value]
    return answer


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(metrics_reply(request.app.state.settings.metrics_dir), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")
