"""The service as real processes, probed from outside: a supervisor and 2 workers on one port.

Keep-alive connections spread over the workers, oversized, chunked and trickling bodies, slow
and oversized headers, rate limits and forged proxy headers, metrics of several workers, kill -9 of the
supervisor during write bursts (nothing acknowledged is lost, workers do not outlive it, its
metrics folder is removed by the next start), a deployment broken after it was recorded (no
worker or restart fails), and SIGTERM, which drains requests in flight. What a person running it
reads: the page's address, printed once, and each worker's line per request.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from newsrec.models.ranker import model_version
from tests.conftest import wait_until
from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, NO_LIMITS, USER_KEY, Server, alive, news_items
from tests.serve.test_deployment import copy_of

pytestmark = pytest.mark.slow  # real server processes
MB = 1_000_000


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1000


def chunked_upload(port: int, headers: str, total: int, chunk: int = 64 * 1024) -> tuple[bytes, int]:
    """Stream a chunked body of up to `total` bytes; stop when the server answers. (reply, bytes sent)."""
    head = (
        f"POST /v1/news HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: application/json\r\n{headers}\r\n"
    ).encode()
    payload = b'{"items": [' + b" " * (chunk - 11)
    return send_until_answered(port, head, f"{len(payload):x}\r\n".encode() + payload + b"\r\n", total)


def send_until_answered(port: int, head: bytes, piece: bytes, total: int) -> tuple[bytes, int]:
    """Send `head`, then `piece` again and again up to `total` bytes; stop when the server
    answers. (reply, bytes sent after the head)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(head)
    sent = 0
    sock.setblocking(False)
    try:
        while sent < total:
            try:
                reply = sock.recv(4096)
                if not reply:
                    return b"", sent  # closed without a reply
                return whole_reply(sock, reply), sent
            except BlockingIOError:
                pass
            try:
                sock.sendall(piece)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                select.select([sock], [sock], [], 1)  # until the server reads on, answers or closes
                continue
            sent += len(piece)
        return whole_reply(sock, b""), sent
    finally:
        sock.close()


def whole_reply(sock: socket.socket, start: bytes) -> bytes:
    """The reply that begins with `start`: read on until its headers and Content-Length bytes are in
    (a reply may come in several TCP segments)."""
    sock.setblocking(True)
    sock.settimeout(10)
    reply = start
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(4096) or b"\r\n\r\n"
    head, _, body = reply.partition(b"\r\n\r\n")
    declared = re.search(rb"(?i)content-length: *(\d+)", head)
    length = int(declared.group(1)) if declared else 0
    while len(body) < length:
        more = sock.recv(4096)
        if not more:
            break
        body += more
    return head + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("processes")
    env = {
        **NO_LIMITS,
        "NEWSREC_MAX_BODY_BYTES": str(MB),
        "NEWSREC_HEADER_TIMEOUT_SECONDS": "1",
        "NEWSREC_BODY_TIMEOUT_SECONDS": "2",
    }
    with Server(model_dir, f"sqlite:///{tmp / 'db.sqlite'}", tmp / "server.log", workers=2, env=env) as running:
        yield running


def test_big_chunked_bodies_are_refused_while_streaming_and_cost_no_memory(server):
    assert len(server.workers()) == 2
    before = sum(rss_mb(p) for p in server.workers())
    reply, sent = chunked_upload(server.port, "", 200 * MB)  # no key at all
    assert reply.startswith(b"HTTP/1.1 401") and sent < 20 * MB
    reply, sent = chunked_upload(server.port, "Authorization: Bearer news-key-for-tests\r\n", 200 * MB)
    assert reply.startswith(b"HTTP/1.1 413") and b"smaller batches" in reply and sent < 20 * MB
    assert sum(rss_mb(p) for p in server.workers()) - before < 50
    big = httpx.post(
        f"{server.url}/v1/news", content=b"x" * (2 * MB), headers={**NEWS_KEY, "Content-Type": "application/json"}
    )
    assert big.status_code == 413 and len(big.content) < 500


