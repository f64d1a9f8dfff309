"""Service benchmarks on loopback: latency and throughput, click-to-change delay, event burst.

Starts `newsrec serve --workers W` on 127.0.0.1 against a fresh SQLite database seeded with a
synthetic pool of N news (vectors written straight to the database: ingest-time PLM encoding is
measured apart, by `newsrec serve`'s POST /v1/news figures below) and 500 users with 10 clicks
each, then runs a bounded load: wrk (`apt install wrk`; C, so it takes little of the cores it
shares with the workers) where it is installed, else an asyncio httpx generator. Every loop is
bounded in count and time and stops by itself.

Usage: python bench/service_load.py --model runs/demo/model --pool 10000 100000 [--requests 2000]
Prints a Markdown section for docs/BENCHMARKS.md (`bench/run_all.py` writes it there).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np
from harness import table

from newsrec.data.mind import News
from newsrec.serve.settings import ServiceSettings
from newsrec.store import repository as repo
from newsrec.store.db import make_engine, make_sessions, migrate
from newsrec.store.models import EventRow

KEY = "bench-key-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}"}
DIM = 384


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vector_id(model: Path) -> str:
    """The name of the news vectors the model reads (`Ranker.vector_id`): pool vectors stored under
    it are served as they are; under any other name the service would encode every title at start."""
    from newsrec.models.ranker import Ranker

    return Ranker.load(model, {}).vector_id


def seed_pool(db_url: str, n: int, named: str, users: int = 0, reads: int = 10, seed: int = 0) -> None:
    """N news with unit vectors around 20 topic centres (so users have something to prefer),
    stored under the vector name `named`; users user0.. each with `reads` clicks on news of
    two topics of their own (so every request asks a real content query, not popularity alone)."""
    migrate(db_url)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, DIM))
    sessions = make_sessions(make_engine(db_url))
    topic_of = np.zeros(n, np.int64)
    for start in range(0, n, 5000):
        topics = topic_of[start : start + 5000] = rng.integers(0, 20, size=min(5000, n - start))
        vectors = centres[topics] + rng.normal(scale=1.5, size=(len(topics), DIM))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        items = [
            News(f"B{start + i}", f"Synthetic story {start + i} on topic {t}", f"topic{t}")
            for i, t in enumerate(topics)
        ]
        with sessions.begin() as session:
            repo.upsert_news(session, items, vectors, named)
    clicked = datetime.now(timezone.utc) - timedelta(hours=1)
    events = []
    for u in range(users):
        liked = np.flatnonzero(np.isin(topic_of, rng.choice(20, 2, replace=False)))
        events += [
            repo.EventRecord(f"read-{u}-{i}", f"user{u}", f"B{b}", "click", clicked)
            for i, b in enumerate(rng.choice(liked, reads, replace=False))
        ]
    with sessions.begin() as session:
        repo.add_events(session, events)


def launch(model: Path, db_url: str, port: int, workers: int, log, approximate_above: int, snapshots: Path):
    env = {
        **os.environ,
        "NEWSREC_SNAPSHOT_DIR": str(snapshots),
        "NEWSREC_API_KEYS": f"{KEY}:admin",
        "NEWSREC_APPROXIMATE_ABOVE": str(approximate_above),
        "NEWSREC_DEPLOY_ROOTS": f"{snapshots.parent},{model.resolve().parent}",  # models to swap in lie there
        # one load generator on one address is the whole point here, not an abuser
        "NEWSREC_RATE_LIMIT": "1000000/minute",
        "NEWSREC_KEY_RATE_LIMIT": "1000000/minute",
    }
    command = ["serve", "--model", str(model), "--db", db_url, "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(
        [sys.executable, "-m", "newsrec.cli.main", *command],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def healthy_after(proc: subprocess.Popen, port: int) -> float:
    """Seconds from now until /health says ok (every worker has its news)."""
    started = time.perf_counter()
    while time.perf_counter() - started < 900:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["status"] == "ok":
                return time.perf_counter() - started
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("the server did not start within 900 s")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


class MemoryWatch:
    """Samples, every `every` s, the summed PSS of a session's processes (the server and its
    workers): shared pages, a mapped file's, count once in all, split between the processes
    that map them. (The sum of each process's RSS counts them once per process.)"""

    def __init__(self, session: int, every: float = 0.5):
        self.session, self.every, self.peak_pss_mib = session, every, 0.0
        self._stop, self._sampling = threading.Event(), threading.Event()
        self._sampling.set()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            if self._sampling.is_set():
                pss = sum(_field(process, "smaps_rollup", "Pss:") for process in _in(self.session))
                self.peak_pss_mib = max(self.peak_pss_mib, pss)
            self._stop.wait(self.every)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No samples meanwhile, for the timed load: reading a worker's smaps_rollup walks its page
        tables (13 ms at 100k news) and holds its memory map meanwhile, which stalled requests
        (p99 31 -> 45-56 ms at 12 clients, sampled every 0.5 s). The warm-up before runs the same
        code with samples taken, and so do the delay and burst runs after."""
        self._sampling.clear()
        try:
            yield
        finally:
            self._sampling.set()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_pss_mib


def _in(session: int) -> list[Path]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[3]) == session:  # field 6: session id
                found.append(stat.parent)
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return found


def _field(process: Path, name: str, key: str) -> float:
    """A kB field of /proc/PID/<name>, in MiB (0 once the process is gone)."""
    try:
        lines = (process / name).read_text().splitlines()
        return next(int(line.split()[1]) for line in lines if line.startswith(key)) / 1024
    except (OSError, StopIteration, IndexError, ValueError):
        return 0.0


WRK_SCRIPT = """
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/v1/users/user" .. math.random(0, %d) .. "/recommendations?k=10",
                    {["Authorization"] = "Bearer %s"})
