"""Run the service: migrate once, then one uvicorn server, or a supervisor and N workers.

- The database schema is migrated in this process before any worker starts.
- Once the port is bound, this process logs where the page and the API docs are (the port it
  really got: port 0 asks for any free one).
- Workers are spawned processes, each with a listening socket of its own on the same port
  (SO_REUSEPORT): the kernel spreads new connections over them. (With one shared socket, the
  worker that happened to be in accept() first took every keep-alive connection of a client
  and did all the work, the other idle.) Each dies with its supervisor (PR_SET_PDEATHSIG), so a
  killed supervisor leaves no orphan holding the port; a worker that dies is replaced, on the
  same socket, so the connections waiting in its queue are answered by its successor.
- SIGTERM (or Ctrl-C) drains: workers stop accepting, finish the requests in flight, then exit.
- A connection that has not sent its request headers within `header_timeout_seconds` is
  closed (slow clients cannot hold connections open forever); a request line and headers over
  32 KiB are refused with 431.
- Metrics of all workers add up in one folder (prometheus_client's multiprocess mode), named
  by the supervisor's pid; folders of supervisors that were killed are removed at start.
- X-Forwarded-For is believed only from `trusted_proxies` (none by default).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from newsrec.serve.settings import ServiceSettings
from newsrec.service.deployment_copies import ModelCopies
from newsrec.store.db import migrate

__all__ = ["run_server", "address_line", "HeaderTimeoutProtocol"]

logger = logging.getLogger(__name__)
GRACEFUL_SECONDS = 30
METRICS_PREFIX = "newsrec-metrics-"  # + the supervisor's pid: a folder whose supervisor is gone is removed
PR_SET_PDEATHSIG = 1
LINGER_SECONDS = 2.0  # a refused connection's bytes are read and dropped this long before it closes


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (its C parser: 1.3x the requests/s of h11 here), with two
    limits on a request's line and headers:

    - time: a connection that takes longer than `header_timeout` to send them is closed (uvicorn
      only times out idle keep-alive connections; a client trickling header bytes, or none,
      would otherwise hold a connection for ever);
    - size: past `max_header_bytes` the request is refused with 431 and the connection closed
      (httptools would keep appending them in memory; h11 stopped at 16 KiB), counted over the
      whole request line and headers, whether they came in one read or many;

    and one on pipelining: a client that sends requests without reading the replies gets at
    most `max_pipelined` of them queued; past that its connection is closed (uvicorn would queue
    every request of each read, and read on after each reply it could only buffer).
    """

    header_timeout = 10.0
    max_header_bytes = 32 * 1024
    max_pipelined = 32
    _line_and_headers = 0  # bytes of the current request's line and headers, as httptools hands them over
    _header_timer: asyncio.TimerHandle | None
    _in_headers = False  # the parser is inside a request line or headers
    _headers_done = False  # a request's headers completed in the data being fed
    _header_bytes = 0  # fed while inside them (httptools holds a header until it is complete)
    _refused = False  # a 431 was sent: what else arrives is dropped until the connection closes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn
        super().connection_made(transport)
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        waiting = self.cycle is None or self.cycle.response_complete  # between requests: headers due
        if waiting and self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)
        self._headers_done = False
        super().data_received(data)
        if self.transport.is_closing():  # uvicorn refused the request (400) or an upgrade took it
            return
        if self._in_headers and not self._headers_done:  # all of `data` went into unfinished headers
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._refuse_headers()
                return
        if self.cycle is not None and not self.cycle.response_complete and self._header_timer is not None:
            self._header_timer.cancel()  # a request's headers arrived
            self._header_timer = None

    def on_message_begin(self) -> None:
        self._in_headers, self._line_and_headers = True, 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._line_and_headers += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._line_and_headers += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers, self._header_bytes, self._headers_done = False, 0, True
        if self._line_and_headers > self.max_header_bytes:
            self._refuse_headers()
            raise httptools.HttpParserCallbackError("headers too large")  # stops the parser's feed
        super().on_headers_complete()
        if len(self.pipeline) > self.max_pipelined:  # replies unread: nothing more is queued for this client
            self._refused = True
            self.transport.close()
            raise httptools.HttpParserCallbackError("too many pipelined requests")

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a refusal already answered (431) or closed the connection
            super().send_400_response(msg)

    def _refuse_headers(self) -> None:
        """431, then a lingering close: closed at once with the client's bytes unread, the socket
        would send a reset that can destroy the reply before the client reads it, so what else
        arrives is dropped unread for a moment while the reply goes out."""
        text = f"request line and headers over {self.max_header_bytes} bytes: send fewer or shorter headers"
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            + f"content-length: {len(text)}\r\nconnection: close\r\n\r\n{text}".encode()
        )
        self._refused = True
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def _listening_socket(host: str, port: int, share_port: bool = False) -> socket.socket:
    # IPPROTO_TCP named explicitly: asyncio turns Nagle's algorithm off only for such sockets
    # (with proto 0 every reply waited ~40 ms for a delayed ACK)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _serve(settings: ServiceSettings, sock: socket.socket) -> None:
    # OpenMP reads its thread count once, for every thread (FAISS searches in the request threads,
    # which a per-thread omp_set_num_threads in the app's start-up would not reach)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(settings.threads)
    from newsrec.serve.app import create_app  # in the worker: the supervisor never loads the model

    protocol = type("Protocol", (HeaderTimeoutProtocol,), {"header_timeout": settings.header_timeout_seconds})
    config = uvicorn.Config(
        create_app(settings),
        http=protocol,
        loop="auto",  # uvloop where it is installed (not on Windows), else asyncio
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        log_level="info",
        # X-Forwarded-For only from configured proxies (uvicorn trusts 127.0.0.1 by default)
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or [],
    )
    uvicorn.Server(config).run(sockets=[sock])


