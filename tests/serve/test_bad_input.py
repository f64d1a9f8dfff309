"""Bad input gets a clear 4xx that never echoes it, never a 500; failures are counted and logged."""

import json
import re
import time
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.exc import StatementError

from newsrec.store.db import make_engine
from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, USER_KEY, make_client, news_items
from tests.serve.test_api import click, seed

JSON = {"Content-Type": "application/json"}


def post_raw(client, path, body: bytes, key=NEWS_KEY):
    return client.post(path, content=body, headers={**key, **JSON})


@pytest.mark.parametrize("user_id", ["x" * 129, "a%00b", "a%0D%0Ab", "a%20b", "%F0%9F%98%80"])
def test_path_user_ids_follow_the_body_rules(client, user_id):
    for method in ("get", "delete"):
        path = f"/v1/users/{user_id}/profile" if method == "get" else f"/v1/users/{user_id}"
        r = getattr(client, method)(path, headers=USER_KEY)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["path", "user_id"]
    assert len(client.app.state.service.users) == 0  # nothing cached for them


def test_repeated_ids_in_one_news_batch_are_a_conflict(client):
    r = client.post("/v1/news", json={"items": news_items(2) + news_items(1)}, headers=NEWS_KEY)
    assert r.status_code == 409 and "L0" in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"items": [{"id": "n1", "title": "bad \\ud800 text"}]}',  # lone surrogate in a value
        b'{"items": [{"id": "n1", "title": "nul \\u0000 here"}]}',  # NUL: PostgreSQL refuses it
        b'{"items": [{"id": "n1", "title": "ok", "\\udfff": 1}]}',  # lone surrogate in a key
        b'{"items": [{"id": "n1", "title": "ok", "published_at": 0}]}',  # a number, not a time
        b'{"items": [{"id": "n1", "title": "ok", "published_at": "1900-01-01T00:00:00Z"}]}',
        b'{"items": [{"id": "n1", "title": "ok"}',  # malformed JSON
        b'{"items": [{"id": "n1", "title": " \\u200b\\u202e\\t "}]}',  # blank: spaces and invisible marks only
    ],
)
def test_invalid_bodies_get_a_422_naming_the_field(client, body):
    r = post_raw(client, "/v1/news", body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("invalid request") and r.json()["errors"][0]["loc"][0] == "body"


def test_invalid_utf8_is_a_400_in_the_same_shape(client):
    r = post_raw(client, "/v1/news", b'\xff\xfe{"items": []}')
    assert r.status_code == 400 and set(r.json()) == {"detail"}


def test_errors_never_echo_what_was_sent(client):
    huge = "A" * 900_000
    r = client.post("/v1/news", json={"items": [{"id": "n1", "title": huge}]}, headers=NEWS_KEY)
    assert r.status_code == 422 and len(r.content) < 2_000 and "AAAA" not in r.text
    r = client.post("/v1/news", json={"items": [{"id": "n1", "title": "t", "x" * 5000: 1}]}, headers=NEWS_KEY)
    assert r.status_code == 422 and len(r.content) < 2_000


def test_times_are_strings_kept_in_utc_and_never_in_the_future(client):
    r = client.post(
        "/v1/news",
        json={"items": [{"id": "F1", "title": "Fresh for ever?", "published_at": "9999-01-01T00:00:00Z"}]},
        headers=NEWS_KEY,
    )
    assert r.status_code == 200
    service = client.app.state.service
    catalogue = service.primary.catalogue
    published = catalogue.published[catalogue.table.row["F1"]]
    assert datetime.fromtimestamp(published, timezone.utc).year < 9999  # taken as now: it ages like any other item
    seed(client)
    r = client.post(
        "/v1/events",
        json={
            "events": [
                {"event_id": "t1", "user_id": "u", "news_id": "L0", "type": "click", "ts": "2026-01-01T10:00:00+05:00"}
            ]
        },
        headers=USER_KEY,
    )
    assert r.status_code == 200
    with service.sessions() as session:
        from newsrec.store.repository import user_events

        stored = user_events(session, "u")[0].ts
    assert (stored.hour, stored.minute) == (5, 0)  # 10:00 at +05:00 is 05:00 UTC, not 10:00
    bad = client.post(
        "/v1/events",
        json={"events": [{"event_id": "t2", "user_id": "u", "news_id": "L0", "type": "click", "ts": 0}]},
        headers=USER_KEY,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "ts"


def test_event_ids_are_unique_per_user_not_across_users(client):
    seed(client)
    assert click(client, "shared-id", "alice", "L0").json() == {"stored": 1, "duplicates": []}
    assert click(client, "shared-id", "bob", "L1").json() == {"stored": 1, "duplicates": []}
    assert click(client, "shared-id", "bob", "L2").json() == {"stored": 0, "duplicates": ["shared-id"]}
    assert client.get("/v1/users/bob/profile", headers=USER_KEY).json()["history"] == ["L1"]


@pytest.mark.parametrize("path,field", [("/v1/events", "events"), ("/v1/impressions", "impressions")])
def test_a_list_longer_than_the_batch_ceiling_is_refused_before_its_items_are_validated(client, path, field):
    one = {"event_id": "e", "user_id": "u", "news_id": "N1", "type": "click"}
    if field == "impressions":
        one = {"impression_id": "i", "user_id": "u", "news_ids": ["N1"]}
    started = time.perf_counter()
    r = client.post(path, json={field: [one] * 40_000}, headers=ADMIN_KEY)
    took = time.perf_counter() - started
    assert r.status_code == 422 and "at most 5000 items" in r.json()["detail"]
    assert len(r.json()["errors"]) == 1 and took < 5  # one error, not 40,000 items' worth of work


def test_unknown_news_in_events_is_a_conflict_listing_them(client):
    seed(client)
    r = click(client, "e1", "u", "NOPE")
    assert r.status_code == 409 and r.json()["unknown_news_ids"] == ["NOPE"]


def test_a_full_disk_is_a_507_that_stores_nothing(model_dir, tmp_path):
    """SQLite's max_page_count stands in for a full disk: the write fails with SQLITE_FULL."""
    database = tmp_path / "db.sqlite"
    with make_client(model_dir, f"sqlite:///{database}", tmp_path, raise_server_exceptions=False) as c:
        c.post("/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY)
        engine = c.app.state.service.engine

        @event.listens_for(engine, "connect")
        def _no_room(conn, _):
            conn.execute("PRAGMA max_page_count = 1")  # no page may be added: the disk is "full"

        engine.dispose()  # every new connection gets it (set below the file's size: no page may be added)
        replies = {}
        for i in range(200):  # until the free pages run out
            replies[f"u{i}"] = c.put(f"/v1/users/u{i}/interests", json={"text": f"topic {i} " * 200}, headers=USER_KEY)
            if replies[f"u{i}"].status_code != 200:
                break
        user, r = list(replies.items())[-1]
        assert r.status_code == 507 and "disk is full" in r.json()["detail"]
        event.remove(engine, "connect", _no_room)
        engine.dispose()
        assert c.get(f"/v1/users/{user}/profile", headers=USER_KEY).json()["interests"] is None  # nothing stored


def test_a_failing_route_is_a_500_that_is_logged_and_counted(model_dir, tmp_path, monkeypatch):
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, raise_server_exceptions=False) as c:

        def broken(*_, **__):
            raise RuntimeError("the private title 'Quokka secrets'")

        monkeypatch.setattr(c.app.state.service, "recommend", broken)
        r = c.get("/v1/users/u/recommendations", headers=USER_KEY)
        assert r.status_code == 500 and "Quokka" not in r.text
        metrics = c.get("/metrics").text
        assert (
            'newsrec_requests_total{method="GET",route="/v1/users/{user_id}/recommendations",status="500"}' in metrics
        )
    log = (tmp_path / "service.log").read_text()
    assert "GET /v1/users/{user_id}/recommendations 500" in log and "Quokka" not in log


def test_sql_errors_never_show_row_values(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.begin() as conn, pytest.raises(StatementError) as failure:
        conn.exec_driver_sql("CREATE TABLE t (v TEXT NOT NULL UNIQUE)")
        conn.exec_driver_sql("INSERT INTO t VALUES (?), (?)", ("my private comment", "my private comment"))
    assert "my private comment" not in str(failure.value) and "parameters hidden" in str(failure.value)


def test_request_size_limit(model_dir, tmp_path):
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, max_body_bytes=2000) as c:
        r = c.post("/v1/news", json={"items": news_items(100)}, headers=NEWS_KEY)
        assert r.status_code == 413 and "smaller batches" in r.json()["detail"]
        chunks = (b'{"items": [' + b" " * 1000 for _ in range(5))  # no Content-Length: counted as it streams
        r = c.post("/v1/news", content=chunks, headers={**NEWS_KEY, **JSON})
        assert r.status_code == 413
        r = c.post("/v1/news", content=json.dumps({"items": news_items(100)}), headers=JSON)  # no key
        assert r.status_code == 401
        assert c.post("/v1/news", json={"items": news_items(2)}, headers=ADMIN_KEY).status_code == 200


def test_milvus_without_a_uri_fails_at_start(model_dir, tmp_path):
    with pytest.raises(ValueError, match="--index milvus needs --milvus-uri"):
        make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, index="milvus")


def test_a_wrong_method_lists_every_method_of_the_path(client):
    r = client.request("OPTIONS", "/v1/admin/model", headers=ADMIN_KEY)
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "POST"}
    assert client.request("PATCH", "/v1/users/u/interests", headers=USER_KEY).headers["allow"] == "PUT"