end
"""


def load_wrk(base: str, users: int, requests: int, concurrency: int) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, requests/s) from wrk (C, one thread, keep-alive connections), for about as
    long as `requests` take at 250/s: a load generator that takes little of the cores it shares."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % (users - 1, KEY))
        script.flush()
        seconds = max(5, requests // 250)
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", script.name, base]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failed requests:\n{out}")
    figures = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.strip()}
    return _wrk_ms(figures["50%"]), _wrk_ms(figures["99%"]), float(figures["Requests/sec:"])


def _wrk_ms(value: str) -> float:
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value.removesuffix(unit)) * scale
    raise ValueError(f"not a wrk latency: {value}")


async def load(
    base: str, users: int, requests: int, concurrency: int, in_turn: bool = False
) -> tuple[np.ndarray, float]:
    """`requests` GET recommendations from `concurrency` clients, for random users (or, with
    `in_turn`, for every user in turn); returns latencies (s) and wall time."""
    latencies: list[float] = []
    queue = list(range(requests))

    async def client(http: httpx.AsyncClient) -> None:
        while queue:
            asked = queue.pop()
            user = f"user{asked % users if in_turn else random.randrange(users)}"
            t = time.perf_counter()
            r = await http.get(f"{base}/v1/users/{user}/recommendations?k=10", headers=HEADERS)
            latencies.append(time.perf_counter() - t)
            r.raise_for_status()

    async with httpx.AsyncClient(timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        return np.array(latencies), time.perf_counter() - started


def click_delay(base: str, trials: int) -> np.ndarray:
    """Time from sending a click to holding recommendations that reflect it (clicked item gone).

    One plain keep-alive client, as a web page would send it."""
    delays = []
    with httpx.Client(timeout=30) as http:
        for i in range(trials):
            user = f"clicker{i}"
            top = http.get(f"{base}/v1/users/{user}/recommendations?k=10", headers=HEADERS).json()["items"]
            news_id = top[0]["news_id"]
            t = time.perf_counter()
            event = {"event_id": f"delay-{i}-{time.time_ns()}", "user_id": user, "news_id": news_id, "type": "click"}
            http.post(f"{base}/v1/events", json={"events": [event]}, headers=HEADERS).raise_for_status()
            after = http.get(f"{base}/v1/users/{user}/recommendations?k=10", headers=HEADERS).json()["items"]
            delays.append(time.perf_counter() - t)
            assert news_id not in [x["news_id"] for x in after], "the click did not change the recommendations"
    return np.array(delays)


async def burst(base: str, n_events: int, clients: int, pool: int, retry_share: float = 0.1) -> tuple[int, int, float]:
    """n_events distinct events from `clients` concurrent clients, a share of them sent twice."""
    events = [
        {"event_id": f"burst-{i}", "user_id": f"user{i % 997}", "news_id": f"B{i % pool}", "type": "click"}
        for i in range(n_events)
    ]
    sends = events + random.Random(1).sample(events, int(retry_share * n_events))  # deliberate retries
    random.Random(2).shuffle(sends)
    queue = list(range(0, len(sends), 10))

    async def client(http: httpx.AsyncClient) -> None:
        while queue:
            start = queue.pop()
            r = await http.post(f"{base}/v1/events", json={"events": sends[start : start + 10]}, headers=HEADERS)
            r.raise_for_status()

    async with httpx.AsyncClient(timeout=60) as http:
        t = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return len(events), len(sends), time.perf_counter() - t


def count_burst_rows(db_url: str) -> int:
    from sqlalchemy import func, select

    with make_sessions(make_engine(db_url))() as session:
        return session.scalar(select(func.count()).select_from(EventRow).where(EventRow.event_id.like("burst-%")))


def ms(x: np.ndarray, q: float) -> str:
    return f"{1000 * np.quantile(x, q):.1f}"


def peak_rss_mib(session: int) -> float:
    """Sum of the peak RSS (VmHWM) of every process in a session: the server and its workers."""
    return sum(_field(process, "status", "VmHWM:") for process in _in(session))


def one_copy_mib(model: Path, pool: int) -> float:
    """The news vectors (float32) and the model's weights: its own file and its encoder's."""
    from newsrec.encoders.packaged import resolve_model_path
    from newsrec.models.spec import ModelSpec

    weights = sum(f.stat().st_size for f in resolve_model_path(ModelSpec.load(model).encoder).rglob("*.safetensors"))
    return (pool * DIM * 4 + (model / "model.pt").stat().st_size + weights) / 2**20


def report(
    model: Path,
    pools: tuple[int, ...] = (10_000, 100_000),
    requests: int = 2000,
    concurrency: int = 16,
    workers: int = 2,
    users: int = 500,
    burst_events: int = 10_000,
    delay_trials: int = 50,
) -> str:
    """Each pool with the service's default index, then the largest again with IVF switched on below
    it if it was exact.

    Each pool is served twice from the same database: a first start (a worker builds the
    machine's news snapshot from the store, the other waits and maps it), then a restart that
    maps the snapshot left behind; the load runs against the restart."""
    default = ServiceSettings.model_fields["approximate_above"].default
    runs = [(pool, default) for pool in pools]
    if max(pools) <= default:  # the largest pool is searched exactly: IVF on it as well, for comparison
        runs.append((max(pools), max(pools) // 2))
    named = vector_id(model)
    rows, extra = [], []
    for i, (pool, approximate_above) in enumerate(runs):
        with tempfile.TemporaryDirectory() as tmp:
            db_url = f"sqlite:///{tmp}/bench.sqlite"
            seed_pool(db_url, pool, named, users)
            port, started, peaks = free_port(), [], []
            with open(Path(tmp) / "server.log", "w") as log:
                for _ in ("first start", "restart"):
                    proc = launch(model, db_url, port, workers, log, approximate_above, Path(tmp) / "snapshots")
                    watch = MemoryWatch(proc.pid)
                    started.append(healthy_after(proc, port))
                    if len(started) == 1:
                        peaks.append(watch.stop())
                        stop(proc)
                base = f"http://127.0.0.1:{port}"
                try:
                    # warm-up: every user asked 3 times, so each worker has most of them (their events
                    # loaded, their query made), as past a service's first minutes: a worker's first
                    # answer to a user costs more
                    asyncio.run(load(base, users, 3 * users, concurrency, in_turn=True))
                    with watch.paused():
                        if shutil.which("wrk"):
                            p50, p99, per_second = load_wrk(base, users, requests, concurrency)
                            generator = "wrk"
                        else:
                            latencies, wall = asyncio.run(load(base, users, requests, concurrency))
                            p50, p99 = 1000 * np.quantile(latencies, 0.5), 1000 * np.quantile(latencies, 0.99)
                            per_second = len(latencies) / wall
                            generator = "httpx (asyncio)"
                    index = "exact" if pool <= approximate_above else f"IVF (approximate above {approximate_above:,})"
                    if i == len(pools) - 1:  # the delay and burst figures at the largest pool, default index
                        delays = click_delay(base, delay_trials)
                        extra.append(
                            f"Click-to-changed-recommendation delay at {pool:,} news "
                            f"(POST click, then GET; {delay_trials} trials): p50 {ms(delays, 0.5)} ms, "
                            f"p99 {ms(delays, 0.99)} ms."
                        )
                        distinct, sent, seconds = asyncio.run(burst(base, burst_events, 20, pool))
                        stored = count_burst_rows(db_url)
                        extra.append(
                            f"Burst: {sent:,} event posts ({distinct:,} distinct, {sent - distinct:,} deliberate "
                            f"retries) from 20 concurrent clients in {seconds:.1f} s; the database holds "
                            f"{stored:,} burst events "
                            f"({'exactly the distinct ones' if stored == distinct else 'MISMATCH'})."
                        )
                    peaks.append(watch.stop())
                    rows.append(
                        [f"{pool:,}", index, workers, generator, concurrency, f"{p50:.1f}", f"{p99:.1f}",
                         f"{per_second:.0f}", f"{started[0]:.1f} / {started[1]:.1f}",
                         f"{peaks[0]:.0f} / {peaks[1]:.0f}", f"{peak_rss_mib(proc.pid):.0f}",
                         f"{one_copy_mib(model, pool):.0f}"]
                    )  # fmt: skip
                finally:
                    stop(proc)
    header = [
        "pool",
        "index",
        "workers",
        "load generator",
        "concurrent clients",
        "p50 ms",
        "p99 ms",
        "requests/s",
        "healthy after s: first start / restart",
        "peak PSS MiB, all processes: first start / restart + load",
        "sum of peak RSS MiB (restart)",
        "one copy of vectors + model MiB",
    ]
    return "\n\n".join(
        [
            f"GET /v1/users/{{id}}/recommendations?k=10 for {users} users (10 clicks each), after a warm-up "
            "that asked for each user 3 times; "
            f"the load generator shares the machine's cores with the {workers} workers. PSS counts a page shared "
            "by the workers (the mapped news snapshot) once; the sum of RSS counts it once per process. PSS is "
            "sampled every 0.5 s from start through the warm-up and the delay and burst runs, not during the "
            "timed load (reading it stalls a worker for about 13 ms at 100k news).",
            table(header, rows),
            *extra,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--pool", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--burst-events", type=int, default=10_000)
    parser.add_argument("--delay-trials", type=int, default=50)
    args = parser.parse_args()
    print(
        report(
            args.model,
            tuple(args.pool),
            args.requests,
            args.concurrency,
            args.workers,
            args.users,
            args.burst_events,
            args.delay_trials,
        )
    )


if __name__ == "__main__":
    main()
