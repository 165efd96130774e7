"""Who is calling: the bearer credential of an ingest request.

A host's credential comes from enrolment (``POST /api/v1/enrol``); the agent sends it as
``Authorization: Bearer <credential>``. Missing, malformed, unknown and revoked credentials
are all refused with 401 and a ``WWW-Authenticate`` challenge (RFC 6750), with a detail saying
which of those it was, so the operator knows whether to fix a config or re-enrol.
"""

from __future__ import annotations

from dataclasses import dataclass

# Longer than any credential the store issues: refused without asking the database.
MAX_CREDENTIAL_CHARS = 512

_RE_ENROL = "re-enrol the agent with `fleetsight-agent enroll URL TOKEN`"


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a request was not authenticated: the ``detail`` sentence and the challenge."""

    detail: str
    www_authenticate: str


def bearer_token(authorization: str | None) -> str | None:
    """The credential in an ``Authorization: Bearer <credential>`` header, else None."""
    if authorization is None:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential or len(credential) > MAX_CREDENTIAL_CHARS:
        return None
    return credential


def credential_from_header(authorization: str | None) -> str | AuthFailure:
    """The credential in the ``Authorization`` header, or why there is none (no database).

    Whether the credential is known is decided by the store, inside the ingest transaction
    (:meth:`advisor.store.Store.ingest_with_credential`); :data:`UNKNOWN_CREDENTIAL` is the
    answer when it is not.
    """
    credential = bearer_token(authorization)
    if credential is not None:
        return credential
    if authorization is None:
        return AuthFailure(
            "no credential: send 'Authorization: Bearer <credential>' with the credential"
            f" from enrolment ({_RE_ENROL} if it is lost)",
            'Bearer realm="fleetsight"',
        )
    return AuthFailure(
        "the Authorization header is not 'Bearer <credential>'",
        'Bearer realm="fleetsight", error="invalid_request"',
    )


UNKNOWN_CREDENTIAL = AuthFailure(
    f"the credential is unknown or its host was revoked: {_RE_ENROL}",
    'Bearer realm="fleetsight", error="invalid_token"',
)
"""Why a well-formed credential was refused."""
