"""The loopback endpoint where apps and login scripts report their own launch timings.

``POST /v1/launches`` with one JSON object, or a list of up to 100::

    {"app": "libreoffice", "duration_seconds": 2.4, "started_at": 1764000000.0,
     "outcome": "ok", "version": "7.4.7", "detail": null}

Only ``app`` and ``duration_seconds`` are required. Each accepted timing becomes a launch event
with method ``reported``; a batch is accepted whole or not at all. Bad input gets a 4xx with
``{"error": "..."}`` naming the field. Text the advisor would refuse is refused here (400), not
cleaned: control characters (terminal colour codes), bidirectional overrides and the like in
``version``, and the same in ``detail`` except tabs and line breaks; a refused field costs
only that report, while one in a batch would cost the advisor's whole batch (a minute of the
host's data). When an interval already holds all the launches a batch may carry, the answer
is 429. The server binds to a loopback address only: anyone who can reach it can add timings,
so it must never face the network.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
import socket
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.errors import ReportError
from agent.httpserve import IDLE_POLL_SECONDS, serve_in_thread
from agent.launches.recorder import LaunchRecorder
from agent.shared.wire import LaunchEvent, LaunchOutcome
from agent.text import forbidden_in_name, forbidden_in_text

logger = logging.getLogger(__name__)

LAUNCHES_PATH = "/v1/launches"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 64 * 1024
MAX_EVENTS_PER_POST = 100
MAX_DURATION_SECONDS = 86400.0
MAX_PAST_SECONDS = 86400.0
MAX_FUTURE_SECONDS = 60.0
MAX_DETAIL_CHARS = 200
MAX_VERSION_CHARS = 128
# Connections served at once; more are closed at once, so a local client cannot pile up threads.
MAX_CONNECTIONS = 16
# A client that stalls mid-request is dropped after this many seconds.
REQUEST_TIMEOUT_SECONDS = 5.0

_MAX_DISCARD_BYTES = 1024 * 1024
_APP_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_OUTCOMES = ("ok", "timeout", "failed")
_FIELDS = ("app", "duration_seconds", "started_at", "outcome", "version", "detail")


class InvalidReport(ValueError):  # noqa: N818 - reads as what it is, like json's JSONDecodeError
    """A reported timing the endpoint refuses; the message names the field."""


# --- addresses ----------------------------------------------------------------------------------


def parse_loopback_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:9799"`` -> ``("127.0.0.1", 9799)``; raises ValueError unless loopback.

    ``[::1]:9799`` gives ``("::1", 9799)``; ``localhost`` means 127.0.0.1. Port 0 is allowed
    (the system picks one), which tests use.
    """
    match = re.fullmatch(r"\[([^\]]+)\]:(\d{1,5})|([^:\[\]]+):(\d{1,5})", address)
    if not match:
        raise ValueError(f"expected host:port, got {address!r}")
    host = match[1] if match[1] is not None else match[3]
    port = int(match[2] or match[4])
    if port > 65535:
        raise ValueError(f"expected a TCP port (0-65535) in {address!r}")
    if host == "localhost":
        return "127.0.0.1", port
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"the report endpoint listens on loopback only (127.0.0.1 or [::1]), got {address!r}"
        )
    return host, port


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- validation: pure, JSON value in, launch events out -----------------------------------------


def parse_reports(
    payload: object, *, now: float, version_of: Callable[[str], str | None]
) -> list[LaunchEvent]:
    """Launch events from a decoded JSON body (an object or a list of up to 100 objects).

    Raises :class:`InvalidReport` naming the first bad field, e.g. ``"[2].duration_seconds:
    must be greater than 0"``; then nothing is accepted.
    """
    if isinstance(payload, dict):
        return [_parse_one(payload, "", now, version_of)]
    if isinstance(payload, list):
        if not 1 <= len(payload) <= MAX_EVENTS_PER_POST:
            raise InvalidReport(
                f"a list must hold 1 to {MAX_EVENTS_PER_POST} launches, got {len(payload)}"
            )
        return [
            _parse_one(item, f"[{index}].", now, version_of) for index, item in enumerate(payload)
        ]
    raise InvalidReport("expected a JSON object or a list of objects")


