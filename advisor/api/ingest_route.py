"""The ingest route's work: who is calling first, then how much they may send, then the body.

The order is the defence (the steps and their answers are tabled in advisor.api.ingest):

1. **Authenticate from the headers.** A caller without a credential the store vouches for gets
   401 before a byte of its body is read, and the connection is closed: a stranger's parse bomb
   or stalled upload costs a header parse and, for a well-formed unknown credential, one indexed
   lookup (at most ``_AUTH_LOOKUPS`` at once, off the event loop). An address that keeps
   failing waits a second for its answers (advisor.api.quotas.FailedAuthentications), so a
   closed loop of refusals cannot take the event loop from real agents. Known credentials are
   remembered (:class:`advisor.api.auth.KnownCredentials`), so an agent's batch costs no
   extra round trip.
2. **Spend the host's quota** (advisor.api.quotas): one host never holds more than its share
   of the slots, nor sends more than its share of batches.
3. **Take an ingest slot** (bounded memory: each slot holds at most one body).
4. **Read the body against a deadline**: a slow or stalled upload holds its slot that long at
   most, then gets 408.
5. **Decode and check, then store in a worker thread**: structure is bounded before any
   parser builds objects, meaning is checked before the database sees a value, and a database
   refusal is told apart from a database outage (422 against 503). A body that decodes to at
   most :data:`INLINE_DOCUMENT_BYTES` (a minute's batch) is decoded and checked on the event
   loop, a bounded millisecond; anything larger is decoded, checked and stored in one worker
   thread, so the loop stays free to answer everyone else whatever a batch costs to parse.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio
import anyio.to_thread
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from advisor.api import auth, batch_rules, ingest
from advisor.api.ingest import RejectedError
from advisor.api.metrics import ApiMetrics
from advisor.api.quotas import FailedAuthentications, HostQuotas
from advisor.api.settings import ApiSettings
from advisor.errors import StoreUnavailable, UnknownCredential, UnstorableBatch, WrongHost
from advisor.store import AuthenticatedHost, IngestResult, Store
from agent.shared.wire import BATCH_ID_HEADER, SENT_AT_HEADER, Batch

log = logging.getLogger(__name__)

# Credential lookups in flight at once: a flood of made-up credentials queues here, not in the
# thread pool that stores real batches.
_AUTH_LOOKUPS = 4
INLINE_DOCUMENT_BYTES = 64 * 1024
"""A document up to this size (a minute's batch is 10 to 20 KB) is decoded and checked on the
event loop: at most about a millisecond, where doing it in the worker thread made every thread
contend with the loop for the GIL and cost a fifth of PostgreSQL ingest throughput
(docs/benchmarks.md). Anything larger (an inventory, a bomb) never touches the loop."""
# Every refusal before the body is read closes the connection: an unread body (a stalled
# upload, a bomb still arriving) is not worth draining to keep the connection alive, and a
# client trickling it would keep the connection forever.
_CLOSE = {"Connection": "close"}


class IngestHandler:
    """``POST /api/v1/ingest`` on ``store`` (see the module docstring for the order)."""

    def __init__(
        self,
        store: Store,
        settings: ApiSettings,
        clock: Callable[[], float],
        metrics: ApiMetrics,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        # A short, bounded wait for a slot absorbs bursts; beyond it an advisor at capacity
        # says so (429) rather than queueing requests until the agents' own timeouts fire.
        self._slots = anyio.Semaphore(settings.max_concurrent_ingests)
        self._known = auth.KnownCredentials(ttl=settings.auth_cache_seconds)
        self._lookups = anyio.CapacityLimiter(_AUTH_LOOKUPS)
        self._failures = FailedAuthentications()
        self._quotas = HostQuotas(
            max_in_flight=settings.max_ingests_per_host,
            per_minute=settings.host_batches_per_minute,
        )

    async def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            batch, result = await self._ingest(request)
        except RejectedError as rejection:
            self._metrics.rejected(rejection.reason)
            log.info("ingest refused (%s): %s", rejection.status, rejection.detail)
            if rejection.reason == "auth":
                await self._tarpit(request)
            raise HTTPException(
                rejection.status, rejection.detail, rejection.headers or None
            ) from None
        finally:
            self._metrics.ingest_duration.observe(time.perf_counter() - started)
        if result.stored:
            self._metrics.stored(batch)
        else:
            self._metrics.duplicate()
        # IngestResponse, written directly: the hot path skips re-validating its own answer.
        return JSONResponse({"batch_id": result.batch_id, "stored": result.stored})

    async def _ingest(self, request: Request) -> tuple[Batch, IngestResult]:
        headers = request.headers
        credential, host = await self._authenticate(headers.get("authorization"))
        try:
            ingest.check_content_length(
                headers.get("content-length"), self._settings.max_body_bytes
            )
            coding = ingest.content_coding(headers.get("content-encoding"))
        except RejectedError as refused:
            refused.headers.update(_CLOSE)
            raise
        refusal = self._quotas.admit(host.host_id)
        if refusal is not None:
            raise RejectedError(
                429,
                "host_quota",
                refusal.detail,
                {"Retry-After": str(refusal.retry_after), **_CLOSE},
            )
        try:
            if not await self._take_slot():
                raise RejectedError(
                    429,
                    "overloaded",
                    "the advisor is at its limit of concurrent ingests: retry after"
                    f" {self._settings.retry_after_header} s",
                    {"Retry-After": self._settings.retry_after_header, **_CLOSE},
                )
            self._metrics.ingests_in_progress.inc()
            try:
                body = await self._read_body(request)
                document = self._decode_inline(body, coding)
                if document is None:
                    # Large: decoding, checking and storing in one worker thread.
                    return await anyio.to_thread.run_sync(
                        self._parse_and_store, body, coding, request, credential, host
                    )
                batch, received_at = self._check(document, request, host)
                result = await anyio.to_thread.run_sync(
                    self._store_batch, batch, request, credential, host, received_at
                )
                return batch, result
            except RejectedError as refused:
                if refused.reason == "auth":
                    # Revoked since it was remembered: the store checks every batch.
                    self._known.forget(credential)
                raise
            finally:
                self._metrics.ingests_in_progress.dec()
                self._slots.release()
        finally:
            self._quotas.release(host.host_id)

    async def _tarpit(self, request: Request) -> None:
        """Make an address that keeps failing authentication wait for its answers."""
        address = request.client.host if request.client is not None else ""
        delay = self._failures.penalty(address)
        if not delay:
            return
        self._failures.waiting(address, +1)
        try:
            await anyio.sleep(delay)
        finally:
            self._failures.waiting(address, -1)

    async def _authenticate(self, authorization: str | None) -> tuple[str, AuthenticatedHost]:
        """The credential and its host, from the header alone; else 401 (and the connection
        closes, its body unread)."""
        credential = auth.credential_from_header(authorization)
        if isinstance(credential, auth.AuthFailure):
            raise _unauthenticated(credential)
        host = self._known.get(credential)
        if host is not None:
            return credential, host
        if auth.plausible_credential(credential):
            async with self._lookups:
                host = self._known.get(credential)  # loaded while this request waited
                if host is None and self._known.bulk_load_due():
                    # The whole fleet in one query: after a restart every agent misses.
                    everyone = await anyio.to_thread.run_sync(self._store.active_credentials)
                    self._known.remember_all(everyone)
                    host = self._known.get(credential)
                elif host is None:
                    host = await anyio.to_thread.run_sync(self._store.authenticate, credential)
        if host is None:
            raise _unauthenticated(auth.UNKNOWN_CREDENTIAL)
        self._known.remember(credential, host)
        return credential, host

    async def _take_slot(self) -> bool:
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(self._settings.queue_wait_seconds):
                await self._slots.acquire()
                return True
            return False
        return True

    async def _read_body(self, request: Request) -> bytes:
        """The request body within the size limit and the read deadline (413, 408)."""
        limit = self._settings.max_body_bytes
        deadline = self._settings.body_timeout_seconds
        chunks: list[bytes] = []
        size = 0
        try:
            with anyio.fail_after(deadline):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise ingest.too_large(limit)
                    chunks.append(chunk)
        except TimeoutError:
            raise RejectedError(
                408,
                "slow_body",
                f"the body did not arrive within {deadline:g} s: send it whole, promptly",
                _CLOSE,
            ) from None
        except ClientDisconnect as exc:
            raise RejectedError(
                400, "invalid", "the client went away before sending the body"
            ) from exc
        return b"".join(chunks)

    def _decode_inline(self, body: bytes, coding: ingest.Coding) -> bytes | None:
        """The document, if it is small enough to check on the event loop; else None.

        Decoding stops at :data:`INLINE_DOCUMENT_BYTES`, so a bomb costs the loop no more
        than a real batch before it goes to a worker thread with the full limit.
        """
        if coding == "identity" and len(body) > INLINE_DOCUMENT_BYTES:
            return None
        try:
            return ingest.decode_body(body, coding, INLINE_DOCUMENT_BYTES)
        except RejectedError as refused:
            if refused.reason == "too_large":
                return None
            raise

    def _parse_and_store(
        self,
        body: bytes,
        coding: ingest.Coding,
        request: Request,
        credential: str,
        host: AuthenticatedHost,
    ) -> tuple[Batch, IngestResult]:
        """In a worker thread: a large body to a checked batch, then into the store."""
        document = ingest.decode_body(body, coding, self._settings.max_decompressed_bytes)
        del body  # a bomb's worth of JSON may follow; the gzip is no longer needed
        batch, received_at = self._check(document, request, host)
        del document
        return batch, self._store_batch(batch, request, credential, host, received_at)

    def _check(
        self, document: bytes, request: Request, host: AuthenticatedHost
    ) -> tuple[Batch, float]:
        """The document as a batch whose every field means something; and when it arrived."""
        batch_rules.check_element_count(document)
        batch_rules.check_separator_count(document)
        batch = ingest.parse_batch(document)
        received_at = self._clock()
        batch_rules.check_batch(batch, now=received_at)
        ingest.check_batch_id_header(request.headers.get(BATCH_ID_HEADER), batch, BATCH_ID_HEADER)
        if batch.host.host_id != host.host_id:
            raise ingest.wrong_host(batch, host.host_id)
        return batch, received_at

    def _store_batch(
        self,
        batch: Batch,
        request: Request,
        credential: str,
        host: AuthenticatedHost,
        received_at: float,
    ) -> IngestResult:
        """In a worker thread: the batch into the store, its refusals as answers."""
        sent_at = ingest.parse_sent_at(request.headers.get(SENT_AT_HEADER))
        try:
            return self._store.ingest_with_credential(
                credential, batch, received_at=received_at, sent_at=sent_at
            )
        except UnknownCredential:
            raise _unauthenticated(auth.UNKNOWN_CREDENTIAL) from None
        except WrongHost as wrong:
            raise ingest.wrong_host(batch, wrong.credential_host_id) from None
        except UnstorableBatch as unstorable:
            log.warning("%s", unstorable)
            raise RejectedError(
                422,
                "unstorable",
                f"this batch can never be stored ({unstorable}); the agent keeps it aside",
            ) from None
        except Exception as exc:
            # StoreUnavailable, or a store that failed in a way it did not classify: the
            # agent keeps the batch and retries (and sends the batches behind it meanwhile).
            if isinstance(exc, StoreUnavailable):
                log.warning("%s", exc)
            else:
                log.exception("storing batch %s of host %s failed", batch.batch_id, host.host_id)
            self._metrics.error()
            raise HTTPException(
                503,
                "the advisor could not store the batch now (database trouble); it is kept by"
                " the agent and will be retried",
                {"Retry-After": self._settings.retry_after_header},
            ) from None


def _unauthenticated(failure: auth.AuthFailure) -> RejectedError:
    return RejectedError(
        401, "auth", failure.detail, {"WWW-Authenticate": failure.www_authenticate, **_CLOSE}
    )
