"""schemathesis over the OpenAPI document, every check, as an app key and as a user token."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, NO_LIMITS, Server, news_items

pytestmark = pytest.mark.slow  # real server processes
ST = Path(sys.executable).parent / "st"


def run_schemathesis(server: Server, credential: str, log: Path) -> subprocess.CompletedProcess:
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
        "--workers",
        "1",
        "--no-color",
        "--request-timeout",
        "30",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    log.write_text(result.stdout + result.stderr)
    return result


def test_schemathesis_finds_nothing(model_dir, tmp_path):
    with Server(
        model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "server.log", workers=2, env=NO_LIMITS
    ) as server:
        httpx.post(
            f"{server.url}/v1/news", json={"items": [*news_items(5), {"id": "0", "title": "Zero"}]}, headers=NEWS_KEY
        )
        token = httpx.post(f"{server.url}/v1/users/0/tokens", headers=ADMIN_KEY).json()["token"]
        for name, credential in (("app-key", "admin-key"), ("user-token", token)):
            result = run_schemathesis(server, credential, tmp_path / f"schemathesis-{name}.txt")
            assert result.returncode == 0, f"{name}:\n{result.stdout[-6000:]}"
            assert "No issues found" in result.stdout or "passed" in result.stdout, result.stdout[-3000:]
