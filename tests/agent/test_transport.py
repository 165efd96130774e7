"""The agent's HTTP client against real servers on loopback: a scripted origin that counts its
connections, the HTTPS test server, and a forward proxy (tests/fakes/proxy.py)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ConfigError, TransportError, TransportTimeoutError
from agent.tls import client_context
from agent.transport import HttpClient, ProxySettings, parse_proxy
from tests.fakes.proxy import forward_proxy, proxy_url
from tests.fakes.serving import serving
from tests.fakes.tls import https_server

TLS_CERT = Path(__file__).parents[1] / "fixtures" / "tls" / "cert.pem"
BIG = 100_000


class _Handler(BaseHTTPRequestHandler):
    """Scripted by path; ``served`` counts the requests on this connection."""

    protocol_version = "HTTP/1.1"
    server: _OriginServer
    served = 0

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.served += 1
        self.server.record(self.path, body, self.client_address[1])
        if self.path == "/drop" or (self.path == "/drop-second" and self.served > 1):
            self.close_connection = True  # hang up without answering
            return
        if self.path == "/slow":
            time.sleep(0.3)
        if self.path == "/stall":
            time.sleep(5)
        content = b"x" * BIG if self.path == "/big" else b"ok:" + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("X-Served-On-Connection", str(self.served))
        if self.path == "/close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(content)
        if self.path == "/hang-up-after":
            self.close_connection = True  # keep-alive promised, then closed while idle


class _OriginServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, bytes, int]] = []
        self.open_now = 0
        self.most_open = 0
        self.connections = 0
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, path: str, body: bytes, port: int) -> None:
        with self.lock:
            self.requests.append((path, body, port))

    def ports(self) -> set[int]:
        with self.lock:
            return {port for _, _, port in self.requests}

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.open_now += 1
            self.connections += 1
            self.most_open = max(self.most_open, self.open_now)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.open_now -= 1
        super().shutdown_request(request)


@contextlib.contextmanager
def running_origin() -> Iterator[_OriginServer]:
    with serving(_OriginServer()) as server:
        yield server


@pytest.fixture
def origin() -> Iterator[_OriginServer]:
    with running_origin() as server:
        yield server


@pytest.fixture(autouse=True)
def no_proxies_from_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def client(**overrides: Any) -> HttpClient:
    settings: dict[str, Any] = {"timeout": 5.0, "tls": None, "max_connections": 2}
    return HttpClient(**(settings | overrides))


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_requests_reuse_one_kept_alive_connection(origin: _OriginServer) -> None:
    with client() as http:
        answers = [http.post(origin.url + "/ok", content=f"{n}".encode()) for n in range(5)]
    assert [a.content for a in answers] == [f"ok:{n}".encode() for n in range(5)]
    assert [a.headers["X-Served-On-Connection"] for a in answers] == ["1", "2", "3", "4", "5"]
    assert origin.connections == 1


def test_json_is_sent_compact_with_its_content_type(origin: _OriginServer) -> None:
    with client() as http:
        answer = http.post(origin.url + "/ok", json={"token": "t", "n": 1})
    assert answer.status == 200
    assert answer.content == b'ok:{"token":"t","n":1}'


def test_the_client_headers_go_with_every_request_and_a_request_can_add_its_own(
    origin: _OriginServer,
) -> None:
    seen: list[str] = []

    class Echo(_Handler):
        def _answer(self) -> None:
            seen.append(f"{self.headers['User-Agent']}|{self.headers.get('X-Extra')}")
            super()._answer()

    origin.RequestHandlerClass = Echo
    with client(headers={"User-Agent": "fleetsight-agent/test"}) as http:
        http.get(origin.url + "/ok")
        http.get(origin.url + "/ok", headers={"X-Extra": "1"})
    assert seen == ["fleetsight-agent/test|None", "fleetsight-agent/test|1"]


def test_a_connection_the_server_hung_up_while_idle_is_not_reused(origin: _OriginServer) -> None:
    with client() as http:
        http.get(origin.url + "/hang-up-after")
        assert wait_until(lambda: origin.open_now == 0)
        answer = http.get(origin.url + "/ok")
    assert answer.status == 200
    assert origin.connections == 2


def test_a_reused_connection_that_dies_under_a_request_is_retried_once_on_a_new_one(
    origin: _OriginServer,
) -> None:
    with client() as http:
        http.get(origin.url + "/drop-second")
        answer = http.post(origin.url + "/drop-second", content=b"batch")
    assert answer.content == b"ok:batch"
    assert [(path, body) for path, body, _ in origin.requests] == [
        ("/drop-second", b""),
        ("/drop-second", b"batch"),
        ("/drop-second", b"batch"),
    ]
    assert origin.connections == 2


def test_a_new_connection_that_dies_is_not_retried(origin: _OriginServer) -> None:
    with client() as http, pytest.raises(TransportError, match="closed the connection"):
        http.post(origin.url + "/drop", content=b"batch")
    assert len(origin.requests) == 1


def test_an_answer_marked_close_is_not_kept(origin: _OriginServer) -> None:
    with client() as http:
        http.get(origin.url + "/close")
        http.get(origin.url + "/ok")
    assert origin.connections == 2


def test_only_the_start_of_a_long_answer_is_kept_and_its_connection_is_dropped(
    origin: _OriginServer,
) -> None:
    with client(max_body=8192) as http:
        long = http.get(origin.url + "/big")
        after = http.get(origin.url + "/ok")
    assert long.content == b"x" * 8192
    assert after.status == 200
    assert origin.connections == 2


def test_concurrent_requests_share_at_most_max_connections(origin: _OriginServer) -> None:
    answers: list[int] = []
    with client(max_connections=2, timeout=30.0) as http:

        def fetch() -> None:
            answers.append(http.get(origin.url + "/slow").status)

        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert answers == [200] * 8
    assert origin.most_open <= 2
    assert 1 <= len(origin.ports()) <= 2


def test_a_new_origin_closes_an_idle_connection_to_stay_within_the_limit() -> None:
    with running_origin() as first, running_origin() as second, client(max_connections=1) as http:
        http.get(first.url + "/ok")
        http.get(second.url + "/ok")
        assert wait_until(lambda: first.open_now == 0)
        assert second.open_now == 1
        assert first.most_open == second.most_open == 1


def test_idle_connections_are_closed_by_close_and_the_client_reconnects(
    origin: _OriginServer,
) -> None:
    http = client()
    http.get(origin.url + "/ok")
    http.close()
    assert wait_until(lambda: origin.open_now == 0)
    assert http.get(origin.url + "/ok").status == 200
    http.close()


def test_a_server_that_does_not_answer_in_time_is_a_timeout(origin: _OriginServer) -> None:
    with client(timeout=0.5) as http, pytest.raises(TransportTimeoutError, match=r"after 0\.5 s$"):
        http.get(origin.url + "/stall")


def test_a_refused_connection_says_so() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with client() as http, pytest.raises(TransportError, match=r"^connection refused$"):
            http.get(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize("url", ["ftp://advisor/", "advisor.internal/x", "http://host:port/"])
def test_a_url_that_is_not_http_is_refused_by_name(url: str) -> None:
    with client() as http, pytest.raises(TransportError, match="^" + url):
        http.get(url)


def test_https_needs_a_tls_context_and_is_verified_with_it() -> None:
    with https_server() as url:
        with client() as plain, pytest.raises(TransportError, match="no TLS context"):
            plain.get(url)
        with client(tls=client_context(TLS_CERT)) as trusting:
            assert trusting.get(url).status == 204
        with (
            client(tls=client_context(None)) as system,
            pytest.raises(TransportError, match=r"^certificate verify failed: "),
        ):
            system.get(url)


def test_plain_http_goes_through_the_proxy_with_its_login(
    origin: _OriginServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with forward_proxy(user="agent", password="p@ss w") as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy_url(proxy, "agent:p%40ss%20w"))
        with client() as http:
            answer = http.post(origin.url + "/ok", content=b"via proxy")
    assert answer.content == b"ok:via proxy"
    [seen] = proxy.seen
    assert (seen.method, seen.target) == ("POST", origin.url + "/ok")
    assert seen.authorization == "Basic YWdlbnQ6cEBzcyB3"  # agent:p@ss w


def test_https_is_tunnelled_through_the_proxy_and_still_verified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with https_server() as url, forward_proxy() as proxy:
        monkeypatch.setenv("https_proxy", proxy_url(proxy))
        with client(tls=client_context(TLS_CERT)) as http:
            assert http.get(url).status == 204
            assert http.get(url).status == 204
        with (
            client(tls=client_context(None)) as untrusting,
            pytest.raises(TransportError, match="certificate verify failed"),
        ):
            untrusting.get(url)
    host_port = url.removeprefix("https://")
    # Three tunnels: the HTTPS test server speaks HTTP/1.0 and closes after each answer.
    assert [(s.method, s.target) for s in proxy.seen] == [("CONNECT", host_port)] * 3


def test_a_proxy_refusing_the_login_is_an_error_that_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with https_server() as url, forward_proxy(user="agent", password="right") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy_url(proxy, "agent:wrong"))
        with (
            client(tls=client_context(TLS_CERT)) as http,
            pytest.raises(TransportError, match="407 Proxy Authentication Required"),
        ):
            http.get(url)


def test_no_proxy_hosts_are_reached_directly(
    origin: _OriginServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with forward_proxy() as proxy:
        monkeypatch.setenv("ALL_PROXY", proxy_url(proxy))
        monkeypatch.setenv("NO_PROXY", "example.org,127.0.0.1")
        with client() as http:
            assert http.get(origin.url + "/ok").status == 200
    assert proxy.seen == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("socks5://proxy:1080", "only http:// proxies are supported"),
        ("https://proxy:3128", "only http:// proxies are supported"),
        ("http://proxy:port", "port is not a number"),
        ("http://:3128", "no host name"),
    ],
)
def test_an_unusable_proxy_is_a_config_error_naming_the_variable(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^HTTPS_PROXY={value}: .*{message}"):
        parse_proxy("HTTPS_PROXY", value)
    with pytest.raises(ConfigError, match=message):
        ProxySettings.from_environment({"https": value})


def test_a_proxy_without_a_scheme_is_read_as_http() -> None:
    proxy = parse_proxy("HTTP_PROXY", "proxy.corp:3128")
    assert (proxy.host, proxy.port, proxy.authorization) == ("proxy.corp", 3128, None)


def test_the_settings_say_which_proxy_serves_what_without_passwords() -> None:
    settings = ProxySettings.from_environment(
        {"https": "http://agent:secret@proxy.corp:3128", "no": "localhost,.internal"}
    )
    assert settings.describe() == "https via proxy.corp:3128; not for localhost,.internal"
    assert settings.for_origin("https", "advisor.example:443") is not None
    assert settings.for_origin("https", "advisor.internal:443") is None
    assert settings.for_origin("http", "advisor.example:80") is None
    assert ProxySettings.from_environment({}).describe() == "none"
