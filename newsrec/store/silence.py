"""A PostgreSQL server that stops answering does not hold a request for ever.

A server whose processes are stopped (SIGSTOP, a paused container or VM) still has a running
kernel: it accepts connections into its backlog and acknowledges every byte sent to it. So TCP
keepalives and `tcp_user_timeout` see nothing wrong, and the server's own `statement_timeout`
cannot fire in a process that does not run; psycopg has no client-side query timeout. Before,
a request on a pooled connection waited until the server resumed, and every request queued
behind the worker's state lock with it.

Every wait of a psycopg connection for its server goes through `Connection.wait`; the
connections of a serving engine (`bound_silence`) bound it by silence: when the server has sent
nothing back for `silence_limit` seconds, the connection is closed and the statement fails with
`DatabaseSilent`. SQLAlchemy sees a closed connection, so it discards it and the pool's other
connections; for one connection timeout after that (or after a failed connection) new ones are
refused at once, so the requests queued behind a frozen server answer in turn without waiting
for a timeout each; then connecting is tried again, and a resumed server is used at once. The
service answers 503 to all of these (`unanswered`). Silence, not the total time: a long result
that keeps arriving is never cut. The limit must exceed the lock wait (`lock_timeout`), the one
long silence of the serving path; maintenance that is silent for longer by nature (VACUUM FULL)
lifts it (`unbounded`). Measured (tests/serve/test_frozen_database.py, limit 2 s): three
requests in flight when the server froze answered 503 after 2.0 s each, and the service served
again 2 s after the server resumed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg.abc import PQGen
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import OperationalError

RV = TypeVar("RV")
__all__ = ["DatabaseSilent", "SilenceBounded", "bound_silence", "unbounded", "unanswered"]


class DatabaseSilent(psycopg.OperationalError):
    """The server sent nothing back within the connection's silence limit (it was closed)."""


class SilenceBounded(psycopg.Connection):
    """A psycopg connection whose every wait for the server ends after `silence_limit` seconds
    without a byte from it (None: no limit, psycopg's own behaviour)."""

    silence_limit: float | None = None
    on_silence: Callable[[], None] = staticmethod(lambda: None)  # told when the limit passes

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        if self.silence_limit is None:
            return super().wait(gen, interval, timeout)
        # psycopg wakes the generator every `interval` with "nothing ready": that is when silence is measured
        return super().wait(self._bounded(gen, self.silence_limit), interval, timeout)

    def _bounded(self, gen: PQGen[RV], limit: float) -> PQGen[RV]:
        heard = time.monotonic()
        try:
            wanted = next(gen)
            while True:
                ready = yield wanted
                if ready:  # the socket could be read or written: the server is there
                    heard = time.monotonic()
                elif time.monotonic() - heard > limit:
                    self.pgconn.finish()  # in an unknown state now: closed, so no one uses it again
                    self.on_silence()
                    raise DatabaseSilent(f"the database did not answer within {limit:g} s")
                wanted = gen.send(ready)
        except StopIteration as done:
            return done.value


def bound_silence(engine: Engine, seconds: float, connect_seconds: float) -> None:
    """Make `engine`'s PostgreSQL connections `SilenceBounded` by `seconds`. After a silence or a
    failed connection, new connections are refused at once for `connect_seconds` (an attempt
    would take that long to time out): the requests queued behind a frozen server answer 503 in
    turn at once instead of `connect_seconds` each, and a resumed server is used again after it."""
    failed_at = [-math.inf]

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, record, cargs, cparams) -> SilenceBounded:
        if (ago := time.monotonic() - failed_at[0]) < connect_seconds:
            raise DatabaseSilent(f"the database did not answer {ago:.1f} s ago")
        try:
            connection = SilenceBounded.connect(*cargs, **cparams)  # what psycopg.connect does, as this class
        except psycopg.OperationalError:
            failed_at[0] = time.monotonic()
            raise
        connection.silence_limit, connection.on_silence = seconds, lambda: failed_at.__setitem__(0, time.monotonic())
        return connection


@contextmanager
def unbounded(conn: Connection) -> Iterator[None]:
    """No silence limit on `conn` for a while (a statement silent for long by nature)."""
    dbapi = conn.connection.dbapi_connection
    if not isinstance(dbapi, SilenceBounded):
        yield
        return
    before, dbapi.silence_limit = dbapi.silence_limit, None
    try:
        yield
    finally:
        dbapi.silence_limit = before


def unanswered(exc: OperationalError) -> bool:
    """PostgreSQL did not answer: the connection failed, timed out, went silent or was lost
    (errors that psycopg raises itself carry no SQLSTATE; the server's always do)."""
    return isinstance(exc.orig, psycopg.OperationalError) and exc.orig.sqlstate is None
