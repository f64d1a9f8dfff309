"""Engine creation and migrations.

The embedded default is a SQLite file in WAL mode with synchronous=FULL: a commit is on disk
before the API answers 2xx. `secure_delete` zeroes erased rows (what else erasure takes, per
engine: `erasure.py`).
Any SQLAlchemy URL works too, e.g. `postgresql+psycopg://user:pass@127.0.0.1/newsrec`.

The schema is created by Alembic migrations (`newsrec/store/migrations`). `migrate` holds a
cross-process lock while it runs (a file lock beside a SQLite database, an advisory lock on
PostgreSQL), so instances and workers starting together never race each other.
"""

from __future__ import annotations

import fcntl
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import sessionmaker

from newsrec.store.silence import bound_silence

__all__ = ["make_engine", "migrate", "make_sessions", "DB_WAIT_SECONDS", "MIGRATION_WAIT_SECONDS"]

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 7_301_002  # advisory lock id on PostgreSQL
CONNECT_TIMEOUT_SECONDS = 5  # a database that is down is reported soon (/ready), not waited for
# a lock another process holds (a backup, a VACUUM FULL, a stuck writer) is waited for this long,
# then the statement fails and the service answers 503: a request does not hang on a frozen database
DB_WAIT_SECONDS = 10.0
MIGRATION_WAIT_SECONDS = 600.0  # a migration waits for serving workers' locks (and another instance's migration)


def make_engine(url: str, wait_seconds: float = DB_WAIT_SECONDS, answer_seconds: float | None = None) -> Engine:
    """An engine whose statements wait at most `wait_seconds` for another connection's lock.

    `answer_seconds` (PostgreSQL; the service's engine sets it): a statement the server sends
    nothing back for this long fails and its connection is closed, and connecting is bounded by
    it too (whole seconds, 2 at least: libpq's), so a server that stopped answering costs a
    request that long, not for ever (`silence.py`). None: no bound (tools, migrations)."""
    # hide_parameters: an SQL error in a log or traceback never shows row values (titles, comments)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, hide_parameters=True, connect_args={"timeout": wait_seconds, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _):
            conn.execute(f"PRAGMA busy_timeout={round(wait_seconds * 1000)}")
            # WAL is a property of the file, set once by `migrate`: asked first, because changing
            # the mode needs an exclusive lock that SQLite does not wait for (two workers opening
            # the database at once made one of them fail its start with "database is locked")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # durable at commit, not just at checkpoint
            conn.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not just unlinked

        return engine
    connect: dict[str, object] = {}
    connect_seconds = CONNECT_TIMEOUT_SECONDS
    if answer_seconds is not None:
        connect_seconds = max(2, min(CONNECT_TIMEOUT_SECONDS, math.ceil(answer_seconds)))
    if url.startswith("postgresql"):  # lock_timeout: a statement waiting on a lock fails with SQLSTATE 55P03
        connect = {"connect_timeout": connect_seconds, "options": f"-c lock_timeout={round(wait_seconds * 1000)}"}
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=connect)
    if answer_seconds is not None and engine.dialect.driver == "psycopg":
        bound_silence(engine, answer_seconds, connect_seconds)
    return engine


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            yield
            return
        lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
            yield
        return
    engine = make_engine(url, MIGRATION_WAIT_SECONDS)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK})
    finally:
        engine.dispose()


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema (safe to call from many processes at once)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with _migration_lock(url):
        _owner_only(url)
        command.upgrade(config, "head")


def _owner_only(url: str) -> None:
    """A SQLite file holds the service's secret (it signs user tokens and impression ids): it
    and its WAL files are made readable by their owner only, whoever created them."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    database = Path(parsed.database)
    database.touch(mode=0o600)  # created owner-only; SQLite gives its -wal and -shm files the same mode
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def make_sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