def _worker(settings: ServiceSettings, sock: socket.socket, supervisor: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # die (gracefully) with the supervisor
    if os.getppid() != supervisor:  # it died before prctl took effect
        return
    _serve(settings, sock)


def run_server(settings: ServiceSettings, host: str, port: int, workers: int) -> None:
    migrate(settings.database_url)  # once, before any worker: workers never race on the schema
    threads = settings.threads or max(1, (os.cpu_count() or 1) // workers)
    # the --model folder as it is now, copied once: held by this process while it runs, served by every worker
    start = ModelCopies.of_machine(settings.core().snapshot_dir).copy(str(settings.model_dir))
    settings = settings.model_copy(update={"migrate_on_start": False, "threads": threads, "model_digest": start.name})
    first = _listening_socket(host, port, share_port=workers > 1)
    port = first.getsockname()[1]  # port 0 asked for any free port: the others join the one it got
    logger.info("%s", address_line(host, port))  # once, here: workers only serve
    if workers == 1:
        _serve(settings, first)
        return
    sockets = [first] + [_listening_socket(host, port, share_port=True) for _ in range(workers - 1)]
    _remove_orphaned_metrics()
    metrics_dir = Path(tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # prometheus_client's switch, read by each worker
    # glibc gives each of a worker's request threads a malloc arena of its own; two arenas left
    # each 1M-news worker 20-110 MiB smaller after load (the workers inherit it at their start)
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    try:
        _supervise(settings.model_copy(update={"metrics_dir": metrics_dir}), sockets)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def address_line(host: str, port: int) -> str:
    """Where a person finds the page and the API docs: a link that works on this machine (an
    address that means "every interface" is no place to browse to), IPv6 addresses in brackets."""
    local = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    base = f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"
    links = f"{base}/ (page), API docs at {base}/docs"
    if local != host:
        return f"newsrec: listening on all addresses ({host or '0.0.0.0'}) port {port}; on this machine: {links}"
    return f"newsrec: serving on {links}"


def _remove_orphaned_metrics() -> None:
    """Metric folders of supervisors that died without cleaning up (kill -9): their workers died
    with them (PR_SET_PDEATHSIG), so nothing writes there any more."""
    for folder in Path(tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*-*"):
        pid = folder.name.removeprefix(METRICS_PREFIX).split("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _supervise(settings: ServiceSettings, sockets: list[socket.socket]) -> None:
    from prometheus_client import multiprocess

    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked threads or torch state

    def start(sock: socket.socket) -> BaseProcess:
        process = context.Process(target=_worker, args=(settings, sock, os.getpid()), daemon=False)
        process.start()
        return process

    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    processes = [start(sock) for sock in sockets]
    logger.info("supervisor %d: %d workers on %s", os.getpid(), len(sockets), sockets[0].getsockname())
    while not stopping:
        for i, process in enumerate(processes):
            if not process.is_alive() and not stopping:
                logger.warning("worker %d exited with %s: starting another", process.pid, process.exitcode)
                multiprocess.mark_process_dead(process.pid)
                processes[i] = start(sockets[i])
        time.sleep(0.2)
    for process in processes:  # drain: each finishes its requests in flight
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn's graceful shutdown
    deadline = time.time() + GRACEFUL_SECONDS + 5
    for process in processes:
        process.join(max(0.0, deadline - time.time()))
        if process.is_alive():
            process.kill()
            process.join()
    for sock in sockets:
        sock.close()
