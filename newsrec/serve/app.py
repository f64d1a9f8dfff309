"""The HTTP API (FastAPI): news in, events in, fresh explained recommendations out.

`create_app(settings)` builds the app: the guard (rate limits, authentication before the body
is read, body size) and the request log wrap the routes in `serve/routes/`. `app_from_env()`
builds it from NEWSREC_* variables, for running under any ASGI server. The OpenAPI document is
at /openapi.json, the web page at /.
"""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

import faiss
import torch
from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.serve.auth import Authenticator
from newsrec.serve.errors import install_error_handlers
from newsrec.serve.guard import Guard
from newsrec.serve.observability import Observe, open_request_log
from newsrec.serve.routes import admin, events, impressions, news, system, users
from newsrec.serve.settings import ServiceSettings
from newsrec.service.deployment_copies import ModelCopies
from newsrec.service.index import Items, VectorIndex, make_index
from newsrec.service.recommender_service import RecommenderService
from newsrec.store.db import make_engine, migrate

__all__ = ["create_app", "app_from_env"]


def create_app(settings: ServiceSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.threads:  # workers share the cores: one BLAS pool per core, not per worker
            torch.set_num_threads(settings.threads)
            faiss.omp_set_num_threads(settings.threads)
            threadpool_limits(settings.threads)  # NumPy's BLAS, which runs the exact search
        if settings.migrate_on_start:
            migrate(settings.database_url)
        engine = make_engine(settings.database_url, settings.db_wait_seconds, settings.answer_seconds)
        cache, core = EmbeddingCache(), settings.core()
        # served from this machine's copy of --model (`newsrec serve` made it before any worker
        # started: every worker, also one started later, serves the same files), so what is
        # written to the folder after start-up changes nothing, as for a deployment
        copies = ModelCopies.of_machine(core.snapshot_dir)
        copy = copies.copy(str(settings.model_dir), digest=settings.model_digest)
        ranker = Ranker.load(copy, {}, cache)

        def index_for(items: Items, version: str) -> VectorIndex:
            return make_index(settings.index, items, settings.probe_share, settings.milvus_uri, f"news_{version}")

        model_dir = str(settings.model_dir)
        service = RecommenderService.open(ranker, model_dir, engine, index_for, core, cache, copies, copy.name)
        app.state.authenticator = Authenticator(
            settings.keys, settings.secrets or [service.secret], settings.token_ttl_seconds
        )
        app.state.service = service
        open_request_log(settings.request_log, settings.access_log)
        # what start-up built lives as long as the worker: out of the collector's sight, a full
        # collection does not walk its half a million objects (a 100-230 ms pause at 100k news)
        gc.freeze()
        yield
        gc.unfreeze()  # an app stopped in a longer-lived process (tests): its cycles collectable again
        service.close()
        engine.dispose()

    app = FastAPI(
        title="newsrec",
        version="1",
        lifespan=lifespan,
        description="Real-time personalized news recommendations with grounded explanations.",
    )
    app.state.settings = settings
    install_error_handlers(app)
    documents = list(app.routes)  # /openapi.json and /docs, which FastAPI adds itself
    routers = (news.router, events.router, impressions.router, users.router, admin.router, system.router)
    for router in routers:
        app.include_router(router)
    # every route by its template, the documents' too: for Allow and the log
    app.state.routes = documents + [route for router in routers for route in router.routes]
    app.add_middleware(Guard, settings=settings)
    app.add_middleware(Observe, routes=app.state.routes)  # outermost

    return app


def app_from_env() -> FastAPI:
    return create_app(ServiceSettings())
