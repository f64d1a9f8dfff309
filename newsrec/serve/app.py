"""The HTTP API (FastAPI): news in, events in, fresh explained recommendations out.

`create_app(settings)` builds the app; `app_from_env()` builds it from NEWSREC_* variables
(what `newsrec serve` sets for its uvicorn workers). The OpenAPI document is at /openapi.json,
the web page at /.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import faiss
import torch
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from threadpoolctl import threadpool_limits

from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.serve.auth import require
from newsrec.serve.index import make_index
from newsrec.serve.schemas import (
    EventBatch,
    EventsResult,
    IngestResult,
    InterestsIn,
    NewsBatch,
    RecommendationOut,
    RecommendationsOut,
)
from newsrec.serve.service import RecommenderService, UnknownNewsError
from newsrec.serve.settings import ServiceSettings
from newsrec.store.db import make_engine, make_sessions, migrate
from newsrec.store.repository import EventRecord, NewsRecord

__all__ = ["create_app", "app_from_env"]

STATIC = Path(__file__).parent / "static"
LATENCY = Histogram("newsrec_request_seconds", "request latency", ["method", "route", "status"])
REQUESTS = Counter("newsrec_requests", "requests served", ["method", "route", "status"])
access_log = logging.getLogger("newsrec.access")


def _service(request: Request) -> RecommenderService:
    return request.app.state.service


Service = Annotated[RecommenderService, Depends(_service)]


def _open_access_log(path: Path) -> None:
    """Requests are logged by route template (/v1/users/{user_id}/...), never by user id or key."""
    if not any(isinstance(h, logging.FileHandler) and h.baseFilename == str(path.resolve()) for h in access_log.handlers):
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


def create_app(settings: ServiceSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.threads:  # workers share the cores: one BLAS pool per core, not per worker
            torch.set_num_threads(settings.threads)
            faiss.omp_set_num_threads(settings.threads)
            threadpool_limits(settings.threads)  # NumPy's BLAS, which runs the exact search
        migrate(settings.database_url)
        engine = make_engine(settings.database_url)
        ranker = Ranker.load(settings.model_dir, {}, EmbeddingCache())
        index = make_index(settings.index, ranker.plm.dim + 1, settings.approximate_above, settings.milvus_uri)
        app.state.service = RecommenderService(ranker, make_sessions(engine), index, settings.recency_days)
        app.state.service.sync_news()
        _open_access_log(settings.request_log)
        yield
        engine.dispose()

    app = FastAPI(title="newsrec", version="1", lifespan=lifespan,
                  description="Real-time personalized news recommendations with grounded explanations.")
    app.state.api_keys = settings.keys

    @app.middleware("http")
    async def limits_and_metrics(request: Request, call_next):
        size = request.headers.get("content-length")
        if size and int(size) > settings.max_body_bytes:
            return JSONResponse({"detail": f"body over {settings.max_body_bytes} bytes: send smaller batches"},
                                status.HTTP_413_CONTENT_TOO_LARGE)
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        seconds = time.perf_counter() - started
        LATENCY.labels(request.method, route, response.status_code).observe(seconds)
        REQUESTS.labels(request.method, route, response.status_code).inc()
        access_log.info("%s %s %d %.1fms", request.method, route, response.status_code, 1000 * seconds)
        return response

    def check_batch(n: int) -> None:
        if n > settings.max_batch:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{n} items: at most {settings.max_batch} per request")

    @app.post("/v1/news", response_model=IngestResult, dependencies=[Depends(require("news"))])
    def post_news(batch: NewsBatch, svc: Service) -> IngestResult:
        """Add or update news; each item is encoded on arrival and recommendable at once."""
        check_batch(len(batch.items))
        records = [NewsRecord(n.id, n.title, n.category, n.subcategory, n.abstract, n.published_at) for n in batch.items]
        return IngestResult(stored=svc.add_news(records))

    @app.post("/v1/events", response_model=EventsResult, dependencies=[Depends(require("users"))])
    def post_events(batch: EventBatch, svc: Service) -> EventsResult:
        """Store user events; an event_id already stored is reported as a duplicate, not stored twice."""
        check_batch(len(batch.events))
        records = [EventRecord(e.event_id, e.user_id, e.news_id, e.type, e.ts, e.text) for e in batch.events]
        try:
            stored, duplicates = svc.add_events(records)
        except UnknownNewsError as e:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                {"message": str(e), "unknown_news_ids": e.ids}) from None
        return EventsResult(stored=stored, duplicates=duplicates)

    @app.get("/v1/users/{user_id}/recommendations", response_model=RecommendationsOut,
             dependencies=[Depends(require("users"))])
    def get_recommendations(user_id: str, svc: Service, k: Annotated[int, Query(ge=1, le=100)] = 10) -> RecommendationsOut:
        """Top-k fresh, unread news with a one-line explanation; unknown users get cold-start picks."""
        items = [RecommendationOut(**vars(r)) for r in svc.recommend(user_id, k)]
        return RecommendationsOut(user_id=user_id, items=items)

    @app.get("/v1/users/{user_id}/profile", dependencies=[Depends(require("users"))])
    def get_profile(user_id: str, svc: Service) -> dict:
        return svc.profile(user_id)

    @app.put("/v1/users/{user_id}/interests", dependencies=[Depends(require("users"))])
    def put_interests(user_id: str, body: InterestsIn, svc: Service) -> dict:
        """Free-text interests ("I follow the NBA and electric cars"): cold start, or blended with history."""
        svc.set_interests(user_id, body.text)
        return {"user_id": user_id, "interests": body.text}

    @app.delete("/v1/users/{user_id}", dependencies=[Depends(require("users"))])
    def delete_user(user_id: str, svc: Service) -> dict:
        """Erase every trace of the user: events, interests, cached vectors (logs never name users)."""
        return {"user_id": user_id, "deleted": svc.forget(user_id)}

    @app.get("/health")
    def health(request: Request) -> dict:
        svc = getattr(request.app.state, "service", None)
        return {"status": "ok" if svc else "starting", "news": len(svc.news) if svc else 0}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app


def app_from_env() -> FastAPI:
    return create_app(ServiceSettings())
