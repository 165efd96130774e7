"""A forward HTTP proxy on loopback, as an office's egress proxy would be.

Plain-HTTP requests come with the whole URL in the request line and are forwarded; https comes
as ``CONNECT host:port`` and is tunnelled byte for byte (the proxy sees no plaintext). Every
request line and its ``Proxy-Authorization`` are recorded; with ``password`` set, requests
without the matching Basic credential get 407.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.serving import serving


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    target: str
    authorization: str | None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _admitted(self) -> bool:
        authorization = self.headers.get("Proxy-Authorization")
        self.server.seen.append(ProxiedRequest(self.command, self.path, authorization))
        expected = self.server.expected_authorization
        if expected is None or authorization == expected:
            return True
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="office"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_CONNECT(self) -> None:
        if not self._admitted():
            return
        host, _, port = self.path.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        _pipe(self.connection, upstream)

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        if not self._admitted():
            return
        url = urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            self.send_error(400, "a proxy needs the whole URL")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-authorization"}
        upstream = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
        try:
            target = url.path + (f"?{url.query}" if url.query else "")
            upstream.request(self.command, target or "/", body=body, headers=headers)
            answer = upstream.getresponse()
            content = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, expected_authorization: str | None) -> None:
        self.seen: list[ProxiedRequest] = []
        self.expected_authorization = expected_authorization
        super().__init__(("127.0.0.1", 0), _Handler)


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Relay both ways until either side closes."""

    def relay(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    back = threading.Thread(target=relay, args=(upstream, client), daemon=True)
    back.start()
    relay(client, upstream)
    back.join(timeout=10)
    upstream.close()


@contextlib.contextmanager
def forward_proxy(user: str | None = None, password: str | None = None) -> Iterator[_ProxyServer]:
    """A running proxy; its URL is ``proxy_url(server)``, what it saw is ``server.seen``."""
    expected = None
    if user is not None:
        login = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        expected = f"Basic {login}"
    with serving(_ProxyServer(expected)) as server:
        yield server


def proxy_url(server: _ProxyServer, login: str = "") -> str:
    at = f"{login}@" if login else ""
    return f"http://{at}127.0.0.1:{server.server_address[1]}"
