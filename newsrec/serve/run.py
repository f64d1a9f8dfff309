"""Run the service under uvicorn, in one process or several sharing one listening socket."""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

__all__ = ["run_server"]

APP = "newsrec.serve.app:app_from_env"  # each worker builds the app from the NEWSREC_* variables


def run_server(host: str, port: int, workers: int) -> None:
    config = uvicorn.Config(APP, factory=True, host=host, port=port, workers=workers, access_log=False)
    if workers == 1:
        uvicorn.Server(config).run()
        return
    # uvicorn's own multi-worker socket has proto 0, so asyncio leaves Nagle's algorithm on for
    # every connection and each reply waits ~40 ms for a delayed ACK; naming TCP fixes that.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()
