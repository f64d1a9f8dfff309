"""Routes without a key: liveness and readiness, metrics, the web page."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from pathlib import Path

import anyio
from fastapi import APIRouter, Request, status
from fastapi.responses import FileResponse, JSONResponse, Response

from newsrec.serve.observability import CONTENT_TYPE_LATEST, metrics_reply
from newsrec.serve.ops_schemas import HealthOut, ReadyOut
from newsrec.service.recommender_service import RecommenderService

router = APIRouter(tags=["system"])
READY_SECONDS = 3.0
MIN_FREE_BYTES = 100_000_000  # below this the next writes (WAL, checkpoints) may fail
STATIC = Path(__file__).parents[1] / "static"


@router.get("/health")
def health(request: Request) -> HealthOut:
    """Liveness: this worker runs and answers, without asking the database (so `news` counts what
    this worker has read so far: it catches up before each answer). Whether it can serve users,
    and the news stored: /ready."""
    svc = getattr(request.app.state, "service", None)
    return HealthOut(status="ok" if svc else "starting", news=len(svc.primary.catalogue.news) if svc else 0)


def _disk_problem(svc: RecommenderService) -> str | None:
    """Why writes would fail for want of disk: a SQLite database's folder nearly full."""
    url = svc.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    free = shutil.disk_usage(Path(url.database).resolve().parent).free
    if free < MIN_FREE_BYTES:
        return f"the disk holding the database has {free // 1_000_000} MB free: writes would fail"
    return None


async def _problem(svc: RecommenderService | None) -> str | None:
    if svc is None:
        return "starting"
    try:
        with anyio.fail_after(READY_SECONDS):  # a frozen database is an answer too: not ready
            return await anyio.to_thread.run_sync(svc.unready, abandon_on_cancel=True) or _disk_problem(svc)
    except TimeoutError:
        return f"the database did not answer within {READY_SECONDS} s (or catching up with it took longer)"


@router.get("/ready", responses={503: {"model": ReadyOut, "description": "this worker cannot serve now"}})
async def ready(request: Request) -> ReadyOut:
    """Readiness: the database answers this worker within a few seconds, its disk has room, and a
    model serves (200); or why not (503)."""
    svc = getattr(request.app.state, "service", None)
    problem = await _problem(svc)
    answer = ReadyOut(
        status="unready" if problem else "ready",
        problem=problem,
        news=len(svc.primary.catalogue.news) if svc else 0,
        serving=[arm.version for arm in svc.arms] if svc else [],
        deployment_problem=svc.deployments.problem if svc else None,
    )
    if problem:
        return JSONResponse(answer.model_dump(), status.HTTP_503_SERVICE_UNAVAILABLE)  # type: ignore[return-value]
    return answer


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(metrics_reply(request.app.state.settings.metrics_dir), media_type=CONTENT_TYPE_LATEST)


def _page_policy() -> str:
    """The page's Content-Security-Policy: its own inline style and script (by their hashes) and
    calls to this origin only; no other page may frame it (clickjacking)."""
    html = (STATIC / "index.html").read_text()
    hashes = {
        tag: " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
            for block in re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.S)
        )
        for tag in ("script", "style")
    }
    return (
        f"default-src 'none'; script-src {hashes['script']}; style-src {hashes['style']}; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


PAGE_HEADERS = {"content-security-policy": _page_policy(), "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)
