"""The advisor's ASGI app: enrolment, ingest, health and metrics, wired in one place.

========================  ===================================================================
route                     what it does
========================  ===================================================================
POST /api/v1/enrol        trade an enrolment token for a host credential (201); refusals are
                          401 unknown, 403 revoked (token or host), 410 expired, 409 used up
                          or host enrolled already / in another department, 400 malformed
POST /api/v1/ingest       store one batch of the agent's wire format, once per host and batch
                          id (200, ``stored`` false for a retry); advisor.api.ingest_route
GET /healthz              the process answers
GET /readyz               the advisor can serve (``ApiSettings.ready_check``), else 503
GET /metrics              Prometheus text (advisor.api.metrics)
/ui/...                   the web interface for people, when given (advisor.ui.app)
========================  ===================================================================

Every error answer is ``{"detail": "<one sentence>"}``: the agent shows it to the operator or
keeps it as a quarantine reason, so it says what was wrong and, where it can, what to do.
Bad input is always a 4xx, never a 500; FastAPI's own validation errors are rewritten to that
shape too. Every body but ingest's is read whole, bounded in size and time, before a route
runs (advisor.api.body_limits). The store blocks on the database, so its calls run in the
server's thread pool: the enrolment route is a plain ``def`` route; the ingest route
authenticates from the headers, then decodes, checks and stores in one worker thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field
from starlette.types import ASGIApp

from advisor import __version__
from advisor.api import ingest, openapi_doc
from advisor.api.body_limits import DEFAULT_MAX_BYTES, BodyLimits
from advisor.api.catalog import add_catalog_routes
from advisor.api.docs_ui import add_docs_routes
from advisor.api.findings import add_findings_routes
from advisor.api.ingest_route import IngestHandler
from advisor.api.metrics import ApiMetrics, process_registry
from advisor.api.recommendations import add_recommendations_routes
from advisor.api.settings import ApiSettings
from advisor.errors import EnrolmentRefused
from advisor.finding_costs import FindingCosts
from advisor.store import Store
from advisor.store.analysis_data import FleetFrames
from advisor.store.api_tokens import ApiTokens
from advisor.store.audit import AuditLog
from advisor.store.catalog import CatalogStore
from advisor.store.findings import Findings
from advisor.store.recommendations import Recommendations
from agent.shared.wire import (
    BATCH_ID_HEADER,
    ENROL_PATH,
    INGEST_PATH,
    SCHEMA,
    SENT_AT_HEADER,
    WIRE_VERSION,
)

log = logging.getLogger(__name__)

# A machine id, a configured name or a UUID: plain characters only, as it ends up in URLs,
# logs and file names.
HOST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]+$"

_ASK_ADMIN = "ask the advisor's admin for a new one (`fleetsight-advisor token create`)"
_RELEASE = "fleetsight-advisor host release"
_TOKEN_REFUSALS: Mapping[str, tuple[int, str]] = {
    "unknown": (
        401,
        "this advisor does not know the enrolment token: check it was copied whole, or"
        f" {_ASK_ADMIN}",
    ),
    "revoked": (403, f"the enrolment token was revoked: {_ASK_ADMIN}"),
    "expired": (410, f"the enrolment token has expired: {_ASK_ADMIN}"),
    "used_up": (409, f"the enrolment token has been used as often as it allows: {_ASK_ADMIN}"),
}
# Host refusals name the host (the caller chose its id) but never another department.
_HOST_REFUSALS: Mapping[str, tuple[int, str]] = {
    "host_enrolled": (
        409,
        "host {host} is enrolled already: enrol it again from the machine that holds its"
        " credential (the agent sends it), or ask the advisor's admin to release it"
        f" (`{_RELEASE} {{host}}`)",
    ),
    "host_revoked": (
        403,
        "host {host} was revoked: only the advisor's admin can let it enrol again"
        f" (`{_RELEASE} {{host}}`)",
    ),
    "other_department": (
        409,
        "host {host} is enrolled in another department than this token's: the advisor's"
        f" admin moves hosts between departments (`{_RELEASE} {{host}} --department ...`)",
    ),
}
ENROLMENT_REFUSALS = frozenset(_TOKEN_REFUSALS) | frozenset(_HOST_REFUSALS)
"""The refusal reasons the enrolment metric counts by name."""


def _refusal(reason: str, host_id: str) -> tuple[int, str]:
    if reason in _TOKEN_REFUSALS:
        return _TOKEN_REFUSALS[reason]
    if reason in _HOST_REFUSALS:
        status, template = _HOST_REFUSALS[reason]
        return status, template.format(host=host_id)
    return 403, "enrolment refused"


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
    current_credential: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description=(
            "The credential this host holds now, when it enrols again: the proof that lets"
            " an enrolment replace an existing host's credential."
        ),
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
    findings: Findings | None = None,
    catalog: CatalogStore | None = None,
    api_tokens: ApiTokens | None = None,
    frames: FleetFrames | None = None,
    recommendations: Recommendations | None = None,
    audit: AuditLog | None = None,
    window_days: int = 90,
    clock: Callable[[], float] = time.time,
    registry: CollectorRegistry | None = None,
    exposition: CollectorRegistry | None = None,
    ui: ASGIApp | None = None,
) -> FastAPI:
    """The advisor's API on ``store`` (enrolment and ingest).

    The endpoints for people are served when their store is given with ``api_tokens`` (the
    admin tokens they accept): the findings routes on ``findings``, the catalog routes on
    ``catalog``, the recommendations and budget routes on ``recommendations`` and ``audit``
    (advisor.api.recommendations). Findings are priced (advisor.finding_costs) with the launch
    rates of ``frames`` over ``window_days`` ([analysis] window_days), the cost settings of
    ``catalog`` and the hosts of ``store``. ``clock`` stamps enrolments, received batches
    and decisions on recommendations; ``registry`` receives the metrics (default: a new
    registry with the process metrics too) and is what /metrics serves, unless
    ``exposition`` is given (several workers: the sum of all their metrics). ``ui`` (the
    web interface, advisor.ui.app.create_ui) is mounted at /ui: it knows people by their
    session cookie, the API by their bearer tokens, and neither accepts the other's.
    """
    if registry is None:
        registry = process_registry()
    metrics = ApiMetrics(registry)
    app = _AdvisorApp(
        title="Fleetsight advisor",
        version=__version__,
        description='Agents enrol and send batches here. Errors are JSON `{"detail": "..."}`.',
        # FastAPI's pages load their scripts from a CDN: /docs is served locally instead.
        docs_url=None,
        redoc_url=None,
    )
    add_docs_routes(app)
    # Ingest reads its own body, against larger limits; every other body is small JSON.
    app.add_middleware(
        BodyLimits, exempt=frozenset({INGEST_PATH}), timeout=settings.body_timeout_seconds
    )
    _install_error_handlers(app, metrics)
    _add_enrol_route(app, store, clock, metrics)
    _add_ingest_route(app, store, settings, clock, metrics)
    if api_tokens is not None and catalog is not None:
        add_catalog_routes(app, catalog, api_tokens, clock, ErrorDetail)
    if api_tokens is not None and findings is not None:
        costs = FindingCosts(
            findings=findings,
            hosts=store,
            frames=frames,
            catalog=catalog,
            window_days=window_days,
        )
        add_findings_routes(app, findings, api_tokens, ErrorDetail, costs)
    if api_tokens is not None and recommendations is not None and audit is not None:
        add_recommendations_routes(
            app, recommendations, audit, store.list_hosts, api_tokens, ErrorDetail, clock
        )
    _add_health_routes(app, settings, registry if exposition is None else exposition)
    if ui is not None:
        app.mount("/ui", ui)
    return app


class _AdvisorApp(FastAPI):
    """FastAPI with an OpenAPI document that also describes what FastAPI cannot see
    (advisor.api.openapi_doc): the Batch schema with every rule ingest enforces on a value,
    which bearer each route wants and the challenge of its 401; FastAPI's default 422 answer
    is removed, since our handler answers validation errors 400.
    """

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is not None:
            return self.openapi_schema
        document = super().openapi()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        host_id = schemas["EnrolRequest"]["properties"]["host_id"]
        schemas.update(openapi_doc.batch_schemas(host_id))
        openapi_doc.describe_security(document, self.routes)
        openapi_doc.drop_default_validation_errors(document)
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
                403: "The enrolment token was revoked, or the host was.",
                409: (
                    "The enrolment token has been used as often as it allows; or the host is"
                    " enrolled already (send current_credential) or in another department."
                ),
                410: "The enrolment token has expired.",
                408: "The body did not arrive whole within the read deadline.",
                413: f"The body is over {DEFAULT_MAX_BYTES} bytes.",
            }
        ),
        tags=["agents"],
    )
    def enrol(request: EnrolRequest, response: Response) -> EnrolResponse:
        """An existing host id is enrolled again only with its current credential and a token
        of its department, or after an admin released it (docs/advisor.md)."""
        # The answer carries a credential: no cache along the way may keep it.
        response.headers["Cache-Control"] = "no-store"
        try:
            enrolment = store.enrol(
                token=request.token,
                host_id=request.host_id,
                hostname=request.hostname,
                agent_version=request.agent_version,
                now=clock(),
                current_credential=request.current_credential,
            )
        except EnrolmentRefused as refused:
            outcome = refused.reason if refused.reason in ENROLMENT_REFUSALS else "refused"
            status, detail = _refusal(refused.reason, request.host_id)
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


# Content-Encoding and X-Fleetsight-Batch-Id are described in words, not listed as parameters:
# each is right only together with the body (gzip bytes; the body's own batch id), which a
# parameter's schema cannot say, so a client filling them in from it would be refused.
_INGEST_DOC = {
    "requestBody": {
        "required": True,
        "description": (
            f"One {SCHEMA} document, version {WIRE_VERSION} (docs/wire-format.md). Agents send"
            " it gzip-compressed with `Content-Encoding: gzip`; without that header (or with"
            " `identity`) it is read as plain JSON, and any other coding is 415."
        ),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}},
    },
    "parameters": [
        {
            "name": SENT_AT_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "Unix seconds when this attempt was sent (clock skew estimate);"
            " a value that is not a usable time is ignored.",
        },
    ],
    "security": [{"HostCredential": []}],
}
_RETRY_AFTER = {
    "Retry-After": {
        "required": True,
        "description": "Seconds to wait before sending the batch again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _ingest_responses() -> dict[int | str, dict[str, Any]]:
    responses = _errors(
        {
            400: "Broken gzip, a Content-Length that is not a number, or the"
            f" {BATCH_ID_HEADER} header differs from the body's batch_id.",
            401: "No credential, or an unknown or revoked one.",
            403: "The batch is for another host than the credential's.",
            408: "The body did not arrive whole within the read deadline.",
            413: "The body is over the size limit, compressed or decompressed, or has more"
            " JSON arrays and objects than a batch within the limits can hold.",
            415: "Content-Encoding other than gzip or identity.",
            422: "The body is not a valid batch (this schema, or a rule its description"
            " states), or the database refuses its content; the detail names each bad field.",
            429: "Too many ingests at once, or from this host (in flight or per minute):"
            " retry after Retry-After seconds.",
            503: "The database cannot take the batch now: retry after Retry-After seconds.",
        }
    )
    for status in (429, 503):
        responses[status]["headers"] = _RETRY_AFTER
    return responses


def _add_ingest_route(
    app: FastAPI,
    store: Store,
    settings: ApiSettings,
    clock: Callable[[], float],
    metrics: ApiMetrics,
) -> None:
    handler = IngestHandler(store, settings, clock, metrics)

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
            f" send its own host's batches. A `{BATCH_ID_HEADER}` header, when sent, must be"
            " the body's batch_id."
        ),
        response_description="The batch is stored (now, or by an earlier attempt).",
        responses=_ingest_responses(),
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