def _parse_one(
    item: object, where: str, now: float, version_of: Callable[[str], str | None]
) -> LaunchEvent:
    if not isinstance(item, dict):
        raise InvalidReport(f"{where.rstrip('.') or 'body'}: expected a JSON object")
    unknown = sorted(set(item) - set(_FIELDS))
    if unknown:
        raise InvalidReport(
            f"{where}{unknown[0]}: unknown field; expected some of: {', '.join(_FIELDS)}"
        )
    app = _app(item, where)
    duration = _duration(item, where)
    started_at = _started_at(item, where, now, duration)
    outcome = _outcome(item, where)
    version = _optional_text(item, "version", where, MAX_VERSION_CHARS, line_breaks=False)
    return LaunchEvent(
        app=app,
        version=version if version is not None else version_of(app),
        method="reported",
        outcome=outcome,
        started_at=started_at,
        duration_seconds=duration,
        ready_signal="reported",
        detail=_optional_text(item, "detail", where, MAX_DETAIL_CHARS, line_breaks=True),
    )


def _app(item: Mapping[str, object], where: str) -> str:
    app = item.get("app")
    if app is None:
        raise InvalidReport(f"{where}app: required")
    if not isinstance(app, str) or not _APP_RE.fullmatch(app):
        raise InvalidReport(f"{where}app: expected 1-64 characters of A-Z a-z 0-9 . _ -")
    return app


