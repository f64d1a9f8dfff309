"""Crash after acknowledgement (a real server killed with SIGKILL), and the Milvus index."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

from tests.serve.conftest import KEYS, NEWS_KEY, USER_KEY, make_client, news_items


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir, db_path, port, log):
    env = {**os.environ, "NEWSREC_API_KEYS": KEYS}
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsrec.cli.main", "serve", "--model", str(model_dir), "--db", f"sqlite:///{db_path}",
         "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()["status"] == "ok":
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


def test_nothing_acknowledged_is_lost_when_the_server_is_killed(model_dir, tmp_path):
    db, port = tmp_path / "crash.sqlite", free_port()
    with (tmp_path / "server.out").open("w") as log:
        proc = start_server(model_dir, db, port, log)
        base = f"http://127.0.0.1:{port}"
        try:
            assert httpx.post(f"{base}/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY).status_code == 200
            acked = []
            for i in range(40):
                event = {"event_id": f"crash-{i}", "user_id": "u", "news_id": f"L{i % 3}", "type": "click"}
                if httpx.post(f"{base}/v1/events", json={"events": [event]}, headers=USER_KEY).status_code == 200:
                    acked.append(event["event_id"])
        finally:
            proc.send_signal(signal.SIGKILL)  # no shutdown, no flush: the hard way
            proc.wait()
    stored = {r[0] for r in sqlite3.connect(db).execute("SELECT event_id FROM events")}
    assert len(acked) == 40 and set(acked) <= stored


def test_milvus_lite_backend_ranks_like_faiss(model_dir, tmp_path):
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from newsrec.serve.index import FaissIndex, MilvusIndex

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    milvus, faiss = MilvusIndex(16, str(tmp_path / "milvus.db")), FaissIndex(16)
    for index in (milvus, faiss):
        index.upsert(np.arange(200), vectors)
        index.upsert(np.array([5]), -vectors[5:6])  # replace one
        index.remove(np.array([7]))
    query = vectors[5]
    assert list(milvus.search(query, 10)[1]) == list(faiss.search(query, 10)[1])
    assert 7 not in milvus.search(vectors[7], 50)[1]

    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, index="milvus",
                     milvus_uri=str(tmp_path / "service-milvus.db")) as client:
        client.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        r = client.get("/v1/users/x/recommendations?k=3", headers=USER_KEY)
        assert r.status_code == 200 and len(r.json()["items"]) == 3
