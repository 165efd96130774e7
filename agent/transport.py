"""The agent's HTTP client for the advisor: the standard library's ``http.client``, pooled.

Why not httpx: with httpcore, h11, anyio and idna it is 3.2 MB of the agent's 35 MB budget
(docs/benchmarks.md), for one POST a minute. ``http.client`` is already in the agent's memory
(prometheus-client's server and the HTTP probe load it); what it lacks, and this module adds,
is what the shipper relied on httpx for:

- a pool of kept-alive connections, at most ``max_connections`` open at once (in use or idle),
  that drops idle ones the server has closed before reusing them and retries once on a fresh
  connection when a reused one turns out dead (the request never reached the server);
- the proxy variables httpx honours: ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` (either case)
  and ``NO_PROXY``; https through an ``http://`` proxy is tunnelled with CONNECT;
- timeouts on connect and on every read, TLS from :mod:`agent.tls`, no redirects followed,
  and at most ``max_body`` bytes of an answer kept (a proxy's error page must not balloon the
  agent's memory).

Every failure to get an answer is a :class:`TransportError` whose message is one short
sentence for an operator (:func:`describe_failure`).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from agent.errors import ConfigError, TransportError, TransportTimeoutError

# Idle connections older than this are closed rather than reused: servers drop idle
# keep-alive connections after a few seconds (uvicorn: 5 s), and an idle TLS connection is
# memory the agent does not need between rounds.
KEEPALIVE_EXPIRY = 5.0
_READ_CHUNK = 16384


@dataclass(frozen=True)
class Response:
    """An HTTP answer, its body read up to the client's ``max_body``."""

    status: int
    headers: http.client.HTTPMessage
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass(frozen=True)
class Proxy:
    """An ``http://`` proxy from the environment: where it is and how to log in to it."""

    host: str
    port: int
    authorization: str | None = None

    def headers(self) -> dict[str, str]:
        if self.authorization is None:
            return {}
        return {"Proxy-Authorization": self.authorization}


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass
class _Pooled:
    connection: http.client.HTTPConnection
    origin: _Origin
    idle_since: float = 0.0


