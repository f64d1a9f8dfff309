"""User tokens: minted by an app key, they reach one user's routes and events, and nothing else."""

import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from sqlalchemy import event as sa_event

from newsrec.serve.settings import ServiceSettings
from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, USER_KEY, make_client, news_items

OLD, NEW = "old-secret-" + "o" * 32, "new-secret-" + "n" * 32


def mint(client, user, **body):
    r = client.post(f"/v1/users/{user}/tokens", json=body or None, headers=USER_KEY)
    assert r.status_code == 201, r.text
    assert r.json()["user_id"] == user
    return {"Authorization": f"Bearer {r.json()['token']}"}


def event(user, event_id="e1", news_id="L0"):
    return {"events": [{"event_id": event_id, "user_id": user, "news_id": news_id, "type": "click"}]}


def test_a_user_token_reaches_its_own_user_only(client):
    client.post("/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY)
    alice = mint(client, "alice")
    assert client.put("/v1/users/alice/interests", json={"text": "basketball"}, headers=alice).status_code == 200
    assert client.post("/v1/events", json=event("alice"), headers=alice).status_code == 200
    assert client.get("/v1/users/alice/profile", headers=alice).json()["history"] == ["L0"]
    assert client.get("/v1/users/alice/recommendations", headers=alice).status_code == 200
    for method, path, kwargs in [
        ("get", "/v1/users/bob/profile", {}),
        ("get", "/v1/users/bob/recommendations", {}),
        ("put", "/v1/users/bob/interests", {"json": {"text": "x"}}),
        ("delete", "/v1/users/bob", {}),
        ("post", "/v1/events", {"json": event("bob", "e2")}),
        ("post", "/v1/news", {"json": {"items": news_items(1)}}),
        ("post", "/v1/users/alice/tokens", {}),
    ]:  # a token cannot mint tokens
        r = getattr(client, method)(path, headers=alice, **kwargs)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["detail"]
    mixed = {"events": event("alice", "e3")["events"] + event("bob", "e4")["events"]}
    assert client.post("/v1/events", json=mixed, headers=alice).status_code == 403
    assert client.get("/v1/users/bob/profile", headers=ADMIN_KEY).json()["history"] == []  # nothing of bob's stored
    assert client.delete("/v1/users/alice", headers=alice).status_code == 200  # the user may erase themself


def test_news_keys_cannot_mint_and_tampered_or_expired_tokens_are_refused(client):
    assert client.post("/v1/users/alice/tokens", headers=NEWS_KEY).status_code == 403
    token = mint(client, "alice")["Authorization"].split()[1]
    header, payload, signature = token.split(".")
    forged = jwt.encode(
        {"sub": "bob", "aud": "newsrec-user", "exp": datetime.now(timezone.utc) + timedelta(hours=1)},
        "guessed-secret-" + "g" * 32,
        algorithm="HS256",
        headers=jwt.get_unverified_header(token),
    )
    for bad in [f"{header}.{payload}.{signature[:-2]}xx", forged, "not-a-token", token + "x"]:
        r = client.get("/v1/users/bob/profile", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    authenticator = client.app.state.authenticator
    expired, _ = authenticator.mint("alice", 60)
    claims = jwt.decode(expired, options={"verify_signature": False})
    secret = client.app.state.service.secret
    stale = jwt.encode(
        {**claims, "exp": claims["iat"] - 1}, secret, algorithm="HS256", headers=jwt.get_unverified_header(expired)
    )
    assert client.get("/v1/users/alice/profile", headers={"Authorization": f"Bearer {stale}"}).status_code == 401


def test_token_lifetime_is_capped_by_the_service(client):
    r = client.post("/v1/users/alice/tokens", json={"ttl_seconds": 10 * 86400}, headers=USER_KEY)
    expires = datetime.fromisoformat(r.json()["expires_at"])
    assert expires <= datetime.now(timezone.utc) + timedelta(seconds=3601)
    r = client.post("/v1/users/alice/tokens", json={"ttl_seconds": 120}, headers=USER_KEY)
    assert datetime.fromisoformat(r.json()["expires_at"]) <= datetime.now(timezone.utc) + timedelta(seconds=121)
    assert client.post("/v1/users/alice/tokens", json={"ttl_seconds": 5}, headers=USER_KEY).status_code == 422


def test_tokens_living_longer_than_the_service_grants_are_refused_on_verification(client):
    """Signed with the right secret (leaked, or an old configuration) but for a year, or with no
    issue time, or issued in the future: refused whoever signed them."""
    token = mint(client, "alice")["Authorization"].split()[1]
    secret, kid = client.app.state.service.secret, jwt.get_unverified_header(token)
    now = datetime.now(timezone.utc)
    base = {"sub": "alice", "aud": "newsrec-user"}
    cases = [
        {**base, "iat": now, "exp": now + timedelta(days=365)},
        {**base, "exp": now + timedelta(minutes=10)},
        {**base, "iat": now + timedelta(days=1), "exp": now + timedelta(days=1, minutes=10)},
    ]
    for claims in cases:
        forged = jwt.encode(claims, secret, algorithm="HS256", headers=kid)
        assert client.get("/v1/users/alice/profile", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    fine = jwt.encode({**base, "iat": now, "exp": now + timedelta(minutes=59)}, secret, algorithm="HS256", headers=kid)
    assert client.get("/v1/users/alice/profile", headers={"Authorization": f"Bearer {fine}"}).status_code == 200


def test_a_users_tokens_die_with_the_user_in_every_worker(model_dir, db_url, tmp_path):
    a, b = make_client(model_dir, db_url, tmp_path), make_client(model_dir, db_url, tmp_path)
    with a, b:
        alice = mint(a, "alice")
        assert b.get("/v1/users/alice/profile", headers=alice).status_code == 200
        assert a.delete("/v1/users/alice", headers=USER_KEY).status_code == 200
        for worker in (a, b):  # b learns of the erasure from the change feed
            r = worker.get("/v1/users/alice/profile", headers=alice)
            assert r.status_code == 401 and "erased" in r.json()["detail"]
        # the id may be reused: a token issued after the erasure works (issue times are whole
        # seconds, so it is issued in the next one, within the clock skew every instance allows)
        later = int(time.time()) + 1
        claims = {"sub": "alice", "aud": "newsrec-user", "iat": later, "exp": later + 600}
        kid = jwt.get_unverified_header(alice["Authorization"].split()[1])
        again = jwt.encode(claims, a.app.state.service.secret, algorithm="HS256", headers=kid)
        assert b.get("/v1/users/alice/profile", headers={"Authorization": f"Bearer {again}"}).status_code == 200


def test_a_user_token_costs_no_database_statement_beyond_an_app_keys(client):
    """The revocation check reads the feeds once, as the request's own reading: a user-token
    request runs as many statements as the same request with an app key (before: one feed
    reading more, the check's)."""
    client.post("/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY)
    alice = mint(client, "alice")
    statements: list[str] = []
    engine = client.app.state.service.engine
    event_listener = lambda conn, cursor, statement, *_: statements.append(statement)  # noqa: E731
    sa_event.listen(engine, "before_cursor_execute", event_listener)

    def statements_of(method, path, headers, **kwargs) -> int:
        assert client.get("/ready").status_code == 200  # caught up with every feed, as each request finds it
        statements.clear()
        r = getattr(client, method)(path, headers=headers, **kwargs)
        assert r.status_code == 200, r.text
        return len(statements)

    try:
        calls = [
            ("get", "/v1/users/alice/recommendations", {}),
            ("get", "/v1/users/alice/profile", {}),
            ("post", "/v1/users/alice/rank", {"json": {"candidates": ["L0", "L1"]}}),
        ]
        for method, path, kwargs in calls:
            statements_of(method, path, alice, **kwargs)  # the user's state loaded once
            by_key = statements_of(method, path, USER_KEY, **kwargs)
            assert statements_of(method, path, alice, **kwargs) == by_key, path
        by_key = statements_of("post", "/v1/events", USER_KEY, json=event("alice", "k1"))
        assert statements_of("post", "/v1/events", alice, json=event("alice", "t1")) == by_key
    finally:
        sa_event.remove(engine, "before_cursor_execute", event_listener)


def test_short_api_keys_fail_at_start(model_dir, tmp_path):
    with pytest.raises(ValueError, match="at least 16 characters, it has 3"):
        ServiceSettings(model_dir=model_dir, api_keys="abc:admin")


def test_the_sqlite_file_holding_the_secret_is_readable_by_its_owner_only(model_dir, tmp_path):
    database = tmp_path / "db.sqlite"
    with make_client(model_dir, f"sqlite:///{database}", tmp_path) as client:
        assert client.get("/v1/users/alice/profile", headers=USER_KEY).status_code == 200  # written, WAL and all
        for path in tmp_path.glob("db.sqlite*"):
            if not path.name.endswith("migrate-lock"):
                assert path.stat().st_mode & 0o077 == 0, path
    database.chmod(0o644)  # an older install's file: tightened at the next start
    with make_client(model_dir, f"sqlite:///{database}", tmp_path):
        assert database.stat().st_mode & 0o077 == 0


def test_short_secrets_fail_at_start(model_dir, tmp_path):
    with pytest.raises(ValueError, match="at least 32 characters"):
        make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, token_secrets="short")


def test_rotated_secrets_are_accepted_until_they_are_removed(model_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with make_client(model_dir, db, tmp_path, token_secrets=OLD) as old:
        token = mint(old, "alice")
    with make_client(model_dir, db, tmp_path, token_secrets=f"{NEW},{OLD}") as rotated:
        assert rotated.get("/v1/users/alice/profile", headers=token).status_code == 200  # grace period
        fresh = mint(rotated, "alice")
        claims = jwt.decode(fresh["Authorization"].split()[1], NEW, algorithms=["HS256"], audience="newsrec-user")
        assert claims["sub"] == "alice"  # the first secret signs
    with make_client(model_dir, db, tmp_path, token_secrets=NEW) as after:
        assert after.get("/v1/users/alice/profile", headers=token).status_code == 401
        assert after.get("/v1/users/alice/profile", headers=fresh).status_code == 200


def test_openapi_declares_bearer_auth_and_every_error_reply(client):
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    error = doc["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"detail", "errors", "unknown_news_ids", "unknown_news_count"}
    for path, operations in doc["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            for code in ("401", "403", "413", "422", "429"):
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
