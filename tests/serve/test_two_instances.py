"""Two `newsrec serve` instances on one PostgreSQL: what a user outgrowing one machine runs.

Both start at once on a fresh database (migrations must not race), then every promise made by
one instance holds on the other: clicks, new news, re-posted titles and erasures.
"""

import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from newsrec.store.db import make_engine
from tests.conftest import wait_until
from tests.serve.conftest import (
    ADMIN_KEY,
    NEWS_KEY,
    NO_LIMITS,
    USER_KEY,
    Server,
    alive,
    fresh_postgres,
    needs_postgres,
    news_items,
)
from tests.serve.test_processes import post_events_until_killed

pytestmark = [pytest.mark.slow, needs_postgres]


def recs(server, user, k=10):
    r = httpx.get(f"{server.url}/v1/users/{user}/recommendations?k={k}", headers=USER_KEY)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_two_instances_share_every_promise(model_dir, tmp_path):
    url = fresh_postgres()
    a = Server(model_dir, url, tmp_path / "a.log", env=NO_LIMITS)
    b = Server(model_dir, url, tmp_path / "b.log", workers=2, env=NO_LIMITS)  # both migrate the fresh database
    with a.wait_ready(), b.wait_ready():
        items = news_items(4, 0, "sports", "Lakers win basketball game number {i}") + news_items(
            4, 10, "finance", "Stock markets rally as interest rates fall, day {i}"
        )
        assert httpx.post(f"{a.url}/v1/news", json={"items": items}, headers=NEWS_KEY).json() == {"stored": 8}
        assert len(recs(b, "reader")) == 8  # posted to A, recommendable on B

        event = {"event_id": "e1", "user_id": "reader", "news_id": "L10", "type": "comment", "text": "private words"}
        httpx.post(f"{a.url}/v1/events", json={"events": [event]}, headers=USER_KEY)
        after = recs(b, "reader", k=7)
        assert "L10" not in [i["news_id"] for i in after]  # a click through A changes B's next list
        assert sorted(i["news_id"] for i in after[:3]) == ["L11", "L12", "L13"]
        assert after[0]["explanation"].startswith("Because you read")

        assert httpx.delete(f"{a.url}/v1/users/reader", headers=USER_KEY).json()["deleted"]["events"] == 1
        profile = httpx.get(f"{b.url}/v1/users/reader/profile", headers=USER_KEY).json()
        assert profile["history"] == [] and profile["recent_comments"] == []  # gone on B before its next answer
        assert not any(i["explanation"].startswith("Because") for i in recs(b, "reader"))

        httpx.post(f"{a.url}/v1/news", json={"items": [{"id": "L0", "title": "Lakers lose at last"}]}, headers=NEWS_KEY)
        for server in (a, b):
            titles = {i["news_id"]: i["title"] for i in recs(server, "someone")}
            assert titles["L0"] == "Lakers lose at last"
    for log in ("a.log", "b.log"):
        assert "already exists" not in (tmp_path / log).read_text()


def test_kill_9_of_one_instance_loses_nothing_it_acknowledged(model_dir, tmp_path):
    url = fresh_postgres()
    with Server(model_dir, url, tmp_path / "a.log", env=NO_LIMITS) as a:
        b = Server(model_dir, url, tmp_path / "b.log", workers=2, env=NO_LIMITS).wait_ready()
        httpx.post(f"{a.url}/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY)
        stop, acked = threading.Event(), []
        with ThreadPoolExecutor(2) as pool:
            pool.submit(post_events_until_killed, a.url, "a", stop, acked)
            pool.submit(post_events_until_killed, b.url, "b", stop, acked)
            wait_until(lambda: sum(e.startswith("b-") for e in acked) > 50, 60, "50 events acknowledged by B")
            b_workers = b.workers()
            b.process.send_signal(signal.SIGKILL)  # B's supervisor; its workers follow it
            b.process.wait()
            wait_until(lambda: not any(alive(p) for p in b_workers), 30, "B's workers to follow their supervisor")
            stop.set()
        b.stop()
        engine = make_engine(url)
        with engine.connect() as conn:
            stored = {r[0] for r in conn.execute(text("SELECT event_id FROM events"))}
        engine.dispose()
        assert set(acked) <= stored
        # A kept serving throughout, and sees what B acknowledged
        history = httpx.get(f"{a.url}/v1/users/b-user/profile", headers=ADMIN_KEY).json()["history"]
        assert set(history) <= {"L0", "L1", "L2"} and history
