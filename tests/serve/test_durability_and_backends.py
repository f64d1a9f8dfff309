"""Crash after acknowledgement (a real server killed with SIGKILL), and the Milvus index."""

import signal
import sqlite3

import httpx
import numpy as np
import pytest

from tests.serve.conftest import NEWS_KEY, USER_KEY, Server, make_client, news_items


@pytest.mark.slow
def test_nothing_acknowledged_is_lost_when_the_server_is_killed(model_dir, tmp_path):
    db = tmp_path / "crash.sqlite"
    server = Server(model_dir, f"sqlite:///{db}", tmp_path / "server.log").wait_ready()
    try:
        assert httpx.post(f"{server.url}/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY).status_code == 200
        acked = []
        for i in range(40):
            event = {"event_id": f"crash-{i}", "user_id": "u", "news_id": f"L{i % 3}", "type": "click"}
            if httpx.post(f"{server.url}/v1/events", json={"events": [event]}, headers=USER_KEY).status_code == 200:
                acked.append(event["event_id"])
    finally:
        server.stop(signal.SIGKILL)  # no shutdown, no flush: the hard way
    stored = {r[0] for r in sqlite3.connect(db).execute("SELECT event_id FROM events")}
    assert len(acked) == 40 and set(acked) <= stored


def test_milvus_lite_backend_ranks_like_faiss(model_dir, tmp_path):
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from newsrec.service.index import MilvusIndex, SharedIndex
    from tests.service.test_index import items_of

    rng = np.random.default_rng(0)
    items = items_of(rng.normal(size=(200, 16)).astype(np.float32), rng.normal(size=200).astype(np.float32))
    milvus, shared = MilvusIndex(items, str(tmp_path / "milvus.db")), SharedIndex(items)
    milvus.write(np.arange(1, 201))
    items.table.upsert(["n4"], -items.vectors()[5:6])  # replace one (row 5), raise another's popularity
    items.moved.add(5)  # as the catalogue marks a replaced row (the shared index's fp16 copy has its old value)
    items.popularity[8] = 40.0
    milvus.write(np.array([5, 8]))
    query = np.append(items.vectors()[5], 1.0).astype(np.float32)
    assert list(milvus.search(query, 10)[1]) == list(shared.search(query, 10)[1])
    assert milvus.search(query, 1)[1][0] == 8 and len(milvus) == 200

    with make_client(
        model_dir,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        tmp_path,
        index="milvus",
        milvus_uri=str(tmp_path / "service-milvus.db"),
    ) as client:
        client.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        r = client.get("/v1/users/x/recommendations?k=3", headers=USER_KEY)
        assert r.status_code == 200 and len(r.json()["items"]) == 3
