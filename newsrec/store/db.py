"""Engine creation and migrations.

The embedded default is a SQLite file in WAL mode with synchronous=FULL: a commit is on disk
before the API answers 2xx. Any SQLAlchemy URL works too, e.g.
`postgresql+psycopg://user:pass@127.0.0.1/newsrec`. The schema is created by Alembic
migrations (`newsrec/store/migrations`), run at start-up.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

__all__ = ["make_engine", "migrate", "make_sessions"]

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # durable at commit, not just at checkpoint
            conn.execute("PRAGMA busy_timeout=30000")

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def make_sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
