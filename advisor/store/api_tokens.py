"""Admin API tokens: who may read the fleet's inventory through the catalog endpoints.

A token is ``fsa_`` and 32 random bytes (URL-safe base64); only its SHA-256 is stored (as for
enrolment tokens: random secrets need no slow hash). Tokens do not expire; they are revoked.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from advisor.store.models import ApiToken
from advisor.store.sql import secret_sha256

API_TOKEN_PREFIX = "fsa_"  # noqa: S105 - a public prefix that marks the secret, not a secret
API_TOKEN_BYTES = 32
_TOKENS: sa.Table = ApiToken.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    """An admin API token as listed; the secret is shown once, at creation."""

    token_id: str
    created_at: float
    revoked_at: float | None
    note: str | None


def create_api_token(
    engine: sa.Engine,
    *,
    now: float,
    note: str | None = None,
    rng: Callable[[int], bytes] = secrets.token_bytes,
) -> tuple[str, ApiTokenRecord]:
    """A new admin token: ``(secret, record)``; the secret is not stored."""
    secret = API_TOKEN_PREFIX + base64.urlsafe_b64encode(rng(API_TOKEN_BYTES)).decode().rstrip("=")
    record = ApiTokenRecord(rng(8).hex(), now, None, note)
    with engine.begin() as conn:
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


def list_api_tokens(engine: sa.Engine) -> list[ApiTokenRecord]:
    """Every admin token, oldest first (never their secrets)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_TOKENS).order_by(_TOKENS.c.created_at, _TOKENS.c.token_id))
        return [ApiTokenRecord(r.token_id, r.created_at, r.revoked_at, r.note) for r in rows]


def revoke_api_token(engine: sa.Engine, token_id: str, *, now: float) -> bool:
    """Revoke ``token_id``; False if there is no such token. Revoking twice keeps the first time."""
    with engine.begin() as conn:
        found = conn.execute(
            sa.select(_TOKENS.c.revoked_at).where(_TOKENS.c.token_id == token_id)
        ).one_or_none()
        if found is None:
            return False
        if found.revoked_at is None:
            conn.execute(
                _TOKENS.update().where(_TOKENS.c.token_id == token_id).values(revoked_at=now)
            )
        return True


def check_api_token(engine: sa.Engine, secret: str) -> bool:
    """Whether ``secret`` is a known, unrevoked admin token."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(_TOKENS.c.token_id).where(
                _TOKENS.c.secret_sha256 == secret_sha256(secret), _TOKENS.c.revoked_at.is_(None)
            )
        ).first()
    return found is not None


class ApiTokens(Protocol):
    """Admin API tokens, for the read endpoints for people (catalog, findings).

    Contract: :meth:`create` returns ``(secret, record)``; the secret starts ``fsa_``, is
    shown only then and :meth:`check` accepts it until the token is revoked. :meth:`revoke`
    is False for an unknown token id and keeps the first revocation time. :meth:`list` is
    every token, revoked ones too, oldest first, never with its secret.
    """

    def create(self, *, now: float, note: str | None = None) -> tuple[str, ApiTokenRecord]: ...

    def list(self) -> list[ApiTokenRecord]: ...

    def revoke(self, token_id: str, *, now: float) -> bool: ...

    def check(self, secret: str) -> bool:
        """Whether ``secret`` is a known, unrevoked admin token."""
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
        return create_api_token(self._engine, now=now, note=note, rng=self._rng)

    def list(self) -> list[ApiTokenRecord]:
        return list_api_tokens(self._engine)

    def revoke(self, token_id: str, *, now: float) -> bool:
        return revoke_api_token(self._engine, token_id, now=now)

    def check(self, secret: str) -> bool:
        return check_api_token(self._engine, secret)
