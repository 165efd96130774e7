"""Enrolment: trade a one-time token from the advisor's admin for this host's credential.

The protocol (the advisor implements the other side)::

    POST {advisor_url}/api/v1/enrol            (agent.shared.wire.ENROL_PATH)
    Content-Type: application/json
    {"token": "<enrolment token>", "host_id": "<machine id>", "hostname": "fin-ws-12",
     "agent_version": "0.1.0", "current_credential": "<credential held now>"}

    200 or 201, application/json
    {"host_id": "<id the advisor files this host under>", "credential": "<bearer secret>",
     "department": "finance" | null}

``current_credential`` (at most 512 characters) is sent only when the state directory holds a
credential for this host id from this advisor (the same host name, and never over http:// when
it was issued over https://): the advisor never lets an enrolment take over an existing host,
and this is how a re-enrolment proves it comes from the machine that holds the host's
credential. Without it, re-enrolling a known host needs the admin's
``fleetsight-advisor host release HOST_ID`` first.

The agent then sends every batch with ``Authorization: Bearer <credential>``, and the batch's
``host.host_id`` set to the ``host_id`` of the answer (the advisor may keep the one it was given
or assign its own). Refusals carry JSON ``{"detail": "<one sentence>"}``; the agent shows the
detail to the operator. Their statuses:

=======  ====================================================================
400      malformed request (missing field, bad host id)
401      the token is unknown
403      the token was revoked, or the host was revoked (the admin must release it)
404      no enrolment endpoint at this URL (wrong URL, advisor too old)
409      the token was used up, or the host is already enrolled and the request
         did not prove its current credential (re-enrol from the machine that
         holds it, or have the admin run ``fleetsight-advisor host release``)
410      the token has expired
=======  ====================================================================

Anything else (5xx, 429) means "try again later". The token is never logged or stored; the
credential is stored only in ``STATE_DIR/credential`` (mode 0600, see agent.credentials).

Under systemd the agent runs as a ``DynamicUser=``, a user that exists only while the unit
runs, so no operator can enrol *as* it. Root enrols instead (``sudo fleetsight-agent enroll``)
and the files written are handed to the owner of the state directory
(:func:`hand_to_state_dir_owner`): the service's user when it has run before; root when the
directory is new, and systemd gives the whole directory to the service's user when it starts.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from agent import __version__
from agent.credentials import (
    Enrolment,
    load_credential,
    load_enrolment,
    store_credential,
    store_enrolment,
)
from agent.errors import EnrolmentError, TransportError
from agent.shared.config_values import is_loopback
from agent.shared.wire import ENROL_PATH
from agent.transport import HttpClient, Response

__all__ = ["Enrolment", "cleartext_warning", "enrol", "load_credential", "load_enrolment"]

log = logging.getLogger(__name__)

CREDENTIAL_FILE = "credential"
ENROLMENT_FILE = "enrolment.json"

_REFUSALS = {
    400: "the advisor rejected the enrolment request",
    401: "the enrolment token is unknown",
    403: "the enrolment token was revoked, or this host was revoked and the advisor's admin"
    " must release it",
    404: "there is no enrolment endpoint at this URL (wrong URL, or an advisor too old)",
    405: "there is no enrolment endpoint at this URL (wrong URL, or an advisor too old)",
    409: "the enrolment token was used up, or this host is already enrolled: re-enrol from the"
    " machine that holds its credential, or have the admin release it",
    410: "the enrolment token has expired",
}
_DETAIL_CHARS = 300
# The advisor takes a current_credential of at most this many characters; a longer one is
# none it issued.
MAX_CURRENT_CREDENTIAL = 512


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

    The credential already in ``state_dir`` for this host and advisor goes along as proof
    (see the module docstring). Raises :class:`EnrolmentError` with a sentence for the
    operator when the advisor refuses (from its ``detail``), answers nonsense, or cannot be
    reached. Nothing is written unless enrolment succeeded, so a failed attempt leaves an
    earlier enrolment working.
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
    current = _current_credential(state_dir, base, host_id)
    if current is not None:
        payload["current_credential"] = current
    try:
        response = client.post(endpoint, json=payload)
    except TransportError as exc:
        raise EnrolmentError(f"cannot reach the advisor at {endpoint}: {exc}") from exc
    status = response.status
    if status in (200, 201):
        enrolment, secret = _parse_success(response, base, endpoint, clock)
        try:
            store_credential(state_dir / CREDENTIAL_FILE, secret)
            store_enrolment(state_dir / ENROLMENT_FILE, enrolment)
            hand_to_state_dir_owner(state_dir, (CREDENTIAL_FILE, ENROLMENT_FILE))
        except OSError as exc:
            raise EnrolmentError(
                f"enrolled, but cannot write the credential in {state_dir}:"
                f" {exc.strerror or exc}; enrol as root (sudo), who can write the agent's"
                " state directory"
            ) from exc
        log.info("enrolled with %s as host %s", base, enrolment.host_id)
        return enrolment
    detail = _detail(response)
    if status in _REFUSALS:
        reason = _REFUSALS[status]
        said = f": {detail}" if detail else ""
        if status == 409 and current is None:
            # Often the operator is on the right machine with the wrong --state-dir or user.
            said += f" (no credential of host {host_id} from this advisor in {state_dir})"
        raise EnrolmentError(f"enrolment refused by {endpoint} (HTTP {status}, {reason}){said}")
    said = f": {detail}" if detail else ""
    raise EnrolmentError(f"the advisor at {endpoint} answered HTTP {status}{said}; try again later")


def hand_to_state_dir_owner(
    state_dir: Path,
    names: tuple[str, ...],
    *,
    euid: Callable[[], int] = os.geteuid,
    chown: Callable[[Path, int, int], None] = os.chown,
) -> None:
    """When root wrote ``names`` into ``state_dir``, give them to the directory's owner.

    systemd hands a state directory to the service's dynamic user only when the directory
    itself belongs to someone else; files root adds to a directory the service already owns
    would stay root's, and the agent could not read its own credential.
    """
    if euid() != 0:
        return
    owner = state_dir.stat()
    for name in names:
        chown(state_dir / name, owner.st_uid, owner.st_gid)


def cleartext_warning(url: str) -> str | None:
    """One sentence for the operator when enrolling at ``url`` sends secrets in clear text:
    plain http:// to a host other than this one (loopback: 127.0.0.0/8, ::1, localhost).

    >>> cleartext_warning("http://127.0.0.1:8080") is None
    True
    >>> cleartext_warning("http://advisor.corp:8080").startswith("http://advisor.corp:8080 is")
    True
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or is_loopback(parts.hostname or ""):
        return None
    return (
        f"{url} is plain http:// to another machine: the enrolment token and this host's"
        " credential would cross the network in clear text; use https:// if the advisor"
        " offers it"
    )


def _current_credential(state_dir: Path, base: str, host_id: str) -> str | None:
    """The credential this machine holds for ``host_id`` from the advisor at ``base``, if any."""
    try:
        enrolment = load_enrolment(state_dir / ENROLMENT_FILE)
    except EnrolmentError as exc:
        # Enrolling again is what rewrites a damaged record; the advisor decides without proof.
        log.warning("%s; enrolling without the current credential", exc)
        return None
    if enrolment is None or enrolment.host_id != host_id:
        return None
    if not _same_advisor(enrolment.advisor_url, base):
        return None
    secret = load_credential(state_dir / CREDENTIAL_FILE)
    if secret is None or len(secret) > MAX_CURRENT_CREDENTIAL:
        return None
    return secret


def _same_advisor(enrolled_at: str, url: str) -> bool:
    """Whether ``url`` names the advisor that issued the credential: the same host name (the
    port may change, e.g. when moving to https), and not plain http where https was used.
    The credential is shown to no other server."""
    old, new = urlsplit(enrolled_at), urlsplit(url)
    if old.hostname is None or old.hostname != new.hostname:
        return False
    return not (old.scheme == "https" and new.scheme != "https")


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
