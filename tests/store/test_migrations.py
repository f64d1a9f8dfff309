"""Migrations: an old database moves to the change feed with its rows, and many processes may migrate at once."""

import sqlite3
import subprocess
import sys

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from newsrec.store.db import MIGRATIONS, make_engine, migrate


def test_sequence_numbers_are_never_reused_after_migrating_an_old_database(tmp_path):
    path = tmp_path / "old.sqlite"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{path}")
    command.upgrade(config, "0001")  # a database made before the change feed
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
