"""uvicorn's HTTP protocol with a deadline on request headers (slowloris), quick to stop.

uvicorn times out idle keep-alive connections, but not a request whose headers never finish:
a client that opens a connection and sends a header line every few seconds holds a socket and
a file descriptor for as long as it likes, and a few thousand such clients exhaust the
advisor's descriptors before any route or credential check could run. Here a connection must
deliver each request's complete headers within :data:`HEADER_TIMEOUT_SECONDS` of its first
byte (or of the connection, for the first request); otherwise it is closed without an answer.
Bodies have their own deadlines (the ingest route's, advisor.api.body_limits for the rest).

Used by ``serve`` for every worker: ``uvicorn.Config(app, http=HeaderDeadlineProtocol)``.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

HEADER_TIMEOUT_SECONDS = 10.0
"""Longer than any real client needs for a few hundred bytes of headers, even on a poor link."""


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` closing connections whose headers are late."""

    header_timeout: float = HEADER_TIMEOUT_SECONDS
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._cancel_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """SIGTERM: drop an idle keep-alive connection at once; a request in flight is answered.

        uvicorn closes an idle connection gracefully and waits until it is gone. Over TLS that
        close waits for the client's close_notify, which a client sitting on its kept-alive
        connection (an agent between two rounds) never sends: the advisor then hung for the
        whole graceful timeout and logged an error. Nothing is lost by aborting: no request
        is under way, and once the last answer has left the buffer the client has all of it.
        """
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing() and not self.transport.get_write_buffer_size():
            self.transport.abort()
            return
        super().shutdown()

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            log.info(
                "closing a connection whose request headers took over %gs", self.header_timeout
            )
            self.transport.close()
