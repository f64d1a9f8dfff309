"""User tokens: minted by an app key, they reach one user's routes and events, and nothing else."""

from datetime import datetime, timedelta, timezone

import jwt
import pytest

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
