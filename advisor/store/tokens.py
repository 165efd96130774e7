"""Secrets the store hands out: enrolment tokens, host credentials and admin API tokens;
how they are made, stored and revoked.

Each is a public prefix (``fst_``, ``fsc_``, ``fsa_``: which kind of secret it is) and random
bytes in URL-safe base64; only its SHA-256 is stored, so a copy of the database lets nobody
in. A fast hash is right: the secrets are 24 or 32 random bytes, not guessable passwords.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import sqlalchemy as sa


def new_secret(prefix: str, nbytes: int, rng: Callable[[int], bytes]) -> str:
    """``prefix`` and ``nbytes`` bytes of ``rng`` in unpadded URL-safe base64.

    >>> new_secret("fsa_", 3, lambda n: bytes(range(n)))
    'fsa_AAEC'
    """
    return prefix + base64.urlsafe_b64encode(rng(nbytes)).decode().rstrip("=")


def secret_sha256(secret: str) -> str:
    """The stored form of a secret: hex SHA-256 of its UTF-8 text.

    >>> secret_sha256("fsa_AAEC")[:12]
    '937c45b9beed'
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def revoke_once(
    conn: sa.Connection, table: sa.Table, match: sa.ColumnElement[bool], now: float
) -> bool:
    """Set ``revoked_at = now`` on the rows of ``table`` that ``match`` and are not revoked
    yet (a second revocation keeps the first time); False if no row matches."""
    changed = conn.execute(
        table.update().where(match, table.c.revoked_at.is_(None)).values(revoked_at=now)
    ).rowcount
    if changed:
        return True
    return (
        conn.execute(sa.select(sa.literal(1)).select_from(table).where(match)).first() is not None
    )
