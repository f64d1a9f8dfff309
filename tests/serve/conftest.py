"""Apps in process (one per simulated worker) and real servers, with keys and databases."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from newsrec.serve.app import create_app
from newsrec.serve.settings import ServiceSettings
from newsrec.store.db import make_engine
from tests.conftest import wait_until

POSTGRES_URL = os.environ.get("NEWSREC_TEST_POSTGRES_URL")  # scripts/start-postgres prints one
KEYS = "news-key-for-tests:news,user-key-for-tests:users,admin-key-for-tests:admin"
NEWS_KEY = {"Authorization": "Bearer news-key-for-tests"}
USER_KEY = {"Authorization": "Bearer user-key-for-tests"}
ADMIN_KEY = {"Authorization": "Bearer admin-key-for-tests"}
NO_LIMITS = {
    "NEWSREC_RATE_LIMIT": "1000000/minute",
    "NEWSREC_KEY_RATE_LIMIT": "1000000/minute",
    "NEWSREC_AUTH_FAILURE_LIMIT": "1000000/minute",
}
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="NEWSREC_TEST_POSTGRES_URL not set (run scripts/start-postgres)"
)


def fresh_postgres() -> str:
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))  # every table, whatever the migrations made
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("NEWSREC_TEST_POSTGRES_URL not set (run scripts/start-postgres)")
        return fresh_postgres()
    return f"sqlite:///{tmp_path / 'service.sqlite'}"


def make_client(model_dir, db_url, tmp_path, raise_server_exceptions=True, **extra) -> TestClient:
    """An app in this process: several of them on one database behave like several workers."""
    settings = ServiceSettings(
        model_dir=model_dir, db_url=db_url, api_keys=KEYS, log_file=tmp_path / "service.log", **extra
    )
    return TestClient(create_app(settings), raise_server_exceptions=raise_server_exceptions)


@pytest.fixture
def client(model_dir, db_url, tmp_path):
    with make_client(model_dir, db_url, tmp_path) as c:
        yield c


def news_items(n: int, start: int = 0, category: str = "sports", title: str = "Lakers win game {i}"):
    return [{"id": f"L{i}", "title": title.format(i=i), "category": category} for i in range(start, start + n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`newsrec serve` as a user runs it: a real process (a supervisor and workers) on a real port."""

    def __init__(
        self,
        model_dir: Path,
        db_url: str,
        log: Path,
        workers: int = 1,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ):
        self.port = free_port() if port is None else port  # 0: any free one, read from the address it prints
        self.log = log.open("a")
        command = [
            sys.executable,
            "-m",
            "newsrec.cli.main",
            "serve",
            "--model",
            str(model_dir),
            "--db",
            db_url,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, "NEWSREC_API_KEYS": KEYS, **(env or {})},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120) -> "Server":
        """Until /health says "ok" (every worker that answers has its service); fails at once if
        the server exits, and stops it if it does not start within `timeout` seconds."""

        def started() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: see {self.log.name}")
            if not self.port:
                printed = re.search(r"serving on http://127\.0\.0\.1:(\d+)/", self.said())
                self.port = int(printed.group(1)) if printed else 0
                return False
            try:
                return httpx.get(f"{self.url}/health", timeout=1).json()["status"] == "ok"
            except httpx.HTTPError:
                return False

        try:
            wait_until(started, timeout, f"the server on port {self.port} to start (see {self.log.name})", every=0.3)
        except BaseException:  # pytest.fail's exception is no Exception
            self.stop()
            raise
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def said(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        return Path(self.log.name).read_text()

    def workers(self) -> list[int]:
        """Worker processes (multiprocessing's resource tracker is a child too, and not one)."""
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        children = [int(p) for p in out.split()]
        return [p for p in children if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]

    def stop(self, sig: int = signal.SIGKILL) -> None:
        children = self.workers()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)
        for pid in children:  # never leave workers behind, whatever the test did to their supervisor
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.log.close()

    def __enter__(self) -> "Server":
        return self.wait_ready()

    def __exit__(self, *_) -> None:
        self.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has exited
