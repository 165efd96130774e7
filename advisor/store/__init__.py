"""The advisor's store: what every other part of the advisor reads and writes.

:class:`Store` is the contract; ``advisor.store.sql.SqlStore`` implements it on SQLAlchemy 2
(SQLite for an office, PostgreSQL for a fleet), and one contract test suite runs against both.
Times are Unix seconds (float, UTC) throughout, as in the wire format; ``now`` is always passed
in, never read inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent.shared.wire import Batch


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An enrolment token as listed; the secret itself is shown once, at creation."""

    token_id: str
    department: str
    created_at: float
    expires_at: float
    revoked_at: float | None
    uses: int
    max_uses: int | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Enrolment:
    """The result of a successful enrolment; ``credential`` is the only copy of the secret."""

    host_id: str
    department: str
    credential: str


@dataclass(frozen=True, slots=True)
class HostRecord:
    host_id: str
    hostname: str
    department: str
    agent_version: str
    enrolled_at: float
    last_seen_at: float | None
    revoked_at: float | None
    clock_skew_seconds: float | None = None
    """The advisor's receive time less the host's send time of its newest stored batch that
    said when it was sent: negative when the host's clock is ahead (docs/wire-format.md)."""


@dataclass(frozen=True, slots=True)
class AuthenticatedHost:
    """Who a valid, unrevoked credential belongs to."""

    host_id: str
    department: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    """``stored`` is False when the batch id was stored before (a retry): nothing changed."""

    batch_id: str
    stored: bool


@dataclass(frozen=True, slots=True)
class VersionSpan:
    """One version of one package on one host, and when it was there.

    ``since`` is the ``collected_at`` of the first inventory that showed it; ``until`` that of
    the first inventory that showed another version or none (None while it is installed).
    """

    host_id: str
    source: str
    package: str
    app: str | None
    version: str
    since: float
    until: float | None
    arch: str | None = None  # multi-arch packages (libc6 amd64 and i386) have a span each


class Enrolments(Protocol):
    """Enrolment tokens, enrolment, and the enrolled hosts.

    Secrets (tokens, credentials) are generated here and stored only as hashes
    (:mod:`advisor.store.tokens`). Times are Unix seconds. Every method is one transaction.
    The contract of each method is in its docstring.
    """

    def create_token(
        self,
        *,
        department: str,
        expires_at: float,
        now: float,
        max_uses: int | None = None,
        note: str | None = None,
    ) -> tuple[str, TokenRecord]:
        """A new enrolment token: ``(secret, record)``; the secret is not stored. Raises
        ValueError for an empty ``department`` or a ``max_uses`` under 1."""
        ...

    def list_tokens(self) -> list[TokenRecord]:
        """Every token, revoked and expired ones too, oldest first (by creation, then id)."""
        ...

    def revoke_token(self, token_id: str, *, now: float) -> bool:
        """Revoke a token at ``now``; False if there is no such token. Revoking again is True
        and keeps the first revocation time."""
        ...

    def enrol(
        self,
        *,
        token: str,
        host_id: str,
        hostname: str,
        agent_version: str,
        now: float,
        current_credential: str | None = None,
    ) -> Enrolment:
        """Exchange a token for a new per-host credential; raises EnrolmentRefused.

        The department comes from the token, never from the agent. An existing host id is
        never taken over, moved to another department or un-revoked: enrolling it again
        needs a token of its department and ``current_credential`` matching its credential
        (the old credential then stops working), or an admin's :meth:`release_host` first.
        A refused enrolment leaves the token's uses as they were.
        """
        ...

    def release_host(self, host_id: str, *, now: float, department: str | None = None) -> bool:
        """An admin's action: the host's credential stops working and the next enrolment of
        its id with a token of its department (``department``, when given, moves it first)
        takes it over, lifting a revocation. False if the host is unknown; ValueError for an
        empty ``department``."""
        ...

    def authenticate(self, credential: str) -> AuthenticatedHost | None:
        """The host a credential belongs to; None if unknown or the host is revoked."""
        ...

    def active_credentials(self) -> dict[str, AuthenticatedHost]:
        """Every unrevoked host by the SHA-256 (hex) of its credential: what ingest loads to
        authenticate a fleet from memory."""
        ...

    def revoke_host(self, host_id: str, *, now: float) -> bool:
        """Revoke a host at ``now``: its credential stops working until it enrols again after
        an admin's :meth:`release_host`. False if the host is unknown; revoking again is True
        and keeps the first revocation time."""
        ...

    def list_hosts(self) -> list[HostRecord]:
        """Every enrolled host, revoked ones too, by hostname (then host id)."""
        ...


class Ingest(Protocol):
    """Batches from the agents, stored once per host and batch id, and what they say.

    Every method is one transaction. The contract of each method is in its docstring.
    """

    def ingest(
        self, host_id: str, batch: Batch, *, received_at: float, sent_at: float | None
    ) -> IngestResult:
        """Store a batch for ``host_id`` (vouched for by the caller) and everything in it in
        one transaction, once per batch id; raises LookupError for a host not enrolled.

        Updates the host's last-seen time (not on a retry) and, when the batch carries an
        inventory, its current packages and version history.
        """
        ...

    def ingest_with_credential(
        self, credential: str, batch: Batch, *, received_at: float, sent_at: float | None
    ) -> IngestResult:
        """:meth:`ingest` for the host the batch names, if ``credential`` is that host's.

        Batch ids are unique per host: another host's batch with the same id is another
        batch. The check is part of the ingest transaction. Raises
        advisor.errors.UnknownCredential (unknown credential or revoked host) or
        advisor.errors.WrongHost (the credential is another host's); and when the database
        refuses, advisor.errors.UnstorableBatch (it never will take this batch) or
        advisor.errors.StoreUnavailable (try again later). Nothing is stored then.
        """
        ...

    def version_history(self, host_id: str) -> list[VersionSpan]:
        """Every version span of ``host_id``'s packages (see :class:`VersionSpan`), by source,
        package and arch, then oldest first; empty for an unknown host."""
        ...


class Store(Enrolments, Ingest, Protocol):
    """What the agents' side of the API needs: enrolment and ingest, on one store."""

    def close(self) -> None: ...
