"""The service under hostile clients and a careless admin, measured from outside.

Starts `newsrec serve --workers 2` on a fresh SQLite database with the service's default limits
(the body deadline, failed-login lockout and rate limits as shipped) and measures what holds:
- popularity poisoning with one user token: forged clicks, a made-up list, and the honest path
  (clicking the target whenever a served list holds it): the target's rank for a new user;
- racing writes to one user (parallel PUTs, PUTs racing a DELETE): server errors; the mode of
  the SQLite file that holds the token secret;
- floods: `[1,1,...]`, `[{},{},...]` and 40,000 valid events in one body, 4 connections
  pipelining 300k requests each without reading: worker RSS growth and reply time;
- trickling bodies: N connections with a valid key send their headers, then a byte a second;
- made-up impression ids (`<12 hex>.x`, which named a metric label each before): /metrics size;
- a 409 for a body of ~72,000 unknown news ids: the size of the reply;
- wrong credentials: guesses locked out, a valid key from the same address still served, and
  made-up X-Forwarded-For addresses from 127.0.0.1 not believed;
- deployments: a folder whose model.pt is random bytes is refused; a deployed model broken
  afterwards: kill -9 of a worker (seconds until its replacement serves, exits counted) and a
  full restart (seconds until it answers);
- a frozen database: 2 workers on a PostgreSQL server of the probe's own, stopped whole
  (SIGSTOP) with requests in flight: what they and /ready answer, and how soon the service
  serves again after SIGCONT (skipped where PostgreSQL's binaries are missing).

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
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import torch
from harness import machine, table
from service_load import free_port

KEY = "bench-key-0123456789"
ADMIN = {"Authorization": f"Bearer {KEY}"}


def start(model: Path, db_url: str, port: int, log: Path, workers: int = 2) -> subprocess.Popen:
    command = [sys.executable, "-m", "newsrec.cli.main", "serve", "--model", str(model), "--db", db_url]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)],
        env={**os.environ, "NEWSREC_API_KEYS": f"{KEY}:admin", "NEWSREC_DEPLOY_ROOTS": f"{log.parent},{model.parent}"},
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


def rss_mb(pids: list[int]) -> dict[int, float]:
    return {p: int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{p}/status").read_text()).group(1)) / 1000 for p in pids}


def rank_of(http: httpx.Client, user: str, target: str, pool: list[str]) -> int:
    ranked = http.post(f"/v1/users/{user}/rank", json={"candidates": pool}, headers=ADMIN).json()["items"]
    return [r["news_id"] for r in ranked].index(target) + 1


def poisoning(base: str) -> list[list[str]]:
    """One user token against popularity: forged clicks (any impression id), a made-up list, and
    the honest path (ask for lists, post them, click the target whenever it is in one). The
    target's rank among 1,000 news for a new user, before and after each."""
    pool = [f"P{i}" for i in range(1000)]
    rows = []
    with httpx.Client(base_url=base, timeout=120) as http:
        for start in range(0, len(pool), 500):
            items = [
                {"id": n, "title": f"Local council meets about the budget, item {n}"} for n in pool[start : start + 500]
            ]
            http.post("/v1/news", json={"items": items}, headers=ADMIN).raise_for_status()
        target = pool[759]
        token = http.post("/v1/users/mallory/tokens", headers=ADMIN).json()["token"]
        mallory = {"Authorization": f"Bearer {token}"}

        def forged(n: int, tag: str) -> None:
            for start in range(0, n, 5000):
                events = [
                    {"event_id": f"{tag}{i}", "user_id": "mallory", "news_id": target, "type": "click",
                     "impression_id": f"made-up-{i}"}
                    for i in range(start, min(n, start + 5000))
                ]  # fmt: skip
                http.post("/v1/events", json={"events": events}, headers=mallory).raise_for_status()

        before = rank_of(http, "newcomer0", target, pool)
        forged(200, "a")
        rows.append(["200 clicks naming made-up impressions, one user token", f"target rank {before} -> "
                     f"{rank_of(http, 'newcomer1', target, pool)} of 1,000 (a new user's list)", "-"])  # fmt: skip
        forged(20_000, "b")
        listed = {"impressions": [{"impression_id": "x.1.forged", "user_id": "mallory", "news_ids": [target]}]}
        http.post("/v1/impressions", json=listed, headers=mallory).raise_for_status()
        events = [{"event_id": f"c{i}", "user_id": "mallory", "news_id": target, "type": "click",
                   "impression_id": "x.1.forged"} for i in range(100)]  # fmt: skip
        http.post("/v1/events", json={"events": events}, headers=mallory).raise_for_status()
        rows.append(["+20,000 such clicks, a made-up list holding the target and 100 clicks in it",
                     f"target rank {rank_of(http, 'newcomer2', target, pool)}", "-"])  # fmt: skip
        shown_with_target = clicks = 0
        for i in range(300):  # the honest path, 300 times: only lists the service made count
            answer = http.get("/v1/users/mallory/recommendations?k=100", headers=mallory).json()
            ids = [item["news_id"] for item in answer["items"]]
            body = {"impressions": [{"impression_id": answer["impression_id"], "user_id": "mallory", "news_ids": ids}]}
            http.post("/v1/impressions", json=body, headers=mallory).raise_for_status()
            if target in ids:
                shown_with_target += 1
                event = {"event_id": f"h{i}", "user_id": "mallory", "news_id": target, "type": "click",
                         "impression_id": answer["impression_id"]}  # fmt: skip
                clicks += http.post("/v1/events", json={"events": [event]}, headers=mallory).json()["stored"]
        caps = "caps: 1 counted click a user and story, 30 an hour; 1 view an hour for at most 200 stories"
        rows.append([f"300 served lists of 100 posted; the target was in {shown_with_target}, clicked {clicks} times",
                     f"target rank {rank_of(http, 'newcomer3', target, pool)} ({caps})", "-"])  # fmt: skip
    return rows