def test_connections_that_never_finish_their_headers_are_closed(server):
    for partial in (b"", b"GET /health HTTP/1.1\r\nHost: x\r\n"):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(partial)
            sock.settimeout(5)
            started = time.time()
            assert sock.recv(100) == b"" and time.time() - started < 4  # closed after about 1 s
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_oversized_request_headers_are_refused_with_431_and_cost_no_memory(server):
    before = sum(rss_mb(p) for p in server.workers())
    reply, sent = send_until_answered(
        server.port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ", b"a" * 65536, 200 * MB
    )
    assert reply.startswith(b"HTTP/1.1 431") and b"headers over 32768 bytes" in reply and sent < 20 * MB
    reply, sent = send_until_answered(server.port, b"GET /health?q=", b"a" * 65536, 200 * MB)  # a long URL too
    assert reply.startswith(b"HTTP/1.1 431") and sent < 20 * MB
    assert sum(rss_mb(p) for p in server.workers()) - before < 50
    assert httpx.get(f"{server.url}/health", headers={"X-Fine": "a" * 20_000}).status_code == 200


def test_headers_are_measured_in_total_also_when_they_come_in_one_write(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 20_000 + b"\r\nX-B: " + b"b" * 20_000)
        sock.sendall(b"\r\n\r\n")
        reply = whole_reply(sock, sock.recv(4096))
    assert reply.startswith(b"HTTP/1.1 431"), reply[:100]
    with socket.create_connection(("127.0.0.1", server.port)) as sock:  # 100 KB of headers in one write
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 100_000 + b"\r\n\r\n")
        assert whole_reply(sock, sock.recv(4096)).startswith(b"HTTP/1.1 431")


