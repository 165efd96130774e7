"""Listeners that sleep between requests still stop when asked."""

from __future__ import annotations

import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.httpserve import serve_in_thread


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_that_polls_once_a_minute_serves_then_stops_when_told() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    port = server.server_address[1]
    stop = serve_in_thread(server, "sleepy-test", idle_poll=60.0)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        assert response.read() == b"hello"
    stop()
    assert "sleepy-test" not in {thread.name for thread in threading.enumerate()}
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass
