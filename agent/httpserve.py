"""Serve a stdlib socketserver in a thread that wakes only for requests.

``serve_forever`` checks for shutdown every ``poll_interval``; at the usual 0.5 s that is two
wake-ups a second per listener, for ever, which on an idle desktop costs more CPU than the
requests. Here the loop polls rarely, and :func:`serve_in_thread`'s stop function wakes it
at once by connecting to it, so stopping stays quick.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Callable

IDLE_POLL_SECONDS = 10.0


def serve_in_thread(
    server: socketserver.BaseServer, name: str, idle_poll: float = IDLE_POLL_SECONDS
) -> Callable[[], None]:
    """Start ``server`` on a daemon thread; returns a function that stops it within a second."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": idle_poll}, name=name, daemon=True
    )
    thread.start()

    def stop(timeout: float = 5.0) -> None:
        shutting = threading.Thread(target=server.shutdown, name=f"{name}-stop", daemon=True)
        shutting.start()
        deadline = time.monotonic() + timeout
        while shutting.is_alive() and time.monotonic() < deadline:
            _wake(server)
            shutting.join(0.05)
        server.server_close()
        thread.join(max(0.0, deadline - time.monotonic()))

    return stop


def _wake(server: socketserver.BaseServer) -> None:
    """An empty connection makes the serving loop's select() return and see the stop flag."""
    address = getattr(server, "server_address", None)
    if not isinstance(address, tuple):
        return
    family = getattr(server, "address_family", socket.AF_INET)
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as poke:
        poke.settimeout(0.5)
        poke.connect(address[:2] if family == socket.AF_INET else address)
