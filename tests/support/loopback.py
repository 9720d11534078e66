"""Loopback helpers shared by the tests and the benchmarks: a free port, and a port that never answers."""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def blackhole():
    """A loopback listener that never accepts: once its backlog is full, further connects time out.

    Returns (listener, filler sockets, port); close them all when done.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    port = server.getsockname()[1]
    for _attempt in range(3):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        fillers.append(sock)
    time.sleep(0.1)  # poll: let the kernel queue the filler connects (no signal for a full backlog)
    return server, fillers, port