def test_a_conflict_names_a_few_unknown_ids_and_counts_the_rest(client):
    seed(client)
    events = [{"event_id": f"e{i}", "user_id": "u", "news_id": f"GONE{i:05d}", "type": "click"} for i in range(2000)]
    r = client.post("/v1/events", json={"events": events}, headers=USER_KEY)
    body = r.json()
    assert r.status_code == 409 and len(r.content) < 1_000, len(r.content)
    assert body["unknown_news_ids"] == [f"GONE{i:05d}" for i in range(10)] and body["unknown_news_count"] == 2000
    assert "and 1990 more" in body["detail"]
    shown = [
        {"impression_id": f"i{i}", "user_id": "u", "news_ids": [f"N{i}-{j}" for j in range(200)]} for i in range(50)
    ]
    r = client.post("/v1/impressions", json={"impressions": shown}, headers=USER_KEY)
    assert r.status_code == 409 and len(r.content) < 1_000 and r.json()["unknown_news_count"] == 10_000


@pytest.mark.parametrize(
    "text",
    ["\r", "\u0301\u0308", "\u3164\u3164", "\u115f\u1160", "\u2800", " \U000e0041 ", "\ufeff\u00a0"],
)
def test_texts_that_show_nothing_are_blank(client, text):
    r = client.put("/v1/users/u/interests", json={"text": text}, headers=USER_KEY)
    assert r.status_code == 422 and "blank" in r.json()["errors"][0]["msg"]
    r = client.post("/v1/news", json={"items": [{"id": "n1", "title": text}]}, headers=NEWS_KEY)
    assert r.status_code == 422


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(
        st.one_of(
            st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
            st.sampled_from("\r\n\t \u0301\u200b\u3164\u2800\ufeff\u00a0\U000e0041"),
        ),
        max_size=8,
    )
)
def test_the_schema_states_the_blank_rule_the_service_applies(client, text):
    pattern = client.app.openapi()["components"]["schemas"]["InterestsIn"]["properties"]["text"]["pattern"]
    allowed_by_schema = text != "" and re.search(pattern, text) is not None
    r = client.put("/v1/users/u/interests", json={"text": text}, headers=USER_KEY)
    assert (r.status_code == 200) == allowed_by_schema, (text, r.text)


def test_one_authorization_header_only(client):
    two = [("Authorization", "Bearer wrong"), ("Authorization", "Bearer user-key-for-tests")]
    r = client.get("/v1/users/u/profile", headers=two)
    assert r.status_code == 400 and "several Authorization headers" in r.json()["detail"]
    assert client.get("/v1/users/u/profile", headers=USER_KEY).status_code == 200


def test_a_wrong_method_on_the_openapi_document_names_the_right_ones(client):
    r = client.post("/openapi.json")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
