"""A size limit and a read deadline for every request body the ingest route does not read itself.

FastAPI reads a JSON body whole before a route sees it, with no limit: a stranger could send a
gigabyte to ``POST /api/v1/enrol`` and the advisor would hold it in memory, or trickle a body
for hours and hold a connection and a task. This ASGI middleware refuses, before the route
runs, a body announced larger than ``max_bytes`` (413), and cuts off one that grows past it or
does not arrive within ``timeout`` seconds (413, 408), closing the connection either way.
Bodies are read before the route runs, so a route only ever sees a whole, bounded body.
Every route but ingest takes small JSON documents (an enrolment, a review); ingest has its own,
larger limits and deadline (advisor.api.ingest_route), so its path is passed through.
"""

from __future__ import annotations

import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_TIMEOUT_SECONDS = 30.0


class BodyLimits:
    """ASGI middleware: ``BodyLimits(app, exempt=frozenset({INGEST_PATH}))``.

    The body is read here, whole, within the limits, and handed to the route from memory:
    a refusal is answered before the route runs, so no route ever sees half a body.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        exempt: frozenset[str],
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._app = app
        self._exempt = exempt
        self._max_bytes = max_bytes
        self._timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._exempt:
            await self._app(scope, receive, send)
            return
        announced = _content_length(scope)
        if announced is not None and announced > self._max_bytes:
            await _refuse(send, 413, self._too_large())
            return
        body = bytearray()
        with anyio.move_on_after(self._timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away: nobody to answer
                body += message.get("body", b"")
                if len(body) > self._max_bytes:
                    await _refuse(send, 413, self._too_large())
                    return
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            await _refuse(send, 408, f"the request body did not arrive within {self._timeout:g} s")
            return
        await self._app(scope, _replay(bytes(body), receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than this advisor's limit of {self._max_bytes} bytes"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands out ``body`` once, then waits on the client (for disconnects)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
