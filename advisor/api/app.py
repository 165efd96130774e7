"""The advisor's ASGI app: enrolment, ingest, health and metrics, wired in one place.

========================  ===================================================================
route                     what it does
========================  ===================================================================
POST /api/v1/enrol        trade an enrolment token for a host credential (201); refusals are
                          401 unknown, 403 revoked, 410 expired, 409 used up, 400 malformed
POST /api/v1/ingest       store one batch of the agent's wire format, once per batch id (200,
                          ``stored`` false for a retry); the checks are in advisor.api.ingest
GET /healthz              the process answers
GET /readyz               the advisor can serve (``ApiSettings.ready_check``), else 503
GET /metrics              Prometheus text (advisor.api.metrics)
========================  ===================================================================

Every error answer is ``{"detail": "<one sentence>"}``: the agent shows it to the operator or
keeps it as a quarantine reason, so it says what was wrong and, where it can, what to do.
Bad input is always a 4xx, never a 500; FastAPI's own validation errors are rewritten to that
shape too. The store blocks on the database, so its calls run in the server's thread pool: the
enrolment route is a plain ``def`` route; the ingest route reads and validates the body on the
event loop and hands only the store call to a thread (one hop per batch, the hot path).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import anyio
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field, TypeAdapter
from starlette.requests import ClientDisconnect

from advisor import __version__
from advisor.api import auth, ingest
from advisor.api.catalog import add_catalog_routes
from advisor.api.findings import add_findings_routes
from advisor.api.ingest import RejectedError
from advisor.api.metrics import ApiMetrics, process_registry
from advisor.api.settings import ApiSettings
from advisor.errors import EnrolmentRefused, UnknownCredential, WrongHost
from advisor.store import IngestResult, Store
from agent.shipper import BATCH_ID_HEADER, SENT_AT_HEADER
from agent.wire import ENROL_PATH, INGEST_PATH, SCHEMA, WIRE_VERSION, Batch

log = logging.getLogger(__name__)

# A machine id, a configured name or a UUID: plain characters only, as it ends up in URLs,
# logs and file names.
HOST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]+$"

_ASK_ADMIN = "ask the advisor's admin for a new one (`fleetsight-advisor token create`)"
_REFUSALS: Mapping[str, tuple[int, str]] = {
    "unknown": (
        401,
        "this advisor does not know the enrolment token: check it was copied whole, or"
        f" {_ASK_ADMIN}",
    ),
    "revoked": (403, f"the enrolment token was revoked: {_ASK_ADMIN}"),
    "expired": (410, f"the enrolment token has expired: {_ASK_ADMIN}"),
    "used_up": (409, f"the enrolment token has been used as often as it allows: {_ASK_ADMIN}"),
}


class EnrolRequest(BaseModel):
    """What an agent sends to enrol (agent/enroll.py)."""

    token: str = Field(min_length=1, max_length=512, description="The enrolment token.")
    host_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=HOST_ID_PATTERN,
        description="The host's stable id (its /etc/machine-id unless configured).",
    )
    hostname: str = Field(
        min_length=1, max_length=255, pattern=_NO_CONTROL_CHARS, description="Host name."
    )
    agent_version: str = Field(
        min_length=1, max_length=64, pattern=_NO_CONTROL_CHARS, description="Agent version."
    )


class EnrolResponse(BaseModel):
    """A new enrolment: ``credential`` is shown this once; the advisor keeps only its hash."""

    host_id: str = Field(description="The id to put in every batch's host.host_id.")
    credential: str = Field(description="The bearer credential for ingest.")
    department: str = Field(description="The department, from the enrolment token.")


class IngestResponse(BaseModel):
    """A batch the advisor has; ``stored`` is false when it had it already (a retry)."""

    batch_id: str
    stored: bool


class ErrorDetail(BaseModel):
    """Every error answer: one sentence saying what was wrong and what to do."""

    detail: str


class HealthStatus(BaseModel):
    """The answer of /healthz and /readyz when all is well."""

    status: Literal["ok"] = "ok"


def create_app(
    store: Store,
    settings: ApiSettings,
    *,
    clock: Callable[[], float] = time.time,
    registry: CollectorRegistry | None = None,
    exposition: CollectorRegistry | None = None,
) -> FastAPI:
    """The advisor's API on ``store``.

    ``clock`` stamps enrolments and received batches; ``registry`` receives the metrics
    (default: a new registry with the process metrics too) and is what /metrics serves, unless
    ``exposition`` is given (several workers: the sum of all their metrics).
    """
    if registry is None:
        registry = process_registry()
    metrics = ApiMetrics(registry)
    app = _AdvisorApp(
        title="Fleetsight advisor",
        version=__version__,
        description='Agents enrol and send batches here. Errors are JSON `{"detail": "..."}`.',
    )
    _install_error_handlers(app, metrics)
    _add_enrol_route(app, store, clock, metrics)
    _add_ingest_route(app, store, settings, clock, metrics)
    add_catalog_routes(app, store, clock, ErrorDetail)
    add_findings_routes(app, store, ErrorDetail)
    _add_health_routes(app, settings, registry if exposition is None else exposition)
    return app


class _AdvisorApp(FastAPI):
    """FastAPI with an OpenAPI document that also describes what FastAPI cannot see.

    The ingest route reads its body itself (limits, gzip), so the Batch schema, its headers
    and the bearer scheme are added here; FastAPI's default 422 answer is removed from routes
    whose validation errors are answered 400 by our handler.
    """

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is not None:
            return self.openapi_schema
        document = super().openapi()
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        batch = TypeAdapter(Batch).json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(batch.pop("$defs", {}))
        # What ingest enforces beyond the dataclass types, said where clients and fuzzers look.
        batch["properties"]["batch_id"].update(ingest.BATCH_ID_SCHEMA)
        schemas["Batch"] = batch
        components.setdefault("securitySchemes", {})["HostCredential"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "The host credential from enrolment.",
        }
        for path in document.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if responses.get("422", {}).get("description") == "Validation Error":
                    del responses["422"]
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        self.openapi_schema = document
        return document


def _errors(described: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ErrorDetail, "description": text} for status, text in described.items()
    }


def _install_error_handlers(app: FastAPI, metrics: ApiMetrics) -> None:
    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        if request.url.path == ENROL_PATH:
            metrics.enrolment("invalid")
        if any(tuple(error.get("loc", ())) == ("body",) for error in errors):
            # No body, or not an object: FastAPI's "body: Field required" helps nobody.
            detail = "the body must be a JSON object sent as Content-Type: application/json"
        else:
            detail = ingest.describe_errors(errors, skip=1)
        return JSONResponse({"detail": detail}, status_code=400)

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": "internal error in the advisor; its log has the details"},
            status_code=500,
        )

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, internal_error)


def _add_enrol_route(
    app: FastAPI, store: Store, clock: Callable[[], float], metrics: ApiMetrics
) -> None:
    @app.post(
        ENROL_PATH,
        status_code=201,
        summary="Enrol a host: trade an enrolment token for its credential",
        response_description="The host's new credential, shown only this once.",
        responses=_errors(
            {
                400: "Malformed request: a field is missing, too long or has bad characters.",
                401: "The enrolment token is unknown.",
                403: "The enrolment token was revoked.",
                409: "The enrolment token has been used as often as it allows.",
                410: "The enrolment token has expired.",
            }
        ),
        tags=["agents"],
    )
    def enrol(request: EnrolRequest) -> EnrolResponse:
        """Enrolling a host id again (a reinstalled machine) replaces its credential."""
        try:
            enrolment = store.enrol(
                token=request.token,
                host_id=request.host_id,
                hostname=request.hostname,
                agent_version=request.agent_version,
                now=clock(),
            )
        except EnrolmentRefused as refused:
            outcome = refused.reason if refused.reason in _REFUSALS else "refused"
            status, detail = _REFUSALS.get(refused.reason, (403, f"enrolment refused: {refused}"))
            metrics.enrolment(outcome)
            log.info("enrolment of host %s refused: %s", request.host_id, refused.reason)
            raise HTTPException(status, detail) from None
        metrics.enrolment("enrolled")
        log.info("host %s enrolled in %s", enrolment.host_id, enrolment.department)
        return EnrolResponse(
            host_id=enrolment.host_id,
            credential=enrolment.credential,
            department=enrolment.department,
        )


_INGEST_DOC = {
    "requestBody": {
        "required": True,
        "description": f"One {SCHEMA} document, version {WIRE_VERSION} (docs/wire-format.md).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}},
    },
    "parameters": [
        {
            "name": "Content-Encoding",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "enum": ["gzip", "identity"]},
            "description": "gzip (what agents send) or identity.",
        },
        {
            "name": BATCH_ID_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "When sent, must equal the body's batch_id.",
        },
        {
            "name": SENT_AT_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "Unix seconds when this attempt was sent (clock skew estimate).",
        },
    ],
    "security": [{"HostCredential": []}],
}


class _Ingest:
    """The ingest route's work, in the order of advisor.api.ingest's table."""

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

    async def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            batch, result = await self._ingest(request)
        except RejectedError as rejection:
            self._metrics.rejected(rejection.reason)
            log.info("ingest refused (%s): %s", rejection.status, rejection.detail)
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
        credential = auth.credential_from_header(headers.get("authorization"))
        if isinstance(credential, auth.AuthFailure):
            raise _unauthenticated(credential)
        ingest.check_content_length(headers.get("content-length"), self._settings.max_body_bytes)
        coding = ingest.content_coding(headers.get("content-encoding"))
        if not await self._take_slot():
            raise RejectedError(
                429,
                "overloaded",
                "the advisor is at its limit of concurrent ingests: retry after"
                f" {self._settings.retry_after_header} s",
                {"Retry-After": self._settings.retry_after_header},
            )
        self._metrics.ingests_in_progress.inc()
        try:
            try:
                batch = await self._read_batch(request, coding)
            except RejectedError:
                # Authentication comes first: a stranger learns nothing about batches. The
                # store checks credentials while storing; a refused body asks it here.
                owner = await anyio.to_thread.run_sync(self._store.authenticate, credential)
                if owner is None:
                    raise _unauthenticated(auth.UNKNOWN_CREDENTIAL) from None
                raise
            # The store blocks on the database: in a worker thread, one hop per batch.
            result = await anyio.to_thread.run_sync(self._store_batch, request, credential, batch)
            return batch, result
        finally:
            self._metrics.ingests_in_progress.dec()
            self._slots.release()

    async def _take_slot(self) -> bool:
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(self._settings.queue_wait_seconds):
                await self._slots.acquire()
                return True
            return False
        return True

    async def _read_batch(self, request: Request, coding: ingest.Coding) -> Batch:
        # Decoding and validation run on the event loop: they are bounded by the size
        # limits, and a thread hop would cost more than they do.
        body = await _read_body(request, self._settings.max_body_bytes)
        document = ingest.decode_body(body, coding, self._settings.max_decompressed_bytes)
        del body  # a bomb's worth of JSON may follow; the gzip is no longer needed
        batch = ingest.parse_batch(document)
        del document
        ingest.check_batch_id_header(request.headers.get(BATCH_ID_HEADER), batch, BATCH_ID_HEADER)
        return batch

    def _store_batch(self, request: Request, credential: str, batch: Batch) -> IngestResult:
        sent_at = ingest.parse_sent_at(request.headers.get(SENT_AT_HEADER))
        try:
            return self._store.ingest_with_credential(
                credential, batch, received_at=self._clock(), sent_at=sent_at
            )
        except UnknownCredential:
            raise _unauthenticated(auth.UNKNOWN_CREDENTIAL) from None
        except WrongHost as wrong:
            raise ingest.wrong_host(batch, wrong.credential_host_id) from None
        except Exception as exc:
            # The batch is valid; the database is not taking it. 503 makes the agent keep it
            # and retry after Retry-After, where a 500 would look like a bug in the request.
            log.exception("storing batch %s of host %s failed", batch.batch_id, batch.host.host_id)
            self._metrics.error()
            raise HTTPException(
                503,
                "the advisor could not store the batch now (database trouble); it is kept by"
                " the agent and will be retried",
                {"Retry-After": self._settings.retry_after_header},
            ) from exc


def _unauthenticated(failure: auth.AuthFailure) -> RejectedError:
    return RejectedError(
        401, "auth", failure.detail, {"WWW-Authenticate": failure.www_authenticate}
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes, whatever
    Content-Length said (or when there was none: a chunked upload)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ingest.too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise RejectedError(400, "invalid", "the client went away before sending the body") from exc
    return b"".join(chunks)


def _add_ingest_route(
    app: FastAPI,
    store: Store,
    settings: ApiSettings,
    clock: Callable[[], float],
    metrics: ApiMetrics,
) -> None:
    handler = _Ingest(store, settings, clock, metrics)

    async def ingest_batch(request: Request) -> Response:
        return await handler(request)

    app.add_api_route(
        INGEST_PATH,
        ingest_batch,
        methods=["POST"],
        response_model=IngestResponse,
        summary="Ingest one batch from an agent, once per batch id",
        description=(
            "The body is a batch in the agent's wire format, gzip-compressed or not. A batch"
            " id stored before is acknowledged again with `stored: false`. An agent may only"
            " send its own host's batches."
        ),
        response_description="The batch is stored (now, or by an earlier attempt).",
        responses=_errors(
            {
                400: "Broken gzip, or the batch id header differs from the body's.",
                401: "No credential, or an unknown or revoked one.",
                403: "The batch is for another host than the credential's.",
                413: "The body is over the size limit, compressed or decompressed.",
                415: "Content-Encoding other than gzip or identity.",
                422: "The body is not a valid batch; the detail names each bad field.",
                429: "Too many ingests at once: retry after Retry-After seconds.",
                503: "The database cannot take the batch now: retry after Retry-After seconds.",
            }
        ),
        openapi_extra=_INGEST_DOC,
        tags=["agents"],
    )


def _add_health_routes(app: FastAPI, settings: ApiSettings, registry: CollectorRegistry) -> None:
    @app.get("/healthz", summary="Liveness: the process answers", tags=["operations"])
    def healthz() -> HealthStatus:
        return HealthStatus()

    @app.get(
        "/readyz",
        summary="Readiness: the database is reachable and its schema current",
        responses=_errors({503: "Not ready; the detail says why."}),
        tags=["operations"],
    )
    def readyz() -> HealthStatus:
        if settings.ready_check is not None:
            try:
                settings.ready_check()
            except Exception as exc:
                # Any failure of the check means "not ready"; its message is the reason.
                raise HTTPException(503, f"not ready: {exc}") from exc
        return HealthStatus()

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text."}},
        tags=["operations"],
    )
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
