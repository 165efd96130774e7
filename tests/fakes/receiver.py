"""A fake advisor: a real HTTP server on loopback that takes batches and enrols agents.

Real sockets, real HTTP/1.1 with keep-alive, so the shipper's client, its timeouts and its
connection pool are exercised as in production::

    with Receiver(tokens={"tok-1"}) as receiver:
        ...  # enrol against receiver.url, ship batches
        receiver.respond_with(503, {"Retry-After": "30"}, times=2)  # next two ingests
        receiver.stop()   # down: connections refused
        receiver.start()  # back, on the same port
        assert set(receiver.batches) == expected_ids

Ingest (``POST /api/v1/ingest``) checks what the advisor will check: a bearer credential it
issued (or was given), gzip, JSON, and a batch id header matching the body. A new batch is
recorded (gunzipped and parsed) under its id; a batch id seen before is counted in
``duplicates`` and answered ``duplicate_status`` (409 by default), as the advisor will.

Enrolment (``POST /api/v1/enrol``) follows agent.enroll's protocol: tokens are single-use;
``expire_token`` and ``revoke_token`` produce 410 and 403; unknown tokens get 401. As the
advisor, it never lets an enrolment take over a known host: enrolling an enrolled host id again
needs its credential as ``current_credential`` (else 409, unless ``release_host`` was called),
and a host revoked with ``revoke_host`` gets 403 until released.

Scripted answers (``respond_with``, ``disconnect``, ``set_handler``) take precedence over the
default behaviour, in order, for the path they name (ingest by default).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import secrets
import socket
import ssl
import threading
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from agent.shared.wire import ENROL_PATH, INGEST_PATH

_MAX_BODY = 64 * 1024**2
_IDLE_TIMEOUT = 30.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it, and what it answered (None: the connection dropped)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    status: int | None


@dataclass(frozen=True)
class Reply:
    """A scripted answer. ``record`` stores a valid batch first (the advisor got it, then the
    answer was lost); ``disconnect`` closes the connection instead of answering; ``delay``
    waits first (longer than the client's timeout gives a real timeout)."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    record: bool = False
    disconnect: bool = False


Handler = Callable[[RecordedRequest], Reply | None]


@dataclass
class _Script:
    path: str
    reply: Reply
    times: int


class _Server(ThreadingHTTPServer):
    """Tracks open connections so ``stop`` can cut them, as a dying advisor would."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], receiver: Receiver):
        self.receiver = receiver
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT
    # Headers and body go out as two writes; with Nagle on, the body waits for the client's
    # delayed ACK, 40 ms a request, which is most of a test that sends a hundred.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest output stays readable; ``Receiver.requests`` has the details."""

    def do_POST(self) -> None:
        self.server.receiver._handle(self)

    def do_GET(self) -> None:
        self.server.receiver._handle(self)

    def do_PUT(self) -> None:
        self.server.receiver._handle(self)


class Receiver:
    """A fake advisor on ``127.0.0.1`` and an ephemeral port (see the module docstring).

    ``credentials`` are accepted for ingest from the start; ``tokens`` are enrolment tokens
    (each gives ``department``); ``require_auth=False`` accepts any bearer credential.
    """

    def __init__(
        self,
        *,
        credentials: Iterable[str] = (),
        tokens: Iterable[str] = (),
        department: str | None = "engineering",
        require_auth: bool = True,
        duplicate_status: int = 409,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.department = department
        self._tls = tls
        self.require_auth = require_auth
        self.duplicate_status = duplicate_status
        self._lock = threading.Condition()
        self._credentials = set(credentials)
        self._tokens = dict.fromkeys(tokens, "valid")
        self._scripts: deque[_Script] = deque()
        self._handler: Handler | None = None
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.batches: dict[str, dict[str, Any]] = {}
        self.duplicates: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.enrolled: dict[str, str] = {}  # host_id -> credential
        self.revoked_hosts: set[str] = set()

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the receiver has not been started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (the same after stop() and start());
        ``https://`` when the receiver was given a server ``tls`` context."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Receiver:
        """Listen (again, on the same port once one was chosen) and serve in a thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), self)
        self._port = self._server.server_address[1]
        if self._tls is not None:
            self._server.socket = self._tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"receiver-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go down: stop listening and cut open connections; new connections are refused."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        thread.join()
        server.cut_connections()
        server.server_close()  # joins the request threads
        self._server = None
        self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- scripting ----------------------------------------------------------------------------

    def respond_with(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        *,
        body: bytes | str = b"",
        times: int = 1,
        delay: float = 0.0,
        record: bool = False,
        path: str = INGEST_PATH,
    ) -> None:
        """Answer the next ``times`` requests to ``path`` with ``status`` (queued in order)."""
        data = body.encode() if isinstance(body, str) else body
        reply = Reply(status, dict(headers or {}), data, delay, record)
        with self._lock:
            self._scripts.append(_Script(path, reply, times))

    def disconnect(self, *, times: int = 1, record: bool = True, path: str = INGEST_PATH) -> None:
        """Drop the connection without answering; with ``record`` the batch is kept first."""
        with self._lock:
            self._scripts.append(_Script(path, Reply(record=record, disconnect=True), times))

    def set_handler(self, handler: Handler | None) -> None:
        """Ask ``handler`` first for every request; None from it means "behave normally"."""
        with self._lock:
            self._handler = handler

    def add_credential(self, credential: str) -> None:
        with self._lock:
            self._credentials.add(credential)

    def revoke_credential(self, credential: str) -> None:
        with self._lock:
            self._credentials.discard(credential)

    def add_token(self, token: str) -> None:
        with self._lock:
            self._tokens[token] = "valid"

    def expire_token(self, token: str) -> None:
        with self._lock:
            self._tokens[token] = "expired"

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens[token] = "revoked"

    def revoke_host(self, host_id: str) -> None:
        """The admin's ``host revoke``: its credential stops working, it may not re-enrol."""
        with self._lock:
            self.revoked_hosts.add(host_id)
            self._credentials.discard(self.enrolled.get(host_id, ""))

    def release_host(self, host_id: str) -> None:
        """The admin's ``host release``: the next enrolment of ``host_id`` takes it over."""
        with self._lock:
            self.revoked_hosts.discard(host_id)
            self._credentials.discard(self.enrolled.pop(host_id, ""))

    # --- inspection ---------------------------------------------------------------------------

    def ingest_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == INGEST_PATH]

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 30.0) -> bool:
        """Block until ``predicate(self)`` holds (checked after each request) or ``timeout``."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self), timeout)

    def wait_for_batches(self, count: int, timeout: float = 30.0) -> bool:
        """Block until at least ``count`` distinct batches have arrived."""
        return self.wait_for(lambda r: len(r.batches) >= count, timeout)

    # --- serving ------------------------------------------------------------------------------

    def _handle(self, handler: _RequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        headers = {name.lower(): value for name, value in handler.headers.items()}
        request = RecordedRequest(
            handler.command, path, headers, b"", handler.client_address[1], None
        )
        length_header = headers.get("content-length", "0" if handler.command != "POST" else "")
        if not length_header.isdigit() or int(length_header) > _MAX_BODY:
            # The body cannot be skipped reliably: answer and close.
            handler.close_connection = True
            self._answer(handler, request, _json_reply(411, {"detail": "bad Content-Length"}))
            return
        length = int(length_header)
        body = handler.rfile.read(length) if length else b""
        request = dataclasses.replace(request, body=body)
        with self._lock:
            custom = self._handler
        reply = custom(request) if custom is not None else None
        if reply is None:
            reply = self._next_script(path)
        if reply is not None:
            if reply.delay and self._stopping.wait(reply.delay):
                handler.close_connection = True
                self._log(request)
                return
            if reply.record and path == INGEST_PATH:
                self._ingest(headers, body)
            if reply.disconnect:
                handler.close_connection = True
                self._log(request)
                return
            self._answer(handler, request, reply)
            return
        if path == INGEST_PATH and handler.command == "POST":
            reply = self._ingest(headers, body)
        elif path == ENROL_PATH and handler.command == "POST":
            reply = self._enrol(body)
        elif path in (INGEST_PATH, ENROL_PATH):
            reply = _json_reply(405, {"detail": "method not allowed"}, {"Allow": "POST"})
        else:
            reply = _json_reply(404, {"detail": f"no route {path}"})
        self._answer(handler, request, reply)

    def _next_script(self, path: str) -> Reply | None:
        with self._lock:
            for script in self._scripts:
                if script.path == path:
                    script.times -= 1
                    if script.times <= 0:
                        self._scripts.remove(script)
                    return script.reply
        return None

    def _answer(self, handler: _RequestHandler, request: RecordedRequest, reply: Reply) -> None:
        # Logged before answering, so a client that has its answer also finds it recorded.
        self._log(dataclasses.replace(request, status=reply.status))
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        if not any(name.lower() == "content-type" for name in reply.headers):
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        try:
            handler.wfile.write(reply.body)
        except OSError:
            handler.close_connection = True

    def _log(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()

    def _ingest(self, headers: dict[str, str], body: bytes) -> Reply:
        authorization = headers.get("authorization", "")
        scheme, _, credential = authorization.partition(" ")
        with self._lock:
            known = credential in self._credentials
        if scheme.lower() != "bearer" or not credential or (self.require_auth and not known):
            return _json_reply(
                401, {"detail": "unknown credential"}, {"WWW-Authenticate": "Bearer"}
            )
        if "application/json" not in headers.get("content-type", ""):
            return _json_reply(415, {"detail": "expected Content-Type: application/json"})
        if headers.get("content-encoding") != "gzip":
            return _json_reply(415, {"detail": "expected Content-Encoding: gzip"})
        try:
            document = json.loads(gzip.decompress(body))
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            return _json_reply(400, {"detail": f"body is not gzip JSON: {exc}"})
        if not isinstance(document, dict) or not isinstance(document.get("batch_id"), str):
            return _json_reply(422, {"detail": "batch_id missing"})
        batch_id = document["batch_id"]
        if headers.get("x-fleetsight-batch-id") != batch_id:
            return _json_reply(400, {"detail": "X-Fleetsight-Batch-Id does not match batch_id"})
        with self._lock:
            if batch_id in self.batches:
                self.duplicates[batch_id] += 1
                return _json_reply(
                    self.duplicate_status, {"batch_id": batch_id, "status": "duplicate"}
                )
            self.batches[batch_id] = document
        return _json_reply(202, {"batch_id": batch_id, "status": "stored"})

    def _enrol(self, body: bytes) -> Reply:
        try:
            request = json.loads(body)
        except ValueError:
            return _json_reply(400, {"detail": "body is not JSON"})
        if not isinstance(request, dict):
            return _json_reply(400, {"detail": "expected a JSON object"})
        token, host_id = request.get("token"), request.get("host_id")
        if not isinstance(token, str) or not isinstance(host_id, str) or not host_id:
            return _json_reply(400, {"detail": "token and host_id are required"})
        proof = request.get("current_credential")
        if proof is not None and (not isinstance(proof, str) or len(proof) > 512):
            return _json_reply(400, {"detail": "current_credential: a string of at most 512"})
        with self._lock:
            state = self._tokens.get(token)
            if state is None:
                return _json_reply(401, {"detail": "unknown enrolment token"})
            if state == "expired":
                return _json_reply(410, {"detail": "enrolment token expired"})
            if state == "revoked":
                return _json_reply(403, {"detail": "enrolment token revoked"})
            if state == "used":
                return _json_reply(409, {"detail": "enrolment token already used"})
            release = f"ask the admin to run `fleetsight-advisor host release {host_id}`"
            if host_id in self.revoked_hosts:
                return _json_reply(403, {"detail": f"host revoked: {release}"})
            held = self.enrolled.get(host_id)
            if held is not None and proof != held:
                return _json_reply(
                    409,
                    {
                        "detail": "host already enrolled: re-enrol from the machine that holds"
                        f" its credential, or {release}"
                    },
                )
            self._tokens[token] = "used"
            self._credentials.discard(held or "")
            credential = secrets.token_urlsafe(32)
            self._credentials.add(credential)
            self.enrolled[host_id] = credential
        answer = {"host_id": host_id, "credential": credential, "department": self.department}
        return _json_reply(201, answer)


def _json_reply(status: int, document: object, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, dict(headers or {}), json.dumps(document).encode())
