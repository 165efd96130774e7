from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.config import HttpProbeConfig
from agent.launches.recorder import LaunchRecorder
from agent.probes.http import HttpProbe
from tests.fakes.serving import serving

TLS_DIR = Path(__file__).parents[2] / "fixtures" / "tls"
SERVER_DELAY = 0.3


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    status = 200
    delay = 0.0
    body = b"fleetsight" * 100
    seen: list[tuple[str, str | None]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host")))
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def http_server(
    *, status: int = 200, delay: float = 0.0, tls: bool = False
) -> Iterator[tuple[str, _Server]]:
    """A real HTTP(S) server on loopback answering every GET after ``delay`` seconds."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.status, server.delay, server.seen = status, delay, []
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS_DIR / "cert.pem", TLS_DIR / "key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server):
        port = server.server_address[1]
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", server


@contextmanager
def raw_server(script: Callable[[socket.socket], object]) -> Iterator[int]:
    """A TCP server on loopback that runs ``script`` on its first connection; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            script(conn)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(30)
        listener.close()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def probe(url: str, **options: Any) -> tuple[HttpProbe, LaunchRecorder]:
    options.setdefault("timeout", 10.0)
    recorder = LaunchRecorder()
    resolve = options.pop("resolve", socket.getaddrinfo)
    config = HttpProbeConfig(name="intranet", url=url, **options)
    return HttpProbe(config, recorder, resolve=resolve), recorder


def test_it_times_each_phase_of_a_plain_http_request_and_records_it() -> None:
    with http_server(delay=SERVER_DELAY) as (url, _):
        http_probe, recorder = probe(f"{url}/")
        event = http_probe.run_once()

    assert event.outcome == "ok"
    assert set(event.phases) == {"dns", "connect", "first_byte", "total"}
    phases = event.phases
    assert 0 <= phases["dns"] <= phases["connect"] <= phases["first_byte"] <= phases["total"]
    waited = phases["first_byte"] - phases["connect"]
    assert SERVER_DELAY <= waited < SERVER_DELAY + 9
    assert event.duration_seconds == phases["total"]
    assert (event.app, event.probe, event.method, event.ready_signal, event.version) == (
        "intranet",
        "intranet",
        "probe",
        "http",
        None,
    )
    assert recorder.drain().events == [event]


def test_it_times_the_tls_handshake_when_verification_is_off() -> None:
    with http_server(delay=SERVER_DELAY, tls=True) as (url, _):
        event = probe(url, verify_tls=False)[0].run_once()

    assert event.outcome == "ok", event.detail
    phases = event.phases
    assert set(phases) == {"dns", "connect", "tls", "first_byte", "total"}
    assert 0 <= phases["dns"] <= phases["connect"] <= phases["tls"]
    assert phases["tls"] <= phases["first_byte"] <= phases["total"]
    assert phases["first_byte"] - phases["tls"] >= SERVER_DELAY


def test_it_fails_a_self_signed_certificate_when_verifying() -> None:
    with http_server(tls=True) as (url, server):
        event = probe(url, verify_tls=True)[0].run_once()

    assert event.outcome == "failed"
    assert event.detail is not None
    assert event.detail.startswith("certificate verify failed")
    assert "connect" in event.phases
    assert "tls" not in event.phases
    assert server.seen == []


def test_it_verifies_an_internal_service_against_its_own_ca_file() -> None:
    with http_server(tls=True) as (url, _):
        event = probe(url, verify_tls=True, ca_file=TLS_DIR / "cert.pem")[0].run_once()

    assert event.outcome == "ok", event.detail
    assert "tls" in event.phases


def test_it_fails_on_a_server_error_after_reading_the_answer() -> None:
    with http_server(status=503) as (url, _):
        event = probe(url)[0].run_once()

    assert (event.outcome, event.detail) == ("failed", "HTTP 503")
    assert event.duration_seconds == event.phases["total"]


def test_it_counts_the_expected_status_as_success_even_an_error() -> None:
    with http_server(status=503) as (url, _):
        event = probe(url, expect_status=503)[0].run_once()

    assert (event.outcome, event.detail) == ("ok", None)


def test_it_fails_a_success_status_that_is_not_the_expected_one() -> None:
    with http_server(status=200) as (url, _):
        event = probe(url, expect_status=204)[0].run_once()

    assert (event.outcome, event.detail) == ("failed", "HTTP 200")


def test_it_sends_the_path_query_and_host_of_the_url_through_the_injected_resolver() -> None:
    def resolve_to_loopback(host: str, port: int, family: int = 0, type: int = 0) -> Any:
        assert host == "intranet.example"
        return socket.getaddrinfo("127.0.0.1", port, family, type)

    with http_server() as (url, server):
        port = url.rsplit(":", 1)[1]
        http_probe, _ = probe(
            f"http://intranet.example:{port}/status?full=1#top",
            resolve=resolve_to_loopback,
            app="intranet-portal",
        )
        event = http_probe.run_once()

    assert event.outcome == "ok"
    assert event.app == "intranet-portal"
    assert event.probe == "intranet"
    assert server.seen == [("/status?full=1", f"intranet.example:{port}")]


def test_it_times_out_when_the_server_never_answers() -> None:
    # A listening socket nobody accepts from: the kernel completes the TCP handshake, then
    # the request sits unanswered.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        event = probe(f"http://127.0.0.1:{port}/", timeout=0.5)[0].run_once()

    assert event.outcome == "timeout"
    assert event.detail == "timed out after 0.5 s (first byte)"
    assert set(event.phases) == {"dns", "connect"}
    assert event.duration_seconds is not None
    assert event.duration_seconds >= 0.49


def test_it_times_out_when_the_body_stalls() -> None:
    release = threading.Event()

    def headers_then_silence(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
        release.wait(30)

    with raw_server(headers_then_silence) as port:
        try:
            event = probe(f"http://127.0.0.1:{port}/", timeout=0.5)[0].run_once()
        finally:
            release.set()

    assert event.outcome == "timeout"
    assert event.detail == "timed out after 0.5 s (the body)"
    assert "first_byte" in event.phases
    assert "total" not in event.phases


def test_it_times_out_when_name_resolution_hangs() -> None:
    release = threading.Event()

    def hanging_resolver(host: str, port: int, family: int = 0, type: int = 0) -> Any:
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    try:
        event = probe("http://slow-dns.example/", timeout=0.3, resolve=hanging_resolver)[
            0
        ].run_once()
    finally:
        release.set()

    assert event.outcome == "timeout"
    assert event.detail == "timed out after 0.3 s (DNS lookup)"
    assert event.phases == {}


def test_it_reports_a_refused_connection() -> None:
    event = probe(f"http://127.0.0.1:{closed_port()}/")[0].run_once()

    assert (event.outcome, event.detail) == ("failed", "connection refused")
    assert set(event.phases) == {"dns"}
    assert event.duration_seconds is not None


def test_it_reports_a_name_that_does_not_resolve() -> None:
    def no_such_name(host: str, port: int, family: int = 0, type: int = 0) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    event = probe("https://nowhere.invalid/", resolve=no_such_name)[0].run_once()

    assert event.outcome == "failed"
    assert event.detail == "DNS lookup failed: Name or service not known"
    assert event.phases == {}


def test_it_reports_a_server_that_closes_without_answering() -> None:
    with raw_server(lambda conn: conn.recv(65536)) as port:
        event = probe(f"http://127.0.0.1:{port}/")[0].run_once()

    assert event.outcome == "failed"
    assert event.detail == "server closed the connection without a response"


def answer(status_line: bytes) -> Callable[[socket.socket], object]:
    def script(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(status_line)

    return script


def test_a_status_line_with_terminal_escapes_is_reported_escaped() -> None:
    # http.client reads the line as Latin-1: \x85 is a C1 control, \x1b starts a colour code.
    with raw_server(answer(b"HTTP/1.1 2\x1b[31m00 \x85OK\x7f\r\n\r\n")) as port:
        event = probe(f"http://127.0.0.1:{port}/")[0].run_once()

    assert event.outcome == "failed"
    assert event.detail is not None
    assert "\\x1b[31m00 \\x85OK\\x7f" in event.detail
    assert not {"\x1b", "\x85", "\x7f"} & set(event.detail)


@pytest.mark.parametrize("url", ["ftp://files.example/", "http:///no-host"])
def test_it_fails_a_url_it_cannot_probe_without_raising(url: str) -> None:
    event = probe(url)[0].run_once()

    assert event.outcome == "failed"
    assert event.detail is not None
    assert "http:// or https://" in event.detail
