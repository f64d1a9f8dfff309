"""schemathesis over the OpenAPI document, every check, as an app key and as a user token
(minted after the app key's run, which erases its user; before, every request of the token's
run was a 401 for that reason, so it tested nothing past authentication).

Each run is pinned (deterministic generation, no example database), so it generates the same
cases every time: it passes or fails alike on every machine. It runs against the service's
default limits (rate limits and failed-login lockout answer 429, which the document declares)
and with the limits raised, where every generated request reaches the routes.
"""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, NO_LIMITS, Server, news_items

pytestmark = pytest.mark.slow  # real server processes
ST = Path(sys.executable).parent / "st"


def run_schemathesis(server: Server, credential: str, log: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        str(ST),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {credential}",
        "--max-examples",
        "60",
        "--generation-deterministic",  # the same cases every run; implies no example database
        "--workers",
        "1",
        "--no-color",
        "--request-timeout",
        "30",
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    log.write_text(result.stdout + result.stderr)
    return result


@pytest.mark.parametrize("limits", ["default", "raised"])
def test_schemathesis_finds_nothing(model_dir, tmp_path, limits):
    env = NO_LIMITS if limits == "raised" else {}
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Server(model_dir, db, tmp_path / "server.log", workers=2, env=env) as server:
        httpx.post(
            f"{server.url}/v1/news", json={"items": [*news_items(5), {"id": "0", "title": "Zero"}]}, headers=NEWS_KEY
        )
        # the app key's run erases user 0, which revokes the tokens issued before it: the token is
        # minted after that run, and its own run leaves DELETE for last (after it, 0's tokens are 401s)
        only_delete, no_delete = ("--include-method", "DELETE"), ("--exclude-method", "DELETE")
        credential = "admin-key-for-tests"
        for name, extra in (("app-key", ()), ("user-token", no_delete), ("user-token-delete", only_delete)):
            result = run_schemathesis(server, credential, tmp_path / f"schemathesis-{name}.txt", *extra)
            assert result.returncode == 0, f"{name}:\n{result.stdout[-6000:]}"
            assert "No issues found" in result.stdout or "passed" in result.stdout, result.stdout[-3000:]
            assert "regex" not in result.stdout, result.stdout[-3000:]  # every pattern is one it can generate from
            if name == "app-key":
                credential = httpx.post(f"{server.url}/v1/users/0/tokens", headers=ADMIN_KEY).json()["token"]
            if name == "user-token":  # the token reached its user's routes (only the key routes are 403 to it)
                assert "401 Unauthorized" not in result.stdout, result.stdout[-3000:]