def _number(item: Mapping[str, object], key: str, where: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidReport(f"{where}{key}: expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidReport(f"{where}{key}: expected a finite number")
    return number


def _duration(item: Mapping[str, object], where: str) -> float:
    duration = _number(item, "duration_seconds", where)
    if duration is None:
        raise InvalidReport(f"{where}duration_seconds: required")
    if not 0 < duration <= MAX_DURATION_SECONDS:
        raise InvalidReport(
            f"{where}duration_seconds: must be greater than 0 and at most {MAX_DURATION_SECONDS:g}"
        )
    return duration


def _started_at(item: Mapping[str, object], where: str, now: float, duration: float) -> float:
    started_at = _number(item, "started_at", where)
    if started_at is None:
        return now - duration
    if started_at < now - MAX_PAST_SECONDS:
        raise InvalidReport(f"{where}started_at: more than a day in the past")
    if started_at > now + MAX_FUTURE_SECONDS:
        raise InvalidReport(f"{where}started_at: more than a minute in the future")
    return started_at


def _outcome(item: Mapping[str, object], where: str) -> LaunchOutcome:
    outcome = item.get("outcome", "ok")
    if outcome == "ok" or outcome == "timeout" or outcome == "failed":
        return outcome
    raise InvalidReport(f"{where}outcome: expected one of {', '.join(_OUTCOMES)}")


def _optional_text(
    item: Mapping[str, object], key: str, where: str, max_chars: int, *, line_breaks: bool
) -> str | None:
    """A string field, refused when the advisor would refuse the batch carrying it.

    Refused rather than cleaned: the reporter is a local script, and a 400 naming the field
    and the character (terminal colour codes, most often) tells its author what to fix.
    """
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidReport(f"{where}{key}: expected a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise InvalidReport(f"{where}{key}: at most {max_chars} characters")
    found = forbidden_in_text(value) if line_breaks else forbidden_in_name(value)
    if found is not None:
        allowed = "tabs and line breaks are allowed" if line_breaks else "one line of text"
        raise InvalidReport(
            f"{where}{key}: contains the control or formatting character {found}"
            f" (terminal colour codes?); send plain text: {allowed}"
        )
    return value


def _reject_constant(name: str) -> object:
    raise InvalidReport(f"body: {name} is not valid JSON")


def decode_body(body: bytes) -> object:
    """The JSON value of a request body; NaN and Infinity are refused like any bad JSON."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise InvalidReport("body: not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidReport(f"body: not valid JSON ({exc.msg} at line {exc.lineno})") from None


# --- the server ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "fleetsight-agent"
    sys_version = ""
    timeout = REQUEST_TIMEOUT_SECONDS

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._reply(HTTPStatus.OK, {"status": "ok"})
        elif self.path == LAUNCHES_PATH:
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST"}, allow="POST")
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path[:100]}"})

    def do_POST(self) -> None:
        try:
            status, reply = self._accept()
        except Exception:
            logger.exception("report endpoint: unexpected error")
            status, reply = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"}
        self._reply(status, reply)

    def _accept(self) -> tuple[HTTPStatus, dict[str, Any]]:
        raw_length = self.headers.get("Content-Length", "").strip()
        length = int(raw_length) if raw_length.isdigit() else None
        if self.path != LAUNCHES_PATH:
            self._discard(length or 0)
            return HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path[:100]}"}
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            self._discard(length or 0)
            return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {
                "error": f"Content-Type: expected application/json, got {content_type[:100]!r}"
            }
        if length is None:
            self.close_connection = True
            return HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length: required"}
        if length > MAX_BODY_BYTES:
            self._discard(length)
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {
                "error": f"body: larger than {MAX_BODY_BYTES} bytes"
            }
        body = self.rfile.read(length)
        try:
            events = parse_reports(
                decode_body(body),
                now=self.server.wall_clock(),
                version_of=self.server.version_of,
            )
        except InvalidReport as exc:
            return HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        refused = self.server.recorder.record_all(events)
        if refused is not None:
            # The interval holds all the launches one batch may carry (agent.launches.recorder):
            # a reporter in a loop. It learns now; the launches already taken still go out.
            return HTTPStatus.TOO_MANY_REQUESTS, {
                "error": f"{refused}; none of these were recorded, try again next interval"
            }
        return HTTPStatus.ACCEPTED, {"accepted": len(events)}

    def _discard(self, length: int) -> None:
        """Drop a refused body: closing with unread data would reset the connection, and the
        client might never see the answer. Past a bound the connection is just closed."""
        self.close_connection = True
        left = min(length, _MAX_DISCARD_BYTES)
        while left > 0:
            chunk = self.rfile.read(min(left, MAX_BODY_BYTES))
            if not chunk:
                return
            left -= len(chunk)

    def _reply(self, status: HTTPStatus, body: dict[str, Any], **headers: str) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.title(), value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("report endpoint: %s - %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        recorder: LaunchRecorder,
        version_of: Callable[[str], str | None],
        wall_clock: Callable[[], float],
    ):
        is_v6 = ipaddress.ip_address(address[0]).version == 6
        self.address_family = socket.AF_INET6 if is_v6 else socket.AF_INET
        self.recorder = recorder
        self.version_of = version_of
        self.wall_clock = wall_clock
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the host's FQDN: a DNS query for nothing.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.warning("report endpoint: error serving %s", client_address, exc_info=True)


class ReportServer:
    """Serves the report endpoint on a daemon thread.

    ``listen`` is ``host:port`` on a loopback address; anything else raises ValueError, even
    though the config already refuses it, because this endpoint takes unauthenticated input.
    ``poll_interval`` is how often the idle serving thread wakes up; :meth:`stop` does not
    wait for it (see agent.httpserve).
    """

    def __init__(
        self,
        listen: str,
        recorder: LaunchRecorder,
        *,
        version_of: Callable[[str], str | None] = lambda app: None,
        wall_clock: Callable[[], float] = time.time,
        poll_interval: float = IDLE_POLL_SECONDS,
    ):
        self._host, self._port = parse_loopback_address(listen)
        self._poll_interval = poll_interval
        self._recorder = recorder
        self._version_of = version_of
        self._wall_clock = wall_clock
        self._server: _Server | None = None
        self._stop_serving: Callable[[], None] | None = None

    @property
    def address(self) -> str:
        """``host:port`` actually bound (the real port when 0 was asked for)."""
        if self._server is None:
            return format_address(self._host, self._port)
        host, port = self._server.server_address[:2]
        return format_address(str(host), int(port))

    def start(self) -> None:
        """Bind and serve; raises OSError if the address is taken."""
        if self._server is not None:
            return
        self._server = _Server(
            (self._host, self._port), self._recorder, self._version_of, self._wall_clock
        )
        self._stop_serving = serve_in_thread(
            self._server, "report-endpoint", idle_poll=self._poll_interval
        )

    def stop(self) -> None:
        """Stop serving and close the socket; requests in progress finish on their threads."""
        if self._server is None or self._stop_serving is None:
            return
        self._stop_serving()
        self._server = None
        self._stop_serving = None


# --- the client, for `fleetsight-agent time` and scripts ---------------------------------------


def post_launch(address: str, event: dict[str, Any], timeout: float = 2.0) -> None:
    """Report one timing to the agent listening on ``address`` (loopback ``host:port``).

    Raises :class:`~agent.errors.ReportError` when no agent answers there or the agent refuses
    the report (its message names the field).
    """
    host, port = parse_loopback_address(address)
    request = urllib.request.Request(
        f"http://{format_address(host, port)}{LAUNCHES_PATH}",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    # No proxies: an http_proxy variable must not send a loopback report elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            message = _error_message(exc.read())
        raise ReportError(f"the agent at {address} refused the report: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror.lower()
        raise ReportError(f"no fleetsight agent answered at {address}: {reason}") from None


def _error_message(body: bytes) -> str:
    try:
        decoded = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", errors="replace")
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        return str(decoded["error"])
    return str(decoded)[:200]