def test_pipelined_requests_whose_replies_are_never_read_cost_no_memory(server):
    """4 connections each send up to 300k `GET /health` and read nothing (it took a worker from
    +0 to +1.5 GB before a connection could queue at most `max_pipelined`)."""
    before = {p: rss_mb(p) for p in server.workers()}
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    sent = [0] * 4

    def flood(i: int) -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            try:
                for _ in range(3000):
                    sock.sendall(request * 100)
                    sent[i] += 100
            except OSError:  # closed by the server, or no longer read: either stops the flood
                pass

    threads = [threading.Thread(target=flood, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    growth = max(rss_mb(p) - before[p] for p in before)
    assert growth < 100, (growth, sent)
    assert max(sent) < 300_000, sent
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_bodies_of_many_tiny_json_values_are_refused_before_parsing(server):
    """`[1,1,...]` and `[{},{},...]` under the byte limit would be millions of objects and
    validation errors; they are refused while they stream in, by their count of values."""
    before = {p: rss_mb(p) for p in server.workers()}
    headers = {**USER_KEY, "Content-Type": "application/json"}
    for flood in (b'{"events": [' + b"1," * 450_000 + b"1]}", b'{"events": [' + b"{}," * 300_000 + b"{}]}"):
        started = time.time()
        r = httpx.post(f"{server.url}/v1/events", content=flood, headers=headers, timeout=30)
        assert r.status_code == 413 and "JSON values" in r.json()["detail"], r.text[:200]
        assert time.time() - started < 5
    assert max(rss_mb(p) - before[p] for p in before) < 100


def test_bodies_that_trickle_in_are_refused_and_their_connections_closed(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /v1/news HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer news-key-for-tests\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        sock.settimeout(0.25)
        started, reply = time.time(), b""
        while time.time() - started < 20:  # a byte every quarter second: 1000 bytes would take 250 s
            try:
                sock.sendall(b" ")
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:  # closed while sending
                break
            if not chunk:  # closed after the reply
                break
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 408") and b"not complete within 2 s" in reply, reply
        assert time.time() - started < 10


def test_keep_alive_connections_are_spread_over_the_workers(server):
    """Each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads a client's
    keep-alive connections over them. (On one shared socket, connections that arrive together
    were all accepted by the worker that woke first, which then did all the work.)"""
    connections = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(16)]  # at once, as wrk does
    try:
        for c in connections:
            c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        for c in connections:
            assert c.recv(65536).startswith(b"HTTP/1.1 200")

        def held(pid: int) -> int:
            return sum(
                c.status == psutil.CONN_ESTABLISHED and c.laddr.port == server.port
                for c in psutil.Process(pid).net_connections("tcp")
            )

        counts = [held(pid) for pid in server.workers()]
        assert sum(counts) == 16 and min(counts) >= 2, counts
    finally:
        for c in connections:
            c.close()


def test_metrics_add_up_over_every_worker(server):
    with httpx.Client(base_url=server.url) as c:  # one keep-alive connection: always the same worker
        first = c.get("/metrics").text
    count = int(
        sum(
            float(m)
            for m in re.findall(r'newsrec_requests_total\{method="GET",route="/health",status="200"\} (\S+)', first)
        )
        or 0
    )
    for _ in range(30):
        httpx.get(f"{server.url}/health")  # new connections: spread over both workers
    text = httpx.get(f"{server.url}/metrics").text
    total = sum(
        float(m) for m in re.findall(r'newsrec_requests_total\{method="GET",route="/health",status="200"\} (\S+)', text)
    )
    assert total == count + 30


def test_the_page_address_is_printed_once_and_every_worker_logs_its_requests_on_stderr(server):
    said_before = len(server.said())
    token = httpx.post(f"{server.url}/v1/users/secret-reader-7/tokens", headers=ADMIN_KEY).json()["token"]
    for _ in range(20):  # new connections: spread over both workers
        r = httpx.get(
            f"{server.url}/v1/users/secret-reader-7/recommendations?k=3&from=secret-query",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200

    def lines() -> list[str]:  # each worker's access log lines since this test began: "newsrec[PID] GET ..."
        return re.findall(
            r"newsrec\[(\d+)\] GET /v1/users/\{user_id\}/recommendations 200 ", server.said()[said_before:]
        )

    wait_until(lambda: len(lines()) == 20, 10, "a line per request")  # written just after each reply
    assert {int(pid) for pid in lines()} == set(server.workers())
    said = server.said()
    assert said.count("newsrec: serving on") == 1 and f"serving on {server.url}/ (page)" in said  # by the supervisor
    assert "secret-reader-7" not in said and "secret-query" not in said and token not in said


def test_a_single_worker_on_port_0_prints_the_port_it_got_and_is_quiet_with_the_access_log_off(model_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    env = {"NEWSREC_ACCESS_LOG": "false"}
    with Server(model_dir, db, tmp_path / "server.log", port=0, env=env) as server:  # learns the port from the line
        r = httpx.get(f"{server.url}/")
        assert r.status_code == 200 and "<title>newsrec</title>" in r.text
        assert server.said().count("newsrec: serving on") == 1 and " GET / 200 " not in server.said()


def test_rate_limits_answer_429_with_retry_after(model_dir, tmp_path):
    env = {"NEWSREC_RATE_LIMIT": "15/minute", "NEWSREC_AUTH_FAILURE_LIMIT": "3/minute"}
    with Server(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "server.log", env=env) as server:
        with httpx.Client(base_url=server.url, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
            codes = [other.get("/v1/users/u/profile", headers=USER_KEY).status_code for _ in range(16)]
            assert codes == [200] * 15 + [429]
            r = other.get("/health")
            assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 60
        with httpx.Client(base_url=server.url, transport=httpx.HTTPTransport(local_address="127.0.0.3")) as guesser:
            codes = [
                guesser.get("/v1/users/u/profile", headers={"Authorization": f"Bearer guess-{i}"}).status_code
                for i in range(4)
            ]
            assert codes == [401, 401, 401, 429]
            assert guesser.get("/v1/users/u/profile", headers=USER_KEY).status_code == 200  # valid keys still pass
            r = guesser.get("/v1/users/u/profile", headers={"Authorization": "Bearer guess-9"})
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0  # guesses are locked out for the window
        # from 127.0.0.1, whose X-Forwarded-For uvicorn believes by default: a made-up address is not believed
        forged = [
            httpx.get(
                f"{server.url}/v1/users/u/profile",
                headers={"Authorization": f"Bearer forged-{i}", "X-Forwarded-For": f"10.0.0.{i}"},
            ).status_code
            for i in range(4)
        ]
        assert forged == [401, 401, 401, 429]
        assert httpx.get(f"{server.url}/v1/users/u/profile", headers=USER_KEY).status_code == 200


def ready_answers(server: Server, connections: int = 16) -> dict[int, set[int]]:
    """GET /ready on `connections` new connections at once: the status codes each worker answered,
    by pid (the kernel spreads new connections over the workers' sockets; the one that holds a
    connection's server end answered it)."""
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(connections)]
    try:
        for sock in socks:
            sock.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
        codes = {sock.getsockname(): int(whole_reply(sock, sock.recv(4096)).split(b" ", 2)[1]) for sock in socks}
        answered: dict[int, set[int]] = {}
        for pid in server.workers():
            for c in psutil.Process(pid).net_connections("tcp"):
                if c.laddr.port == server.port and c.raddr and tuple(c.raddr) in codes:
                    answered.setdefault(pid, set()).add(codes[tuple(c.raddr)])
        return answered
    finally:
        for sock in socks:
            sock.close()


def replacement(server: Server, survivor: int) -> int:
    """The worker the supervisor started in place of the one killed (-1 while there is none)."""
    return next((pid for pid in server.workers() if pid != survivor), -1)


def post_events_until_killed(base: str, prefix: str, stop: threading.Event, acked: list[str]) -> None:
    """Post batches of 10 click events until the server is gone or `stop` is set; acknowledged ids go to `acked`."""
    with httpx.Client(base_url=base, timeout=10) as c:
        i = 0
        while not stop.is_set():
            batch = [
                {"event_id": f"{prefix}-{i}-{j}", "user_id": f"{prefix}-user", "news_id": f"L{j % 3}", "type": "click"}
                for j in range(10)
            ]
            try:
                if c.post("/v1/events", json={"events": batch}, headers=USER_KEY).status_code == 200:
                    acked += [e["event_id"] for e in batch]
            except httpx.HTTPError:
                break  # the server is gone
            i += 1


def test_kill_9_of_the_supervisor_loses_nothing_acknowledged_and_leaves_no_orphans(model_dir, tmp_path):
    db = tmp_path / "crash.sqlite"
    server = Server(model_dir, f"sqlite:///{db}", tmp_path / "server.log", workers=2, env=NO_LIMITS).wait_ready()
    port, workers = server.port, server.workers()
    httpx.post(f"{server.url}/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY)
    stop, acked = threading.Event(), []
    with ThreadPoolExecutor(3) as pool:
        for k in range(3):
            pool.submit(post_events_until_killed, server.url, f"c{k}", stop, acked)
        wait_until(lambda: len(acked) > 100, 60, "100 acknowledged events")
        server.process.send_signal(signal.SIGKILL)  # the supervisor, mid-burst
        server.process.wait()
        wait_until(lambda: not any(alive(p) for p in workers), 30, "the workers to follow their supervisor")
        stop.set()  # the clients have met the closed port by now, or stop here
    metrics_folders = list(Path(tempfile.gettempdir()).glob(f"newsrec-metrics-{server.process.pid}-*"))
    assert len(metrics_folders) == 1  # left behind by the killed supervisor
    stored = {r[0] for r in sqlite3.connect(db).execute("SELECT event_id FROM events")}
    assert set(acked) <= stored
    # the port is free again: a new server starts on it, and a client retrying everything stores each event once
    with Server(model_dir, f"sqlite:///{db}", tmp_path / "server2.log", workers=2, port=port, env=NO_LIMITS) as again:
        for prefix in ("c0", "c1", "c2"):
            ids = [e for e in acked if e.startswith(prefix + "-")]
            events = [{"event_id": e, "user_id": f"{prefix}-user", "news_id": "L0", "type": "click"} for e in ids]
            for start in range(0, len(events), 500):
                r = httpx.post(
                    f"{again.url}/v1/events", json={"events": events[start : start + 500]}, headers=ADMIN_KEY
                )
                assert r.json()["stored"] == 0  # every acknowledged event was already there
    rows = sqlite3.connect(db).execute("SELECT COUNT(*), COUNT(DISTINCT user_id || event_id) FROM events").fetchone()
    assert rows[0] == rows[1]
    assert not metrics_folders[0].exists()  # removed when the next server started


def test_a_deployment_broken_after_it_was_recorded_stops_no_worker_and_no_restart(model_dir, tmp_path):
    variant = copy_of(model_dir, tmp_path / "next", nudge=1e-3)
    old, new = model_version(model_dir), model_version(variant)
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    machine = tmp_path / "machine"  # where this machine's workers keep their copies of deployed folders
    env = {**NO_LIMITS, "NEWSREC_SNAPSHOT_DIR": str(machine)}

    def versions_served(url: str) -> set[str]:  # new connections: answers from both workers
        return {
            httpx.get(f"{url}/v1/users/u{i}/recommendations", headers=USER_KEY).json()["model_version"]
            for i in range(12)
        }

    with Server(model_dir, db, tmp_path / "server.log", workers=2, env=env) as server:
        httpx.post(f"{server.url}/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        deploy = httpx.post(f"{server.url}/v1/admin/model", json={"model_dir": str(variant)}, headers=ADMIN_KEY)
        assert deploy.status_code == 202
        wait_until(lambda: versions_served(server.url) == {new}, 60, "the workers to serve the deployment", 0.5)
        (variant / "model.pt").write_bytes(os.urandom(1000))  # what took the service down
        shutil.rmtree(machine / "deployments")  # and no copy of it here: workers copy the broken folder
        again = httpx.post(f"{server.url}/v1/admin/model", json={"model_dir": str(variant)}, headers=ADMIN_KEY)
        assert again.status_code == 422
        victim, survivor = server.workers()
        os.kill(victim, signal.SIGKILL)
        log = Path(server.log.name)
        # two workers started, then the replacement: it loads the last good model and starts
        started = "Application startup complete"
        wait_until(lambda: log.read_text().count(started) >= 3, 90, "the replacement worker to start", 0.5)
        # it started and serves: the two workers now running (the survivor and a new one) both answer
        # /ready, each on connections of its own, while the supervisor saw one worker exit (the victim)
        wait_until(
            lambda: ready_answers(server) == {survivor: {200}, replacement(server, survivor): {200}},
            60,
            "the survivor and the replacement to answer /ready",
            0.5,
        )
        assert len(server.workers()) == 2 and victim not in server.workers()
        assert log.read_text().count("exited with") == 1
        assert "does not load here" in log.read_text()  # the replacement fell back
        assert versions_served(server.url) <= {new, old}  # the old worker keeps its model, the new one the last good
    with Server(model_dir, db, tmp_path / "restart.log", workers=2, env=env) as restarted:  # a full restart
        assert versions_served(restarted.url) == {old}
        problem = httpx.get(f"{restarted.url}/v1/admin/model", headers=ADMIN_KEY).json()["problem"]
        assert new in problem and "does not load here" in problem


def test_sigterm_drains_requests_in_flight(model_dir, tmp_path):
    db = tmp_path / "drain.sqlite"
    server = Server(model_dir, f"sqlite:///{db}", tmp_path / "server.log", workers=2, env=NO_LIMITS).wait_ready()
    items = news_items(600, title="A long headline about basketball, number {i}, to keep the encoder busy")
    body = json.dumps({"items": items}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    head = (
        f"POST /v1/news HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Authorization: {NEWS_KEY['Authorization']}\r\nExpect: 100-continue\r\n\r\n"
    )
    sock.sendall(head.encode())
    # "100 Continue" comes when the service starts reading this body: from here on the request is in flight
    assert sock.recv(4096).startswith(b"HTTP/1.1 100")
    server.process.send_signal(signal.SIGTERM)
    sock.sendall(body)  # the body arrives after the signal: only a draining server still takes it
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
    assert server.process.wait(timeout=60) == 0
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM news").fetchone()[0] == 600
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health")
    server.stop()