def floods(base: str, port: int, pids: list[int]) -> list[list[str]]:
    """Bodies that cost memory to parse or validate, and pipelined requests never read: the
    largest worker RSS growth after each, and how long the reply took."""
    rows = []
    with httpx.Client(base_url=base, timeout=120) as http:
        token = http.post("/v1/users/flooder/tokens", headers=ADMIN).json()["token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        one = b'{"event_id":"e","user_id":"flooder","news_id":"P1","type":"click"},'
        bodies = [
            ('`{"events": [1,1,...]}` of 4.8 MB, a user token', b'{"events":[' + b"1," * 2_400_000 + b"1]}"),
            ("`[{},{},...]` of 0.9 MB", b'{"events":[' + b"{}," * 300_000 + b"{}]}"),
            ("40,000 valid events (3 MB)", b'{"events":[' + one * 39_999 + one[:-1] + b"]}"),
        ]
        for name, body in bodies:
            before = rss_mb(pids)
            started = time.perf_counter()
            r = http.post("/v1/events", content=body, headers=headers)
            took = time.perf_counter() - started
            after = rss_mb(pids)
            growth = max(after[p] - before[p] for p in pids)
            rows.append(
                [name, f"{r.status_code} ({r.json()['detail'][:60]}); worker RSS +{growth:.0f} MB", f"{took:.2f}"]
            )
    before = rss_mb(pids)
    request, sent = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", [0] * 4

    def pipelined(i: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            try:
                for _ in range(3000):
                    sock.sendall(request * 100)
                    sent[i] += 100
            except OSError:
                pass

    started = time.perf_counter()
    threads = [threading.Thread(target=pipelined, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = rss_mb(pids)
    rows.append([
        "4 connections each sending up to 300,000 `GET /health`, reading nothing",
        f"the server took {min(sent):,}-{max(sent):,} requests a connection; worker RSS "
        f"+{max(after[p] - before[p] for p in pids):.0f} MB",
        f"{time.perf_counter() - started:.1f}",
    ])  # fmt: skip
    return rows


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


def racing_writes(base: str, database: Path) -> list[list[str]]:
    """4 parallel PUTs of interests for each of 30 new users, then PUTs racing each user's DELETE:
    server errors among them; and who may read the database file that holds the token secret."""
    codes: list[int] = []

    def status(reply) -> int:  # 0: the connection dropped (the tree before issue 33 reset some)
        try:
            return reply.result().status_code
        except httpx.TransportError:
            return 0

    with httpx.Client(base_url=base, timeout=60) as http, ThreadPoolExecutor(8) as pool:
        for i in range(30):
            path = f"/v1/users/racer{i}/interests"
            puts = [pool.submit(http.put, path, json={"text": f"topic {j}"}, headers=ADMIN) for j in range(4)]
            codes += [status(p) for p in puts]
            racing = [pool.submit(http.delete, f"/v1/users/racer{i}", headers=ADMIN)]
            racing += [pool.submit(http.put, path, json={"text": "again"}, headers=ADMIN) for _ in range(3)]
            codes += [status(r) for r in racing]
    mode = stat.filemode(database.stat().st_mode)
    return [
        [
            "4 parallel PUTs of a new user's interests, then 3 PUTs racing its DELETE, for 30 users",
            f"{sum(c >= 500 for c in codes)} server errors and {codes.count(0)} dropped connections of {len(codes)}",
            "-",
        ],
        ["the SQLite file holding the token secret", f"mode {mode}", "-"],
    ]


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


def frozen_database(model: Path, tmp: Path, cap: float = 60.0) -> list[list[str]]:
    """A PostgreSQL server stopped whole (every process SIGSTOPped, as a paused container): what
    requests in flight and /ready answer, and how long after SIGCONT the service serves again.
    The server is one of this probe's own (initdb in a temporary folder), never a shared one."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        return [["PostgreSQL stopped whole (SIGSTOP)", "skipped: no PostgreSQL binaries here", "-"]]
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []  # it refuses to run as root
    data, pg_port, port = Path(tempfile.mkdtemp(prefix="hostile-pg-")), free_port(), free_port()
    if as_postgres:
        shutil.chown(data, "postgres")

    def pg(program: str, *args: str) -> None:
        subprocess.run([*as_postgres, str(found[-1].parent / program), *args], check=True, capture_output=True)

    pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust")
    pg("pg_ctl", "-D", str(data), "-l", str(data / "log"), "-o", f"-h 127.0.0.1 -p {pg_port} -k {data}", "-w", "start")
    base, proc = f"http://127.0.0.1:{port}", None
    try:
        proc = start(model, f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/postgres", port, tmp / "frozen.log")
        items = [{"id": f"F{i}", "title": f"Frozen story number {i}", "category": "news"} for i in range(5)]
        httpx.post(f"{base}/v1/news", json={"items": items}, headers=ADMIN, timeout=120).raise_for_status()
        click = {"events": [{"event_id": "f1", "user_id": "reader", "news_id": "F0", "type": "click"}]}
        calls = {
            "recommendations": lambda: httpx.get(f"{base}/v1/users/reader/recommendations", headers=ADMIN, timeout=cap),
            "a click": lambda: httpx.post(f"{base}/v1/events", json=click, headers=ADMIN, timeout=cap),
            "/ready": lambda: httpx.get(f"{base}/ready", timeout=cap),
        }
        for call in calls.values():
            call()  # every worker's pool holds connections now
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
        stopped = [postmaster, *map(int, children)]

        def timed(call) -> tuple[str, float]:
            t = time.perf_counter()
            try:
                return str(call().status_code), time.perf_counter() - t
            except httpx.TimeoutException:
                return f"no answer within {cap:.0f} s", time.perf_counter() - t

        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(len(calls)) as pool:
                answers = dict(zip(calls, pool.map(timed, calls.values())))
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
        t = time.perf_counter()
        while httpx.get(f"{base}/ready", timeout=cap).status_code != 200 and time.perf_counter() - t < cap:
            time.sleep(0.1)
        recovered = time.perf_counter() - t
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)
    said = "; ".join(f"{name} {code} after {seconds:.1f} s" for name, (code, seconds) in answers.items())
    longest = max(seconds for _, seconds in answers.values())
    return [
        ["PostgreSQL stopped whole (SIGSTOP), 3 requests in flight, default limits", said, f"{longest:.1f}"],
        ["... then resumed (SIGCONT)", "/ready 200 again, requests served", f"{recovered:.1f}"],
    ]


def report(model: Path, slow_connections: int = 1000, impressions: int = 5000) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, slow_connections + 512)), hard))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db_url, port, log = f"sqlite:///{tmp}/hostile.sqlite", free_port(), tmp / "server.log"
        base = f"http://127.0.0.1:{port}"
        proc = start(model, db_url, port, log)
        try:
            poison_rows = poisoning(base)
            flood_rows = floods(base, port, workers_of(proc))
            race_rows = racing_writes(base, tmp / "hostile.sqlite")
            seconds, refused = asyncio.run(trickle(port, slow_connections))
            before, after, versions = metrics_growth(base, impressions)
            sent, status, reply = conflict_reply(base)
            guesses, valid = lockout(base)
            deploy_rows = deployments(model, base, proc, tmp, log)
            frozen_rows = frozen_database(model, tmp)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        t = time.perf_counter()  # a full restart on the same database, the broken deployment still recorded
        restarted = start(model, db_url, free_port(), tmp / "restart.log")
        restart_seconds = time.perf_counter() - t
        os.killpg(restarted.pid, signal.SIGTERM)
        restarted.wait(timeout=60)
    rows = [
        *poison_rows,
        *flood_rows,
        *race_rows,
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
        *frozen_rows,
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
