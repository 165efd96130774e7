"""Enrolment: trade a one-time token from the advisor's admin for this host's credential.

The protocol (the advisor implements the other side)::

    POST {advisor_url}/api/v1/enrol            (agent.wire.ENROL_PATH)
    Content-Type: application/json
    {"token": "<enrolment token>", "host_id": "<machine id>", "hostname": "fin-ws-12",
     "agent_version": "0.1.0"}

    200 or 201, application/json
    {"host_id": "<id the advisor files this host under>", "credential": "<bearer secret>",
     "department": "finance" | null}

The agent then sends every batch with ``Authorization: Bearer <credential>``, and the batch's
``host.host_id`` set to the ``host_id`` of the answer (the advisor may keep the one it was given
or assign its own). Refusals carry JSON ``{"detail": "<one sentence>"}``; the agent shows the
detail to the operator. Their statuses:

=======  ====================================================================
400      malformed request (missing field, bad host id)
401      the token is unknown
403      the token was revoked, or this host may not enrol
404      no enrolment endpoint at this URL (wrong URL, advisor too old)
409      the token was already used, or the host is enrolled under another id
410      the token has expired
=======  ====================================================================

Anything else (5xx, 429) means "try again later". The token is never logged or stored; the
credential is stored only in ``STATE_DIR/credential`` (mode 0600, see agent.credentials).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from agent import __version__
from agent.credentials import (
    Enrolment,
    load_credential,
    load_enrolment,
    store_credential,
    store_enrolment,
)
from agent.errors import EnrolmentError, TransportError
from agent.transport import HttpClient, Response
from agent.wire import ENROL_PATH

__all__ = ["Enrolment", "enrol", "load_credential", "load_enrolment"]

log = logging.getLogger(__name__)

CREDENTIAL_FILE = "credential"
ENROLMENT_FILE = "enrolment.json"

_REFUSALS = {
    400: "the advisor rejected the enrolment request",
    401: "the enrolment token is unknown",
    403: "the enrolment token was revoked or this host may not enrol",
    404: "there is no enrolment endpoint at this URL (wrong URL, or an advisor too old)",
    405: "there is no enrolment endpoint at this URL (wrong URL, or an advisor too old)",
    409: "the enrolment token was already used",
    410: "the enrolment token has expired",
}
_DETAIL_CHARS = 300


def enrol(
    url: str,
    token: str,
    *,
    state_dir: Path,
    host_id: str,
    hostname: str,
    client: HttpClient,
    clock: Callable[[], float] = time.time,
) -> Enrolment:
    """Enrol with the advisor at ``url`` and store the credential and the enrolment record.

    Raises :class:`EnrolmentError` with a sentence for the operator when the advisor refuses
    (from its ``detail``), answers nonsense, or cannot be reached. Nothing is written unless
    enrolment succeeded, so a failed attempt leaves an earlier enrolment working.
    """
    base = url.rstrip("/")
    endpoint = base + ENROL_PATH
    token = token.strip()
    if not token:
        raise EnrolmentError("the enrolment token is empty")
    payload = {
        "token": token,
        "host_id": host_id,
        "hostname": hostname,
        "agent_version": __version__,
    }
    try:
        response = client.post(endpoint, json=payload)
    except TransportError as exc:
        raise EnrolmentError(f"cannot reach the advisor at {endpoint}: {exc}") from exc
    status = response.status
    if status in (200, 201):
        enrolment, secret = _parse_success(response, base, endpoint, clock)
        store_credential(state_dir / CREDENTIAL_FILE, secret)
        store_enrolment(state_dir / ENROLMENT_FILE, enrolment)
        log.info("enrolled with %s as host %s", base, enrolment.host_id)
        return enrolment
    detail = _detail(response)
    if status in _REFUSALS:
        reason = _REFUSALS[status]
        said = f": {detail}" if detail else ""
        raise EnrolmentError(f"enrolment refused by {endpoint} (HTTP {status}, {reason}){said}")
    said = f": {detail}" if detail else ""
    raise EnrolmentError(f"the advisor at {endpoint} answered HTTP {status}{said}; try again later")


def _parse_success(
    response: Response, base: str, endpoint: str, clock: Callable[[], float]
) -> tuple[Enrolment, str]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EnrolmentError(f"the advisor at {endpoint} answered with something not JSON") from exc
    if not isinstance(data, dict):
        raise EnrolmentError(f"the advisor at {endpoint} answered with unexpected JSON")
    secret = data.get("credential")
    host_id = data.get("host_id")
    department = data.get("department")
    if not isinstance(secret, str) or not secret.strip() or any(c.isspace() for c in secret):
        raise EnrolmentError(f"the advisor at {endpoint} sent no usable credential")
    if not isinstance(host_id, str) or not host_id:
        raise EnrolmentError(f"the advisor at {endpoint} sent no host_id")
    if department is not None and not isinstance(department, str):
        raise EnrolmentError(f"the advisor at {endpoint} sent a department that is not text")
    enrolment = Enrolment(
        advisor_url=base, host_id=host_id, department=department, enrolled_at=clock()
    )
    return enrolment, secret


def _detail(response: Response) -> str:
    """The advisor's one-sentence reason, from JSON ``detail`` (FastAPI/Starlette style)."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text.strip()[:_DETAIL_CHARS]
    if isinstance(data, dict):
        detail = data.get("detail")
        if isinstance(detail, str):
            return detail[:_DETAIL_CHARS]
        if detail is not None:
            return json.dumps(detail)[:_DETAIL_CHARS]
    return ""
