"""A trained tiny model and a running app (in process) on SQLite or PostgreSQL."""

import os

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from newsrec.config import load_config
from newsrec.data.mind import read_behaviors, read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.serve.app import create_app
from newsrec.serve.settings import ServiceSettings
from newsrec.store.db import make_engine
from newsrec.training.recipe import train

POSTGRES_URL = os.environ.get("NEWSREC_TEST_POSTGRES_URL")  # scripts/start-postgres prints one
KEYS = "news-key:news,user-key:users,admin-key:admin"
NEWS_KEY = {"Authorization": "Bearer news-key"}
USER_KEY = {"Authorization": "Bearer user-key"}
ADMIN_KEY = {"Authorization": "Bearer admin-key"}


@pytest.fixture(scope="session")
def model_dir(tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("served-model")
    train(load_config(epochs=1, user_encoder="mean"), read_news(tiny_world), read_behaviors(tiny_world / "train"), out,
          cache=EmbeddingCache())
    return out


def fresh_postgres() -> str:
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS events, interests, news, user_deletions, service_meta, alembic_version"))
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("NEWSREC_TEST_POSTGRES_URL not set (run scripts/start-postgres)")
        return fresh_postgres()
    return f"sqlite:///{tmp_path / 'service.sqlite'}"


def make_client(model_dir, db_url, tmp_path, **extra) -> TestClient:
    settings = ServiceSettings(model_dir=model_dir, db_url=db_url, api_keys=KEYS,
                               log_file=tmp_path / "service.log", **extra)
    return TestClient(create_app(settings))


@pytest.fixture
def client(model_dir, db_url, tmp_path):
    with make_client(model_dir, db_url, tmp_path) as c:
        yield c


def news_items(n: int, start: int = 0, category: str = "sports", title: str = "Lakers win game {i}"):
    return [{"id": f"L{i}", "title": title.format(i=i), "category": category} for i in range(start, start + n)]
