"""The service engine's silence bound (newsrec/store/silence.py): a statement the server sends
nothing back for longer than the bound fails as `unanswered` and closes its connection, new
connections are refused at once for a moment after it, and maintenance that is silent by nature
(VACUUM FULL) lifts the bound for its statement. The frozen server itself:
tests/serve/test_frozen_database.py."""

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from newsrec.store.db import make_engine
from newsrec.store.silence import unanswered, unbounded
from tests.conftest import wait_until
from tests.serve.conftest import POSTGRES_URL, needs_postgres

LIMIT = 0.3


def sleeps(conn, seconds: float) -> None:
    conn.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})


@needs_postgres
def test_a_silent_statement_fails_past_the_bound_and_maintenance_may_lift_it():
    engine = make_engine(POSTGRES_URL, wait_seconds=0.1, answer_seconds=LIMIT)
    try:
        with engine.connect() as conn:
            sleeps(conn, 0.1)  # silent for less than the bound: answered
            started = time.monotonic()
            with pytest.raises(OperationalError) as failed:
                sleeps(conn, 3 * LIMIT)
            assert unanswered(failed.value) and time.monotonic() - started < 3 * LIMIT
            assert failed.value.connection_invalidated  # this connection is not used again
        with pytest.raises(OperationalError) as refused, engine.connect() as conn:  # at once, for a moment
            sleeps(conn, 0)
        assert unanswered(refused.value) and "did not answer" in str(refused.value.orig)

        def answers() -> bool:
            try:
                with engine.connect() as conn:
                    sleeps(conn, 0)
                return True
            except OperationalError:
                return False

        wait_until(answers, 10, "the engine to connect again")
        with engine.connect() as conn, unbounded(conn):
            sleeps(conn, 3 * LIMIT)  # as VACUUM FULL runs (newsrec/store/erasure.py)
        with engine.connect() as conn, pytest.raises(OperationalError):
            sleeps(conn, 3 * LIMIT)  # the bound is back on the connection afterwards
    finally:
        engine.dispose()


def test_engines_without_a_bound_and_sqlite_are_left_as_they_were(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}", answer_seconds=LIMIT)
    with engine.connect() as conn, unbounded(conn):
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    if POSTGRES_URL:
        engine = make_engine(POSTGRES_URL)  # tools and migrations: psycopg's own connection
        with engine.connect() as conn:
            sleeps(conn, 2 * LIMIT)
        engine.dispose()
