"""Making an erased user's bytes leave the database files, not only its rows.

A DELETE hides rows from every query at once, but both engines keep the bytes for a while:
- SQLite (`secure_delete`, set in `db.py`) zeroes deleted rows in the file, index entries too
  (an index b-tree keeps entries, not copies, in its interior pages: checked on a file with
  interior pages, `tests/store/test_erasure_pages.py`); the write-ahead log still holds them
  until `erase_traces` folds it back into the file and truncates it, which runs after each
  erasure.
- PostgreSQL keeps deleted tuples in the table and index files until they are rewritten; plain
  VACUUM frees their space without overwriting it (checked: the text stays in the heap file).
  `VACUUM FULL` of the tables that hold users' words and ids rewrites them and their indexes
  into new files and truncates the old ones. It locks those tables while it runs, so erasures
  are gathered: the service purges at most `erase_within_seconds` after an erasure (0: before
  the DELETE answers). The write-ahead log keeps the old rows until PostgreSQL recycles its
  segments after later checkpoints; backups, WAL archives and replicas keep them as long as
  the operator keeps those.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError

from newsrec.store.models import DeletionRow, EventRow, ImpressionRow, InterestRow, MetaRow
from newsrec.store.silence import unbounded

__all__ = ["Eraser", "erase_traces", "purge_erased", "seconds_since_oldest_unpurged", "USER_TABLES"]

logger = logging.getLogger(__name__)
USER_TABLES = (EventRow.__tablename__, ImpressionRow.__tablename__, InterestRow.__tablename__)
PURGED = "purged_deletion_seq"  # service_meta: the newest tombstone whose rows' bytes are gone
PURGE_LOCK = 7_301_003  # advisory lock id: one purge at a time across instances
LOCK_WAIT = "5s"  # VACUUM FULL waits this long for its locks, then tries again later
RETRY_SECONDS = 60.0


def erase_traces(engine: Engine) -> None:
    """After an erasure on SQLite: checkpoint the WAL into the (zeroed) file and truncate it."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def purge_erased(engine: Engine) -> bool:
    """PostgreSQL: rewrite the user tables if a tombstone is newer than the last purge. Returns
    False if it must be tried again (another purge runs, or the tables were busy)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # VACUUM needs it
        if not conn.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": PURGE_LOCK}):
            return False
        try:
            newest = conn.scalar(select(func.max(DeletionRow.seq))) or 0
            purged = int(conn.scalar(select(MetaRow.value).where(MetaRow.key == PURGED)) or 0)
            if newest <= purged:
                return True
            conn.execute(text(f"SET lock_timeout = '{LOCK_WAIT}'"))
            try:
                with unbounded(conn):  # rewriting large tables is silent for as long as it takes
                    conn.execute(text(f"VACUUM FULL {', '.join(USER_TABLES)}"))
            except OperationalError as e:  # lock_timeout: a long transaction holds a table
                logger.warning("purge of erased users postponed: %s", type(e.orig).__name__)
                return False
            finally:
                conn.execute(text("RESET lock_timeout"))
            conn.execute(
                text(
                    "INSERT INTO service_meta (key, value) VALUES (:key, :value) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                {"key": PURGED, "value": str(newest)},
            )
            logger.info("erased users' rows rewritten out of %s (tombstones up to %d)", USER_TABLES, newest)
            return True
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": PURGE_LOCK})


def seconds_since_oldest_unpurged(engine: Engine) -> float | None:
    """PostgreSQL: how long ago (by the database's clock) the oldest erasure whose bytes may still
    be in the table files was made; None when every erasure is purged."""
    with engine.connect() as conn:
        purged = int(conn.scalar(select(MetaRow.value).where(MetaRow.key == PURGED)) or 0)
        oldest = select(func.min(DeletionRow.deleted_at)).where(DeletionRow.seq > purged).scalar_subquery()
        age = conn.scalar(select(func.extract("epoch", func.now() - oldest)))
    return None if age is None else float(age)


class Eraser:
    """Runs the engine's step after each erasure: at once on SQLite; on PostgreSQL a purge at
    most `within_seconds` later (one timer per process; `resume` picks up what a stopped process
    left undone)."""

    def __init__(self, engine: Engine, within_seconds: float):
        self.engine, self.within = engine, within_seconds
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def erased(self) -> None:
        """A user's rows were just deleted."""
        if self.engine.dialect.name == "sqlite":
            erase_traces(self.engine)
        elif self.engine.dialect.name == "postgresql":
            if self.within == 0:
                if not purge_erased(self.engine):
                    self._schedule(RETRY_SECONDS)
            else:
                self._schedule(self.within)

    def resume(self) -> None:
        """At start: schedule the purge a process stopped before running, by the deadline of the
        oldest erasure not purged yet (kept in the database: a restart does not postpone it)."""
        if self.engine.dialect.name == "postgresql" and (overdue := seconds_since_oldest_unpurged(self.engine)):
            self._schedule(max(0.0, self.within - overdue))

    def _schedule(self, seconds: float) -> None:
        with self._lock:
            if self._timer is not None and self._timer.is_alive():
                return  # the pending purge will include this erasure
            self._timer = threading.Timer(seconds, self._run)
            self._timer.daemon = True
            self._timer.start()

    def _run(self) -> None:
        try:
            done = purge_erased(self.engine)
        except Exception as e:  # the database is down: try again later, never crash the worker
            logger.error("purge of erased users failed: %s", type(e).__name__)
            done = False
        with self._lock:
            self._timer = None
        if not done:
            self._schedule(RETRY_SECONDS)

    def cancel(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
