"""HTTP(S) probe: one request timed phase by phase, like curl's ``--write-out`` timings.

Each step is done by hand (name resolution, TCP connect, TLS handshake, then ``http.client``
over the connected socket) because a whole-request client (agent.transport's, or httpx) hides
where the time went.
Phases are seconds from the probe's start, so they only grow::

    {"dns": 0.002, "connect": 0.004, "tls": 0.019, "first_byte": 0.327, "total": 0.331}

``tls`` is present for https only; a failed probe keeps the phases it completed.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from agent.config import HttpProbeConfig
from agent.launches.recorder import LaunchRecorder
from agent.shared.wire import LaunchEvent, LaunchOutcome
from agent.text import clean_text
from agent.tls import client_context
from agent.transport import describe_failure

MAX_BODY_BYTES = 4 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024
_MAX_DETAIL_CHARS = 200
_USER_AGENT = "fleetsight-agent-probe"
# What a probe that timed out was waiting for: the first phase it did not complete.
_PHASE_NAMES = {
    "dns": "DNS lookup",
    "connect": "TCP connect",
    "tls": "TLS handshake",
    "first_byte": "first byte",
    "total": "the body",
}

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]


class Resolver(Protocol):
    """The shape of :func:`socket.getaddrinfo`, injectable so tests control name resolution."""

    def __call__(
        self, host: str, port: int, family: int = ..., type: int = ...
    ) -> Sequence[AddrInfo]: ...


class _DeadlineError(TimeoutError):
    """The probe's own deadline passed between two socket operations."""


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    host_header: str


def parse_target(url: str) -> _Target:
    """Split a probe URL into what each step needs; raises ValueError on a URL it cannot use."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    default_port = 443 if parts.scheme == "https" else 80
    port = parts.port or default_port
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default_port else f"{shown}:{port}"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(parts.scheme, host, port, path, host_header)


def status_ok(status: int, expected: int | None) -> bool:
    """Whether an HTTP status counts as success: the expected one, else any 2xx or 3xx."""
    if expected is not None:
        return status == expected
    return 200 <= status < 400


class HttpProbe:
    """Times one HTTP(S) request per :meth:`run_once` and records it as a launch event.

    The probe's ``timeout`` bounds the whole probe: every socket operation gets only the time
    left, and name resolution (which sockets cannot time out) runs on a helper thread that is
    abandoned when the time is up.
    """

    def __init__(
        self,
        config: HttpProbeConfig,
        recorder: LaunchRecorder,
        *,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
        resolve: Resolver = socket.getaddrinfo,
    ):
        self._config = config
        self._recorder = recorder
        self._clock = clock
        self._wall_clock = wall_clock
        self._tls_context: ssl.SSLContext | None = None
        self._resolve = resolve

    def run_once(self) -> LaunchEvent:
        """Probe once, record the event and return it. Never raises for a failed request."""
        started_at = self._wall_clock()
        start = self._clock()
        phases: dict[str, float] = {}
        outcome: LaunchOutcome = "ok"
        detail: str | None = None
        try:
            status = self._request(start, phases)
            if not status_ok(status, self._config.expect_status):
                outcome, detail = "failed", f"HTTP {status}"
        except TimeoutError:
            waiting = _waiting_for(phases, https=(self._config.url or "").startswith("https:"))
            outcome, detail = "timeout", f"timed out after {self._config.timeout:g} s ({waiting})"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            outcome, detail = "failed", describe_failure(exc)
        elapsed = phases["total"] if "total" in phases else self._clock() - start
        event = LaunchEvent(
            app=self._config.app or self._config.name,
            version=None,
            method="probe",
            outcome=outcome,
            started_at=started_at,
            duration_seconds=elapsed,
            ready_signal="http",
            phases=phases,
            probe=self._config.name,
            # Error messages can quote what the server sent: escape what the advisor refuses.
            detail=clean_text(detail, _MAX_DETAIL_CHARS) if detail else None,
        )
        self._recorder.record(event)
        return event

    def _request(self, start: float, phases: dict[str, float]) -> int:
        """Do the request, filling ``phases`` as each step completes; returns the status."""
        target = parse_target(self._config.url or "")
        deadline = start + self._config.timeout

        def remaining() -> float:
            left = deadline - self._clock()
            if left <= 0:
                raise _DeadlineError
            return left

        addresses = self._resolve_within(target, remaining())
        phases["dns"] = self._clock() - start
        with ExitStack() as cleanup:
            sock = _connect(addresses, remaining)
            cleanup.callback(sock.close)
            phases["connect"] = self._clock() - start
            if target.scheme == "https":
                sock = self._handshake(sock, target.host, remaining())
                cleanup.callback(sock.close)
                phases["tls"] = self._clock() - start
            connection = http.client.HTTPConnection(target.host, target.port)
            connection.sock = sock
            cleanup.callback(connection.close)
            sock.settimeout(remaining())
            connection.request(
                self._config.method,
                target.path,
                headers={
                    "Host": target.host_header,
                    "User-Agent": _USER_AGENT,
                    "Accept": "*/*",
                    "Connection": "close",
                },
            )
            response = connection.getresponse()
            cleanup.callback(response.close)
            phases["first_byte"] = self._clock() - start
            _discard_body(response, sock, remaining)
            phases["total"] = self._clock() - start
            return response.status

    def _resolve_within(self, target: _Target, timeout: float) -> Sequence[AddrInfo]:
        found: list[Sequence[AddrInfo]] = []
        failed: list[BaseException] = []

        def lookup() -> None:
            try:
                found.append(self._resolve(target.host, target.port, type=socket.SOCK_STREAM))
            except BaseException as exc:  # handed to the probe's thread, which reports it
                failed.append(exc)

        worker = threading.Thread(target=lookup, name=f"probe-dns-{self._config.name}")
        worker.daemon = True
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise _DeadlineError
        if failed:
            raise failed[0]
        if not found[0]:
            raise socket.gaierror(socket.EAI_NONAME, "no addresses")
        return found[0]

    def _handshake(self, sock: socket.socket, host: str, timeout: float) -> ssl.SSLSocket:
        if self._tls_context is None:
            # Built once per probe: loading a trust store every run costs CPU and churns memory.
            self._tls_context = client_context(self._config.ca_file, verify=self._config.verify_tls)
        context = self._tls_context
        sock.settimeout(timeout)
        tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except BaseException:
            tls.close()
            raise
        return tls


def _waiting_for(phases: dict[str, float], *, https: bool) -> str:
    for phase, name in _PHASE_NAMES.items():
        if phase not in phases and (https or phase != "tls"):
            return name
    return _PHASE_NAMES["total"]


def _connect(addresses: Sequence[AddrInfo], remaining: Callable[[], float]) -> socket.socket:
    """Connect to the first address that accepts, like :func:`socket.create_connection`."""
    last_error: OSError | None = None
    for family, kind, proto, _, sockaddr in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(remaining())
            sock.connect(sockaddr)
        except TimeoutError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise last_error or OSError("no address to connect to")


def _discard_body(
    response: http.client.HTTPResponse, sock: socket.socket, remaining: Callable[[], float]
) -> None:
    """Read and drop the body, at most MAX_BODY_BYTES: the probe times it, nobody reads it."""
    read = 0
    # The response closes the socket itself once it has read a body of known length.
    while read < MAX_BODY_BYTES and not response.isclosed():
        sock.settimeout(remaining())
        chunk = response.read(min(_CHUNK_BYTES, MAX_BODY_BYTES - read))
        if not chunk:
            return
        read += len(chunk)
