"""Migrations: an old database moves to the change feed with its rows, and many processes may migrate at once."""

import sqlite3
import subprocess
import sys

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, text

from newsrec.store.db import MIGRATIONS, make_engine, make_sessions, migrate
from newsrec.store.models import NewsRow
from tests.serve.conftest import POSTGRES_URL, fresh_postgres


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def test_sequence_numbers_are_never_reused_after_migrating_an_old_database(tmp_path):
    path = tmp_path / "old.sqlite"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "0001")  # a database made before the change feed
    with sqlite3.connect(path) as db:
        for i in (1, 2, 3):
            db.execute(
                "INSERT INTO events (event_id, user_id, news_id, type, ts) VALUES (?, 'u', 'n', 'click', '2026-01-01')",
                [f"e{i}"],
            )
        db.execute("DELETE FROM events WHERE seq = 3")
    migrate(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")] == [1, 2]  # rows and seq kept
        db.execute(
            "INSERT INTO events (event_id, user_id, news_id, type, ts) VALUES ('e4', 'u', 'n', 'click', '2026-01-01')"
        )
        db.execute("DELETE FROM events WHERE event_id = 'e4'")
        db.execute(
            "INSERT INTO events (event_id, user_id, news_id, type, ts) VALUES ('e5', 'u', 'n', 'click', '2026-01-01')"
        )
        assert [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")] == [1, 2, 4]  # 3 died before
        db.execute(
            "INSERT INTO events (event_id, user_id, news_id, type, ts) VALUES ('e1', 'other', 'n', 'click', "
            "'2026-01-01')"
        )  # event ids are unique per user now


def test_processes_migrating_one_fresh_database_at_once_do_not_collide(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    code = f"from newsrec.store.db import migrate; migrate({url!r})"
    runs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [r.communicate()[1] for r in runs]
    assert [r.returncode for r in runs] == [0, 0, 0, 0], errors
    tables = set(inspect(make_engine(url)).get_table_names())
    assert {"news", "events", "interests", "user_deletions", "service_meta", "alembic_version"} <= tables


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_news_stored_before_links_existed_have_none_and_the_column_goes_again_on_downgrade(backend, tmp_path):
    if backend == "postgresql" and not POSTGRES_URL:
        pytest.skip("NEWSREC_TEST_POSTGRES_URL not set (run scripts/start-postgres)")
    url = fresh_postgres() if backend == "postgresql" else f"sqlite:///{tmp_path / 'old.sqlite'}"
    command.upgrade(alembic_config(url), "0005")  # a database made before news had links
    engine = make_engine(url)
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO news (news_id, title, category, subcategory, abstract, vector) VALUES "
                "('N1', 'An old story', 'sports', '', '', :vector)"
            ),
            {"vector": b"\0" * 8},
        )
    migrate(url)
    with make_sessions(engine)() as session:
        old = session.scalars(select(NewsRow)).one()
    assert old.url == "" and old.as_news().url == "" and old.as_news().title == "An old story"
    command.downgrade(alembic_config(url), "0005")
    assert "url" not in {c["name"] for c in inspect(engine).get_columns("news")}
    engine.dispose()
