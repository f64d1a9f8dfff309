"""A PostgreSQL server that stops answering (every process SIGSTOPped, as a paused container or VM
is) makes requests answer 503 within `db_answer_seconds` and a connection timeout, not hang; once
the server runs again the service answers as before, without a restart. The server's kernel still
accepts connections and acknowledges bytes, so no TCP-level setting notices (newsrec/store/silence.py).
Before, a pooled connection's request waited until the server resumed.

The test freezes a server of its own (`private_postgres.py`), never the shared one."""

import time
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import wait_until
from tests.serve.conftest import USER_KEY, make_client, needs_postgres
from tests.serve.private_postgres import PrivatePostgres
from tests.serve.test_api import click, recs, seed

WAIT, ANSWER = 0.5, 2.0  # db_wait_seconds, db_answer_seconds
CONNECT = 2.0  # the connection timeout that goes with ANSWER (libpq's least)
SLACK = 4.0  # thread hand-offs, a shared machine


def timed(call):
    started = time.monotonic()
    reply = call()
    return reply, time.monotonic() - started


@needs_postgres
def test_a_frozen_database_is_a_bounded_503_and_the_service_recovers_when_it_resumes(model_dir, tmp_path):
    server = PrivatePostgres()
    try:
        settings = {"db_wait_seconds": WAIT, "db_answer_seconds": ANSWER}
        with make_client(model_dir, server.url, tmp_path, raise_server_exceptions=False, **settings) as c:
            seed(c)
            assert recs(c, "reader")  # the pool holds connections the frozen server will not answer
            calls = {
                "recommendations": lambda: c.get("/v1/users/reader/recommendations", headers=USER_KEY),
                "a click": lambda: click(c, "e1", "reader", "L0"),
                "interests": lambda: c.put("/v1/users/other/interests", json={"text": "NBA"}, headers=USER_KEY),
            }
            with ThreadPoolExecutor(len(calls)) as pool, server.frozen():  # resumed before the pool joins
                asked = {name: pool.submit(timed, call) for name, call in calls.items()}
                answers = {name: future.result(timeout=60) for name, future in asked.items()}
                ready = c.get("/ready")
            for name, (r, seconds) in answers.items():
                assert r.status_code == 503 and int(r.headers["retry-after"]) > 0, (name, r.status_code, r.text)
                assert "did not answer" in r.json()["detail"], name
                # the silent statement (then at most one reconnection that times out)
                assert seconds < ANSWER + CONNECT + SLACK, (name, seconds)
            assert ready.status_code == 503
            wait_until(lambda: c.get("/ready").status_code == 200, 30, "/ready after the server resumed")
            assert click(c, "e1", "reader", "L0").status_code == 200  # the retry of the click
            assert click(c, "e1", "reader", "L0").status_code == 200
            assert c.get("/v1/users/reader/profile", headers=USER_KEY).json()["history"] == ["L0"]  # stored once
            assert recs(c, "reader")
    finally:
        server.stop()
