"""Admin API tokens: who may read the fleet's inventory, findings and recommendations through
the API, and decide on recommendations (each decision names its token in the audit log).

A token is ``fsa_`` and 32 random bytes (URL-safe base64); only its SHA-256 is stored (as for
enrolment tokens, see :mod:`advisor.store.tokens`). Tokens do not expire; they are revoked.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from advisor.store.models import ApiToken, table_of
from advisor.store.tokens import new_secret, revoke_once, secret_sha256

API_TOKEN_PREFIX = "fsa_"  # noqa: S105 - a public prefix that marks the secret, not a secret
API_TOKEN_BYTES = 32
TOKEN_ID_BYTES = 8
_TOKENS = table_of(ApiToken)


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    """An admin API token as listed; the secret is shown once, at creation."""

    token_id: str
    created_at: float
    revoked_at: float | None
    note: str | None


class ApiTokens(Protocol):
    """Admin API tokens, for the endpoints for people (catalog, findings, recommendations).

    Contract: times are Unix seconds. :meth:`create` returns ``(secret, record)``; the secret
    starts ``fsa_``, is shown only then (only its hash is stored) and :meth:`check` accepts
    it (:meth:`identify` names its token) until the token is revoked; tokens do not expire.
    Every method is one transaction and none raises for an unknown token: :meth:`revoke` is
    False, :meth:`check` False, :meth:`identify` None.
    """

    def create(self, *, now: float, note: str | None = None) -> tuple[str, ApiTokenRecord]:
        """A new token created at ``now``: ``(secret, record)``."""
        ...

    def list(self) -> list[ApiTokenRecord]:
        """Every token, revoked ones too, oldest first (by creation time, then id), never
        with its secret."""
        ...

    def revoke(self, token_id: str, *, now: float) -> bool:
        """Revoke ``token_id`` at ``now``; False if there is no such token. Revoking again
        is True and keeps the first revocation time."""
        ...

    def check(self, secret: str) -> bool:
        """Whether ``secret`` is a known, unrevoked admin token."""
        ...

    def identify(self, secret: str) -> ApiTokenRecord | None:
        """The known, unrevoked admin token whose secret is ``secret`` (never with its
        secret), else None: who is calling, for the audit log."""
        ...


class SqlApiTokens:
    """:class:`ApiTokens` on the ``api_tokens`` table of ``engine``; ``rng`` makes the random
    bytes (injected so tests are reproducible)."""

    def __init__(
        self, engine: sa.Engine, *, rng: Callable[[int], bytes] = secrets.token_bytes
    ) -> None:
        self._engine = engine
        self._rng = rng

    def create(self, *, now: float, note: str | None = None) -> tuple[str, ApiTokenRecord]:
        secret = new_secret(API_TOKEN_PREFIX, API_TOKEN_BYTES, self._rng)
        record = ApiTokenRecord(self._rng(TOKEN_ID_BYTES).hex(), now, None, note)
        with self._engine.begin() as conn:
            conn.execute(
                _TOKENS.insert().values(
                    token_id=record.token_id,
                    secret_sha256=secret_sha256(secret),
                    created_at=now,
                    revoked_at=None,
                    note=note,
                )
            )
        return secret, record

    def list(self) -> list[ApiTokenRecord]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(_TOKENS).order_by(_TOKENS.c.created_at, _TOKENS.c.token_id)
            )
            return [ApiTokenRecord(r.token_id, r.created_at, r.revoked_at, r.note) for r in rows]

    def revoke(self, token_id: str, *, now: float) -> bool:
        with self._engine.begin() as conn:
            return revoke_once(conn, _TOKENS, _TOKENS.c.token_id == token_id, now)

    def check(self, secret: str) -> bool:
        return self.identify(secret) is not None

    def identify(self, secret: str) -> ApiTokenRecord | None:
        with self._engine.connect() as conn:
            found = conn.execute(
                sa.select(_TOKENS).where(
                    _TOKENS.c.secret_sha256 == secret_sha256(secret),
                    _TOKENS.c.revoked_at.is_(None),
                )
            ).first()
        if found is None:
            return None
        return ApiTokenRecord(found.token_id, found.created_at, found.revoked_at, found.note)
