"""Who is calling: the bearer credential of an ingest request.

A host's credential comes from enrolment (``POST /api/v1/enrol``); the agent sends it as
``Authorization: Bearer <credential>``. Missing, malformed, unknown and revoked credentials
are all refused with 401 and a ``WWW-Authenticate`` challenge (RFC 6750), with a detail saying
which of those it was, so the operator knows whether to fix a config or re-enrol.
"""

from __future__ import annotations

import math
import string
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from advisor.store import AuthenticatedHost
from advisor.store.sql import CREDENTIAL_BYTES, CREDENTIAL_PREFIX
from advisor.store.tokens import secret_sha256

# Longer than any credential the store issues: refused without asking the database.
MAX_CREDENTIAL_CHARS = 512
# What the store issues: the prefix, then the random bytes in unpadded base64url.
CREDENTIAL_CHARS = len(CREDENTIAL_PREFIX) + math.ceil(CREDENTIAL_BYTES * 4 / 3)
_BASE64URL = frozenset(string.ascii_letters + string.digits + "-_")

_RE_ENROL = (
    "re-enrol the agent with `fleetsight-agent enroll URL -` (the token on stdin; a revoked"
    " host needs `fleetsight-advisor host release HOST_ID` by the advisor's admin first)"
)


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


def plausible_credential(credential: str) -> bool:
    """Whether ``credential`` has the shape of one the store issues (``fsc_`` and 43 base64url
    characters): anything else is refused without a database round trip."""
    return (
        len(credential) == CREDENTIAL_CHARS
        and credential.startswith(CREDENTIAL_PREFIX)
        and all(char in _BASE64URL for char in credential[len(CREDENTIAL_PREFIX) :])
    )


class KnownCredentials:
    """Credentials the store vouched for lately, so ingest can authenticate from the headers
    before it reads a body, without a database round trip per batch.

    Kept by the credential's SHA-256, the form the store keeps, so the whole fleet can be
    loaded at once (:meth:`remember_all`, from :meth:`advisor.store.Store.active_credentials`):
    after a restart, thousands of agents arriving together cost one query, not one each. An
    entry is trusted for ``ttl`` seconds of ``clock`` (monotonic); :meth:`remember` keeps at
    most ``capacity`` entries beyond a bulk load, least recently used going first. Trusting a
    revoked host's credential for up to ``ttl`` costs only the reading of its bodies: the
    ingest transaction checks the credential again and stores nothing for a revoked host. Not
    thread-safe: the event loop owns it.

    Example: ``KnownCredentials(ttl=300.0).get(credential)`` is the host, or None on a miss.
    """

    def __init__(
        self,
        ttl: float,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[str, tuple[AuthenticatedHost, float]] = OrderedDict()
        self._loaded_at: float | None = None
        self._bulk = 0  # entries of the last bulk load, kept beyond ``capacity``

    def get(self, credential: str) -> AuthenticatedHost | None:
        digest = secret_sha256(credential)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        host, expires = entry
        if self._clock() >= expires:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return host

    def remember(self, credential: str, host: AuthenticatedHost) -> None:
        digest = secret_sha256(credential)
        self._entries[digest] = (host, self._clock() + self._ttl)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._capacity + self._bulk:
            self._entries.popitem(last=False)

    def remember_all(self, by_digest: Mapping[str, AuthenticatedHost]) -> None:
        """Trust every ``sha256 -> host`` of a bulk load for ``ttl`` from now."""
        expires = self._clock() + self._ttl
        for digest, host in by_digest.items():
            self._entries[digest] = (host, expires)
            self._entries.move_to_end(digest)
        self._bulk = len(by_digest)
        self._loaded_at = self._clock()

    def bulk_load_due(self) -> bool:
        """Whether the last bulk load is ``ttl`` old or more (or there was none); a True
        answer books the next one, so concurrent misses do not all load the fleet."""
        now = self._clock()
        if self._loaded_at is not None and now - self._loaded_at < self._ttl:
            return False
        self._loaded_at = now
        return True

    def forget(self, credential: str) -> None:
        """Drop a credential the store refused after all (revoked since it was remembered)."""
        self._entries.pop(secret_sha256(credential), None)

    def __len__(self) -> int:
        return len(self._entries)
