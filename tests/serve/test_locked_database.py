"""A database another process holds locked (a backup, a VACUUM FULL, a stuck writer) makes a
request wait at most `db_wait_seconds`, then answer 503 with Retry-After, having stored nothing;
the same request succeeds, once, when the lock is gone. Before, a request waited 30 s (SQLite)
or for ever (PostgreSQL) and then failed with a 500."""

import sqlite3
import time
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from tests.serve.conftest import USER_KEY, make_client
from tests.serve.test_api import click, seed

WAIT = 0.5


@contextmanager
def held_by_another_process(db_url: str):
    """The events table locked by another connection, as another program would hold it."""
    if db_url.startswith("sqlite"):
        other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the write lock: in WAL mode readers go on, writers wait
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    engine = create_engine(db_url)
    with engine.connect() as other:
        transaction = other.begin()
        other.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))  # as VACUUM FULL takes it
        try:
            yield
        finally:
            transaction.rollback()
    engine.dispose()


def test_a_write_on_a_locked_database_is_a_503_that_stores_nothing_and_a_retry_stores_it(model_dir, db_url, tmp_path):
    with make_client(model_dir, db_url, tmp_path, raise_server_exceptions=False, db_wait_seconds=WAIT) as c:
        seed(c)
        with held_by_another_process(db_url):
            started = time.monotonic()
            r = click(c, "e1", "reader", "L0")
            waited = time.monotonic() - started
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0, r.text
        assert "held by another process" in r.json()["detail"] and waited < WAIT + 5
        assert c.get("/v1/users/reader/profile", headers=USER_KEY).json()["history"] == []  # nothing stored
        assert click(c, "e1", "reader", "L0").status_code == 200  # the retry, once the lock is gone
        assert click(c, "e1", "reader", "L0").status_code == 200  # and again: stored once, by its id
        assert c.get("/v1/users/reader/profile", headers=USER_KEY).json()["history"] == ["L0"]