def parse_proxy(variable: str, value: str) -> Proxy:
    """An ``http://[user:password@]host[:port]`` proxy; anything else is a ConfigError."""
    if "://" not in value:
        value = "http://" + value  # "proxy.corp:3128", as curl and httpx read it
    parts = urlsplit(value)
    if parts.scheme != "http":
        raise ConfigError(
            f"{variable}={value}: only http:// proxies are supported (https through them is"
            " tunnelled); this proxy's scheme is " + repr(parts.scheme)
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigError(f"{variable}={value}: the proxy's port is not a number") from None
    if not parts.hostname:
        raise ConfigError(f"{variable}={value}: the proxy has no host name")
    authorization = None
    if parts.username is not None:
        login = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(login.encode()).decode("ascii")
    return Proxy(host=parts.hostname, port=port, authorization=authorization)


@dataclass(frozen=True)
class ProxySettings:
    """Which proxy serves which scheme (``http``, ``https``, ``all``) and NO_PROXY."""

    proxies: Mapping[str, Proxy]
    no_proxy: str = ""

    @classmethod
    def from_environment(cls, found: Mapping[str, str] | None = None) -> ProxySettings:
        """Read the proxy variables (either case; lowercase wins, as in urllib and curl).

        Raises :class:`ConfigError` naming the variable when a proxy cannot be used, so a bad
        one stops the agent at start rather than failing every send.
        """
        found = urllib.request.getproxies_environment() if found is None else found
        proxies = {
            scheme: parse_proxy(_variable_name(scheme), url)
            for scheme, url in found.items()
            if scheme in ("http", "https", "all") and url
        }
        return cls(proxies=proxies, no_proxy=found.get("no", ""))

    def for_origin(self, scheme: str, netloc: str) -> Proxy | None:
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        if proxy is None:
            return None
        # NO_PROXY as urllib reads it: host suffixes, optional ports, "*" for everything.
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if self.no_proxy and bypass(netloc, {"no": self.no_proxy}):
            return None
        return proxy

    def describe(self) -> str:
        """For ``check-config``: the proxies without their passwords."""
        if not self.proxies:
            return "none"
        used = ", ".join(
            f"{scheme} via {proxy.host}:{proxy.port}" for scheme, proxy in self.proxies.items()
        )
        return f"{used}; not for {self.no_proxy}" if self.no_proxy else used


class HttpClient:
    """HTTP/1.1 to a few origins over at most ``max_connections`` kept-alive connections.

    Safe to share between threads: a request waits (up to ``timeout``) for a free connection.
    ``tls`` is the context for ``https://`` URLs (None: refuse them); ``headers`` go with
    every request. Proxies come from the environment unless ``proxies`` is given.
    """

    def __init__(
        self,
        *,
        timeout: float,
        tls: ssl.SSLContext | None,
        max_connections: int = 2,
        headers: Mapping[str, str] | None = None,
        max_body: int = 1 << 20,
        proxies: ProxySettings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._timeout = timeout
        self._tls = tls
        self._max = max_connections
        self._headers = dict(headers or {})
        self._max_body = max_body
        self._monotonic = monotonic
        self._proxies = ProxySettings.from_environment() if proxies is None else proxies
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._idle: list[_Pooled] = []
        self._active = 0  # requests holding a slot, each with its connection

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> Response:
        return self.request("GET", url, headers=headers)

    def post(
        self,
        url: str,
        *,
        content: bytes | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        sent = dict(headers or {})
        if json is not None:
            content = _json_bytes(json)
            sent.setdefault("Content-Type", "application/json")
        return self.request("POST", url, body=content or b"", headers=sent)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and read its answer; raises :class:`TransportError` without one."""
        origin, target = _split(url)
        if origin.scheme == "https" and self._tls is None:
            raise TransportError(f"{url}: this client has no TLS context for https")
        sent = {**self._headers, **(headers or {})}
        if not self._slots.acquire(timeout=self._timeout):
            waited = f"timed out after {self._timeout:g} s waiting for a free connection"
            raise TransportTimeoutError(waited)
        with self._lock:
            self._active += 1
        try:
            return self._send(origin, target, method, body, sent)
        finally:
            with self._lock:
                self._active -= 1
            self._slots.release()

    def close(self) -> None:
        """Close the idle connections; the client can still be used (it reconnects)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for pooled in idle:
            pooled.connection.close()

    def _send(
        self, origin: _Origin, target: str, method: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        pooled, reused = self._checkout(origin)
        try:
            try:
                response = self._exchange(pooled, target, method, body, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                # The server closed the kept-alive connection as this request went out: it
                # never saw it, so sending it again on a fresh connection is safe.
                pooled.connection.close()
                pooled = _Pooled(self._connect(origin), origin)
                response = self._exchange(pooled, target, method, body, headers)
        except TimeoutError as exc:
            pooled.connection.close()
            raise TransportTimeoutError(f"timed out after {self._timeout:g} s") from exc
        except (OSError, http.client.HTTPException) as exc:
            pooled.connection.close()
            raise TransportError(describe_failure(exc)) from exc
        except BaseException:
            pooled.connection.close()
            raise
        return response

    def _exchange(
        self,
        pooled: _Pooled,
        target: str,
        method: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        connection = pooled.connection
        proxy = self._proxy_for(pooled.origin)
        if proxy is not None and pooled.origin.scheme == "http":
            # A plain-HTTP request through a proxy names the whole URL (RFC 9112 3.2.2).
            target = f"http://{pooled.origin.netloc}{target}"
            headers = {**headers, **proxy.headers()}
        connection.request(method, target, body=body, headers=headers)
        answer = connection.getresponse()
        content = answer.read(self._max_body)
        # A longer answer is cut: the rest is not read, so the connection cannot be reused.
        finished = answer.isclosed() or not answer.read(1)
        response = Response(status=answer.status, headers=answer.headers, content=content)
        if finished and not answer.will_close:
            self._checkin(pooled)
        else:
            connection.close()
        return response

    def _checkout(self, origin: _Origin) -> tuple[_Pooled, bool]:
        """A live idle connection to ``origin`` (reused=True) or a new one."""
        now = self._monotonic()
        stale: list[_Pooled] = []
        found: _Pooled | None = None
        with self._lock:
            keep: list[_Pooled] = []
            for pooled in self._idle:
                if now - pooled.idle_since > KEEPALIVE_EXPIRY or _dropped(pooled.connection):
                    stale.append(pooled)
                elif found is None and pooled.origin == origin:
                    found = pooled
                else:
                    keep.append(pooled)
            # At most max_connections open: those in use (this request's among them) plus
            # the idle ones; a new connection makes room by closing the oldest idle ones.
            room = self._max - self._active
            if found is None and len(keep) > room:
                stale.extend(keep[: len(keep) - room])
                keep = keep[len(keep) - room :]
            self._idle = keep
        for pooled in stale:
            pooled.connection.close()
        if found is not None:
            return found, True
        try:
            return _Pooled(self._connect(origin), origin), False
        except TimeoutError as exc:
            raise TransportTimeoutError(f"timed out after {self._timeout:g} s connecting") from exc
        except OSError as exc:
            raise TransportError(describe_failure(exc)) from exc

    def _checkin(self, pooled: _Pooled) -> None:
        pooled.idle_since = self._monotonic()
        with self._lock:
            self._idle.append(pooled)

    def _connect(self, origin: _Origin) -> http.client.HTTPConnection:
        proxy = self._proxy_for(origin)
        connection: http.client.HTTPConnection
        if origin.scheme == "https":
            host, port = (proxy.host, proxy.port) if proxy else (origin.host, origin.port)
            connection = http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=self._tls
            )
            if proxy is not None:
                connection.set_tunnel(origin.host, origin.port, headers=proxy.headers())
        elif proxy is not None:
            connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=self._timeout)
        else:
            connection = http.client.HTTPConnection(origin.host, origin.port, timeout=self._timeout)
        connection.connect()
        return connection

    def _proxy_for(self, origin: _Origin) -> Proxy | None:
        return self._proxies.for_origin(origin.scheme, origin.netloc)


def describe_failure(exc: BaseException) -> str:
    """One short sentence for an operator, e.g. ``"connection refused"``."""
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed: {exc.strerror or exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.RemoteDisconnected):  # before its base class below
        return "server closed the connection without a response"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, http.client.HTTPException):
        return f"invalid HTTP response: {type(exc).__name__} {exc}".strip()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _split(url: str) -> tuple[_Origin, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"{url}: not an http:// or https:// URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TransportError(f"{url}: the port is not a number") from None
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return _Origin(parts.scheme, parts.hostname, port), target


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection was closed by the server (or sent something unasked):
    either way its socket is readable, and it must not carry the next request."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _variable_name(scheme: str) -> str:
    """The variable that set ``scheme``'s proxy, for error messages: lowercase wins."""
    lower = f"{scheme}_proxy"
    return lower if os.environ.get(lower) else lower.upper()


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
