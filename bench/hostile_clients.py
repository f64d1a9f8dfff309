"""The service under hostile clients and a careless admin, measured from outside.

Starts `newsrec serve --workers 2` on a fresh SQLite database with the service's default limits
(the body deadline, failed-login lockout and rate limits as shipped) and measures what holds:
- trickling bodies: N connections with a valid key send their headers, then a byte a second;
- made-up impression ids (`<12 hex>.x`, which named a metric label each before): /metrics size;
- a 409 for a body of ~72,000 unknown news ids: the size of the reply;
- wrong credentials: guesses locked out, a valid key from the same address still served, and
  made-up X-Forwarded-For addresses from 127.0.0.1 not believed;
- deployments: a folder whose model.pt is random bytes is refused; a deployed model broken
  afterwards: kill -9 of a worker (seconds until its replacement serves, exits counted) and a
  full restart (seconds until it answers).

Usage: python bench/hostile_clients.py --model runs/demo/model [--slow-connections 1000]
Prints a Markdown section.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from harness import machine, table
from service_load import free_port

KEY = "bench-key"
ADMIN = {"Authorization": f"Bearer {KEY}"}


def start(model: Path, db_url: str, port: int, log: Path, workers: int = 2) -> subprocess.Popen:
    command = [sys.executable, "-m", "newsrec.cli.main", "serve", "--model", str(model), "--db", db_url]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)],
        env={**os.environ, "NEWSREC_API_KEYS": f"{KEY}:admin"},
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def wait_healthy(base: str, proc: subprocess.Popen, seconds: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {seconds} s")


def workers_of(proc: subprocess.Popen) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    return [p for p in pids if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]


async def trickle(port: int, connections: int) -> tuple[list[float], int]:
    """Each connection sends its headers, then a byte a second; (seconds until the server closed
    it or replied, replies that were a 408)."""
    head = (
        f"POST /v1/news HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()

    async def one() -> tuple[float, bool]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        writer.write(head)
        reply = b""
        try:
            while time.perf_counter() - started < 300:
                try:
                    writer.write(b" ")
                    await writer.drain()
                    chunk = await asyncio.wait_for(reader.read(4096), 1.0)
                except asyncio.TimeoutError:
                    continue
                except (ConnectionError, OSError):
                    break
                if not chunk:
                    break
                reply += chunk
        finally:
            writer.close()
        return time.perf_counter() - started, reply.startswith(b"HTTP/1.1 408")

    results = await asyncio.gather(*(one() for _ in range(connections)))
    return [seconds for seconds, _ in results], sum(refused for _, refused in results)


def metrics_growth(base: str, impressions: int) -> tuple[int, int, int]:
    """/metrics bytes before and after `impressions` impressions with made-up ids, and the model
    versions it names after them."""
    httpx.post(f"{base}/v1/news", json={"items": [{"id": "H1", "title": "A story"}]}, headers=ADMIN)
    before = len(httpx.get(f"{base}/metrics").content)
    with httpx.Client(base_url=base, timeout=60) as http:
        for start in range(0, impressions, 500):
            batch = [
                {"impression_id": f"{secrets.token_hex(6)}.x", "user_id": f"u{i}", "news_ids": ["H1"]}
                for i in range(start, min(impressions, start + 500))
            ]
            http.post("/v1/impressions", json={"impressions": batch}, headers=ADMIN).raise_for_status()
    after = httpx.get(f"{base}/metrics").text
    return before, len(after), len(set(re.findall(r'newsrec_impressions_total\{version="([^"]*)"', after)))


def conflict_reply(base: str) -> tuple[int, int, int]:
    """(request bytes, status, reply bytes) for impressions naming 72,000 unknown news (long ids:
    a body near the 5 MB limit)."""
    shown = [
        {"impression_id": f"i{i}", "user_id": "u", "news_ids": [f"N{i}x{j}".ljust(60, "0") for j in range(200)]}
        for i in range(360)
    ]
    body = httpx.Request("POST", "/", json={"impressions": shown}).read()
    r = httpx.post(
        f"{base}/v1/impressions",
        content=body,
        headers={**ADMIN, "Content-Type": "application/json"},
        timeout=120,
    )
    return len(body), r.status_code, len(r.content)


def lockout(base: str) -> list[str]:
    """Wrong keys past the lockout, then a valid one, from 127.0.0.1 with made-up forwarded addresses
    (one keep-alive connection: one worker, whose count it is)."""
    with httpx.Client(base_url=base) as http:
        codes = [
            http.get(
                "/v1/users/u/profile", headers={"Authorization": f"Bearer guess-{i}", "X-Forwarded-For": f"10.0.0.{i}"}
            ).status_code
            for i in range(40)
        ]
        valid = http.get("/v1/users/u/profile", headers=ADMIN).status_code
    return [f"{codes.count(401)} x 401 then {codes.count(429)} x 429", str(valid)]


def nudged_copy(model: Path, to: Path) -> Path:
    shutil.copytree(model, to)
    saved = torch.load(to / "model.pt", weights_only=True)
    saved["recommender"] = {k: v + 1e-3 if v.is_floating_point() else v for k, v in saved["recommender"].items()}
    torch.save(saved, to / "model.pt")
    return to


def deployments(model: Path, base: str, proc: subprocess.Popen, tmp: Path, log: Path) -> list[list[str]]:
    rows = []
    broken = Path(shutil.copytree(model, tmp / "random-bytes"))
    (broken / "model.pt").write_bytes(os.urandom(1000))
    t = time.perf_counter()
    r = httpx.post(f"{base}/v1/admin/model", json={"model_dir": str(broken)}, headers=ADMIN, timeout=120)
    rows.append(
        ["POST /v1/admin/model, model.pt of random bytes", f"{r.status_code}", f"{time.perf_counter() - t:.2f}"]
    )
    variant = nudged_copy(model, tmp / "variant")
    t = time.perf_counter()
    r = httpx.post(f"{base}/v1/admin/model", json={"model_dir": str(variant)}, headers=ADMIN, timeout=120)
    rows.append(
        [
            "POST /v1/admin/model, a good model (proven in the request)",
            f"{r.status_code}",
            f"{time.perf_counter() - t:.2f}",
        ]
    )
    time.sleep(10)  # every worker swaps
    (variant / "model.pt").write_bytes(os.urandom(1000))  # broken after it was recorded
    exits_before = log.read_text().count("exited with")
    victim = workers_of(proc)[0]
    t = time.perf_counter()
    os.kill(victim, signal.SIGKILL)
    starts = log.read_text().count("Application startup complete")
    while log.read_text().count("Application startup complete") == starts and time.perf_counter() - t < 300:
        time.sleep(0.2)
    replaced = time.perf_counter() - t
    time.sleep(30)
    exits = log.read_text().count("exited with") - exits_before
    rows.append(
        [
            "deployed model broken afterwards, kill -9 of a worker",
            f"replacement serves; {exits} worker exit(s) in the {replaced + 30:.0f} s after",
            f"{replaced:.1f}",
        ]
    )
    return rows


def report(model: Path, slow_connections: int = 1000, impressions: int = 5000) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, slow_connections + 512)), hard))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db_url, port, log = f"sqlite:///{tmp}/hostile.sqlite", free_port(), tmp / "server.log"
        base = f"http://127.0.0.1:{port}"
        proc = start(model, db_url, port, log)
        try:
            seconds, refused = asyncio.run(trickle(port, slow_connections))
            before, after, versions = metrics_growth(base, impressions)
            sent, status, reply = conflict_reply(base)
            guesses, valid = lockout(base)
            deploy_rows = deployments(model, base, proc, tmp, log)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        t = time.perf_counter()  # a full restart on the same database, the broken deployment still recorded
        restarted = start(model, db_url, free_port(), tmp / "restart.log")
        restart_seconds = time.perf_counter() - t
        os.killpg(restarted.pid, signal.SIGTERM)
        restarted.wait(timeout=60)
    rows = [
        [
            f"{slow_connections} connections with a valid key, a body byte a second",
            f"{refused} answered 408 and closed; closed after p50 {np.median(seconds):.1f} s, max {max(seconds):.1f} s",
            f"{max(seconds):.1f}",
        ],
        [
            f"{impressions:,} impressions with made-up `<12 hex>.x` ids",
            f"/metrics {before:,} -> {after:,} bytes; version labels: {versions}",
            "-",
        ],
        [f"impressions naming 72,000 unknown news ({sent / 1e6:.1f} MB)", f"{status}, reply of {reply:,} bytes", "-"],
        [
            "40 wrong keys from 127.0.0.1, each with another X-Forwarded-For, then a valid key",
            f"{guesses}; valid key: {valid}",
            "-",
        ],
        *deploy_rows,
        [
            "full restart with that deployment still recorded",
            "ready (serves the last good model)",
            f"{restart_seconds:.1f}",
        ],
    ]
    return "\n\n".join(
        [
            "`newsrec serve --workers 2`, SQLite, the default limits (body deadline 30 s, 30 wrong credentials "
            "a minute per address). Machine: " + machine(),
            table(["probe", "what happened", "seconds"], rows),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--slow-connections", type=int, default=1000)
    parser.add_argument("--impressions", type=int, default=5000)
    args = parser.parse_args()
    print(report(args.model, args.slow_connections, args.impressions))


if __name__ == "__main__":
    main()
