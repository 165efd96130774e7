"""Slow and oversized clients against a real uvicorn on loopback, served as ``serve`` does:
headers that never finish are cut off (advisor.api.header_deadline), and bodies of the routes
other than ingest are bounded in size and time (advisor.api.body_limits)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from prometheus_client import CollectorRegistry

from advisor.api.app import create_app
from advisor.api.body_limits import DEFAULT_MAX_BYTES
from advisor.api.header_deadline import HeaderDeadlineProtocol
from advisor.api.settings import ApiSettings
from agent.shared.wire import ENROL_PATH

from .memory_store import MemoryStore

T0 = 1_764_000_000.0
HEADER_TIMEOUT = 0.3


class Server:
    """The advisor's app under uvicorn with the header-deadline protocol, in a thread."""

    def __init__(self, settings: ApiSettings | None = None) -> None:
        self.store = MemoryStore()
        app = create_app(
            self.store, settings or ApiSettings(), clock=lambda: T0, registry=CollectorRegistry()
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            lifespan="off",
            log_level="warning",
            access_log=False,
            http=HeaderDeadlineProtocol,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setattr(HeaderDeadlineProtocol, "header_timeout", HEADER_TIMEOUT)
    with Server() as running:
        yield running


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_connection_whose_headers_never_finish_is_closed(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /api/v1/ingest HTTP/1.1\r\nHost: advisor\r\n")
        started = time.monotonic()

        assert read_all(sock) == b""  # closed without an answer
        assert time.monotonic() - started < 5


def test_an_idle_new_connection_is_closed(server: Server) -> None:
    with server.connect() as sock:
        assert read_all(sock) == b""


def test_a_client_that_keeps_its_connection_between_requests_is_served(server: Server) -> None:
    with server.connect() as sock:
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: advisor\r\n\r\n")
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            time.sleep(HEADER_TIMEOUT * 2)  # idle between requests: keep-alive's business


def enrol_request(body: bytes, length: int | None = None) -> bytes:
    return (
        f"POST {ENROL_PATH} HTTP/1.1\r\nHost: advisor\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    ).encode() + body


def test_an_enrolment_body_over_the_limit_is_refused_unread(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(enrol_request(b"{", length=1024**3))
        answer = read_all(sock)

    assert answer.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in answer.lower()


def test_a_chunked_enrolment_body_growing_past_the_limit_is_cut_off(server: Server) -> None:
    head = (
        f"POST {ENROL_PATH} HTTP/1.1\r\nHost: advisor\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    # Just past the limit, then nothing: the advisor reads all that was sent, so closing
    # the connection does not reset it before its answer is read.
    chunks = [b"x" * 16384] * (DEFAULT_MAX_BYTES // 16384) + [b"x"]
    with server.connect() as sock:
        sock.sendall(head + b"".join(b"%x\r\n" % len(c) + c + b"\r\n" for c in chunks))
        answer = read_all(sock)

    assert answer.startswith(b"HTTP/1.1 413")


def test_a_stalled_enrolment_body_gets_408() -> None:
    with Server(ApiSettings(body_timeout_seconds=0.3)) as server, server.connect() as sock:
        sock.sendall(enrol_request(b'{"token": "', length=200))
        answer = read_all(sock)

    assert answer.startswith(b"HTTP/1.1 408")
    assert "did not arrive" in json.loads(answer.split(b"\r\n\r\n", 1)[1])["detail"]


def test_a_well_formed_enrolment_still_works(server: Server) -> None:
    token, _ = server.store.create_token(department="finance", expires_at=T0 + 3600, now=T0)
    body = json.dumps(
        {"token": token, "host_id": "h1", "hostname": "h1", "agent_version": "0.1.0"}
    ).encode()
    with server.connect() as sock:
        sock.sendall(enrol_request(body))
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 201")
