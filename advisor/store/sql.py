"""The :class:`~advisor.store.Store` contract on SQLAlchemy 2 Core: SQLite or PostgreSQL.

Every public method is one transaction. On SQLite the methods that write start it with
``BEGIN IMMEDIATE`` (see :data:`advisor.store.engine.SQLITE_BEGIN_OPTION`); on PostgreSQL rows
read before a dependent write are locked with ``SELECT ... FOR UPDATE``, so concurrent advisor
processes sharing one database see a consistent store.

Version history rule: an inventory is applied (current packages, upgradable list, hardware and
version spans) only when its ``collected_at`` is later than that of the newest inventory already
applied for the host. An older or equally old one, such as a batch spooled during an outage
and delivered after a newer one, changes nothing: its view of the machine is superseded, and
applying it would move history backwards. The history therefore has the resolution of the
inventories that arrived in order: a version change is dated by the first newer inventory
applied after it.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from advisor.errors import (
    EnrolmentRefused,
    StoreUnavailable,
    UnknownCredential,
    UnstorableBatch,
    WrongHost,
)
from advisor.store import (
    AuthenticatedHost,
    Enrolment,
    HostRecord,
    IngestResult,
    TokenRecord,
    VersionSpan,
    failures,
    pg_ingest,
)
from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.models import (
    BATCHES,
    CURRENT_PACKAGES,
    HOSTS,
    LAUNCHES,
    SPANS,
    SUMMARIES,
    UPGRADABLE,
    EnrolmentToken,
    LaunchCountRow,
    table_of,
)
from advisor.store.rows import canonical_labels, launch_count_rows, launch_rows, summary_rows
from advisor.store.tokens import new_secret, revoke_once, secret_sha256
from agent.shared.wire import Batch, Inventory

# canonical_labels (advisor.store.rows) and secret_sha256 (advisor.store.tokens) are also
# named here for the importers that still take them from this module (advisor.api.auth).
__all__ = ["SqlStore", "canonical_labels"]

TOKEN_PREFIX = "fst_"  # noqa: S105 - a public prefix that marks the secret, not a secret
CREDENTIAL_PREFIX = "fsc_"
TOKEN_BYTES = 24
CREDENTIAL_BYTES = 32
TOKEN_ID_BYTES = 8


TOKENS = table_of(EnrolmentToken)
LAUNCH_COUNTS = table_of(LaunchCountRow)

_PackageKey = tuple[str, str, str]
"""(source, package, arch) with arch '' when the agent sent none."""


class SqlStore:
    """The store on a SQLAlchemy engine made by :func:`advisor.store.engine.make_engine`.

    The store owns the engine: :meth:`close` disposes of it. ``rng`` makes the random bytes of
    token ids, tokens and credentials (injected so tests are reproducible).
    """

    def __init__(
        self, engine: sa.Engine, *, rng: Callable[[int], bytes] = secrets.token_bytes
    ) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._rng = rng
        self._dialect = engine.dialect.name
        # Ingest is the hot path: its statements are built once, not per batch.
        self._claim_batch = (
            self._insert(BATCHES)
            .on_conflict_do_nothing(index_elements=[BATCHES.c.host_id, BATCHES.c.batch_id])
            .returning(BATCHES.c.batch_id)
        )
        count_insert = self._insert(LAUNCH_COUNTS)
        self._add_launch_count = count_insert.on_conflict_do_update(
            index_elements=[
                LAUNCH_COUNTS.c.host_id,
                LAUNCH_COUNTS.c.app,
                LAUNCH_COUNTS.c.day,
                LAUNCH_COUNTS.c.method,
            ],
            set_={"count": LAUNCH_COUNTS.c.count + count_insert.excluded["count"]},
        )
        seen: sa.BindParameter[float] = sa.bindparam("new_seen", type_=sa.Double())
        credential = sa.bindparam("k_credential", type_=sa.String())
        self._find_host_statement = sa.select(HOSTS.c.host_id).where(
            HOSTS.c.host_id == sa.bindparam("k_host"),
            sa.or_(
                credential.is_(None),
                sa.and_(HOSTS.c.credential_sha256 == credential, HOSTS.c.revoked_at.is_(None)),
            ),
        )
        self._touch_host_statement = (
            HOSTS.update()
            .where(HOSTS.c.host_id == sa.bindparam("k_host"))
            .values(
                hostname=sa.bindparam("new_hostname"),
                agent_version=sa.bindparam("new_agent_version"),
                # Concurrent batches may commit in any order: last seen never moves back.
                last_seen_at=sa.case(
                    (HOSTS.c.last_seen_at > seen, HOSTS.c.last_seen_at), else_=seen
                ),
                # Without a Sent-At header the previous estimate stands.
                clock_skew_seconds=sa.func.coalesce(
                    sa.bindparam("new_skew", type_=sa.Double()), HOSTS.c.clock_skew_seconds
                ),
            )
        )

    @property
    def engine(self) -> sa.Engine:
        """The engine the store runs on (for readiness checks and migrations)."""
        return self._engine

    # -- enrolment tokens -------------------------------------------------------------------

    def create_token(
        self,
        *,
        department: str,
        expires_at: float,
        now: float,
        max_uses: int | None = None,
        note: str | None = None,
    ) -> tuple[str, TokenRecord]:
        """A new enrolment token: ``(secret, record)``; only the secret's hash is stored."""
        if max_uses is not None and max_uses < 1:
            raise ValueError(f"max_uses must be at least 1, not {max_uses}")
        if not department:
            raise ValueError("an enrolment token needs a department")
        secret = self._secret(TOKEN_PREFIX, TOKEN_BYTES)
        record = TokenRecord(
            token_id=self._rng(TOKEN_ID_BYTES).hex(),
            department=department,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
            uses=0,
            max_uses=max_uses,
            note=note,
        )
        with self._writer.begin() as conn:
            conn.execute(
                TOKENS.insert().values(
                    secret_sha256=secret_sha256(secret), **dataclasses.asdict(record)
                )
            )
        return secret, record

    def list_tokens(self) -> list[TokenRecord]:
        """Every token, oldest first (revoked and expired ones included)."""
        columns = [TOKENS.c[f.name] for f in dataclasses.fields(TokenRecord)]
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(*columns).order_by(TOKENS.c.created_at, TOKENS.c.token_id)
            )
            return [TokenRecord(**row._mapping) for row in rows]

    def revoke_token(self, token_id: str, *, now: float) -> bool:
        """Revoke a token (a second revocation keeps the first time); False if unknown."""
        with self._writer.begin() as conn:
            return revoke_once(conn, TOKENS, TOKENS.c.token_id == token_id, now)

    # -- hosts ------------------------------------------------------------------------------

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
        """Exchange a token for a new credential; raises :class:`EnrolmentRefused`.

        A new host id is enrolled in the token's department. An existing one is never taken
        over, moved or un-revoked: it is enrolled again (a new credential replacing the old)
        only with a token of its own department and ``current_credential`` (the agent proving
        it is the machine that enrolled), or after an admin released it
        (:meth:`release_host`). Refusals use no token (its uses stay as they were).
        """
        with self._writer.begin() as conn:
            row = conn.execute(
                sa.select(TOKENS)
                .where(TOKENS.c.secret_sha256 == secret_sha256(token))
                .with_for_update()
            ).one_or_none()
            row = _usable_token(row, now)
            existing = conn.execute(
                sa.select(
                    HOSTS.c.department,
                    HOSTS.c.credential_sha256,
                    HOSTS.c.revoked_at,
                    HOSTS.c.released_at,
                )
                .where(HOSTS.c.host_id == host_id)
                .with_for_update()
            ).one_or_none()
            if existing is not None:
                _may_enrol_again(existing, host_id, row.department, current_credential)
            conn.execute(
                TOKENS.update()
                .where(TOKENS.c.token_id == row.token_id)
                .values(uses=TOKENS.c.uses + 1)
            )
            credential = self._secret(CREDENTIAL_PREFIX, CREDENTIAL_BYTES)
            if existing is None:
                conn.execute(
                    HOSTS.insert().values(
                        host_id=host_id,
                        hostname=hostname,
                        department=row.department,
                        credential_sha256=secret_sha256(credential),
                        enrolled_at=now,
                        revoked_at=None,
                        last_seen_at=None,
                        agent_version=agent_version,
                    )
                )
            else:
                conn.execute(
                    HOSTS.update()
                    .where(HOSTS.c.host_id == host_id)
                    .values(
                        hostname=hostname,
                        credential_sha256=secret_sha256(credential),
                        enrolled_at=now,
                        revoked_at=None,
                        released_at=None,
                        agent_version=agent_version,
                    )
                )
        return Enrolment(host_id=host_id, department=row.department, credential=credential)

    def release_host(self, host_id: str, *, now: float, department: str | None = None) -> bool:
        """Let the next enrolment of ``host_id`` with a token of its department take the host
        over without its credential (a reinstalled machine, a lost state directory), and
        lift a revocation then. The current credential stops working at once. ``department``
        moves the host first. False if there is no such host.
        """
        values: dict[str, Any] = {
            "released_at": now,
            # Nobody knows a preimage of this: the old credential is refused from now on.
            "credential_sha256": secret_sha256(self._secret("released_", CREDENTIAL_BYTES)),
        }
        if department is not None:
            if not department:
                raise ValueError("a host's department cannot be empty")
            values["department"] = department
        with self._writer.begin() as conn:
            changed = conn.execute(
                HOSTS.update().where(HOSTS.c.host_id == host_id).values(**values)
            ).rowcount
        return bool(changed)

    def authenticate(self, credential: str) -> AuthenticatedHost | None:
        """The unrevoked host a credential belongs to, or None."""
        if not credential.startswith(CREDENTIAL_PREFIX):
            return None
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(HOSTS.c.host_id, HOSTS.c.department).where(
                    HOSTS.c.credential_sha256 == secret_sha256(credential),
                    HOSTS.c.revoked_at.is_(None),
                )
            ).one_or_none()
        if row is None:
            return None
        return AuthenticatedHost(host_id=row.host_id, department=row.department)

    def active_credentials(self) -> dict[str, AuthenticatedHost]:
        """Every unrevoked host by the SHA-256 of its credential."""
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(HOSTS.c.credential_sha256, HOSTS.c.host_id, HOSTS.c.department).where(
                    HOSTS.c.revoked_at.is_(None)
                )
            )
            return {
                row.credential_sha256: AuthenticatedHost(row.host_id, row.department)
                for row in rows
            }

    def revoke_host(self, host_id: str, *, now: float) -> bool:
        """Revoke a host's credential (until it enrols again); False if the host is unknown."""
        with self._writer.begin() as conn:
            return revoke_once(conn, HOSTS, HOSTS.c.host_id == host_id, now)

    def list_hosts(self) -> list[HostRecord]:
        """Every enrolled host (revoked ones included), by hostname."""
        columns = [HOSTS.c[f.name] for f in dataclasses.fields(HostRecord)]
        with self._engine.begin() as conn:
            rows = conn.execute(sa.select(*columns).order_by(HOSTS.c.hostname, HOSTS.c.host_id))
            return [HostRecord(**row._mapping) for row in rows]

    # -- ingest -----------------------------------------------------------------------------

    def ingest(
        self, host_id: str, batch: Batch, *, received_at: float, sent_at: float | None
    ) -> IngestResult:
        """Store a batch for ``host_id`` once per batch id, all of it in one transaction.

        The caller vouches for the host (tests, the simulator writing through the store);
        the API uses :meth:`ingest_with_credential`. Raises LookupError for a host that is not
        enrolled.
        """
        result = self._ingest(_Arrival(host_id, batch, None, received_at, sent_at))
        if result is None:
            raise LookupError(f"host {host_id!r} is not enrolled")
        return result

    def ingest_with_credential(
        self, credential: str, batch: Batch, *, received_at: float, sent_at: float | None
    ) -> IngestResult:
        """Store a batch for the host it names, if ``credential`` is that host's.

        The credential is checked in the ingest transaction itself (no round trip of its
        own). Raises :class:`UnknownCredential` for an unknown credential or a revoked host,
        :class:`WrongHost` when the credential belongs to another host than the batch's,
        :class:`UnstorableBatch` or :class:`StoreUnavailable` when the database refuses.
        """
        result = self._ingest(
            _Arrival(batch.host.host_id, batch, secret_sha256(credential), received_at, sent_at)
        )
        if result is not None:
            return result
        # Refusals are rare: only now find out which one it is.
        owner = self.authenticate(credential)
        if owner is None:
            raise UnknownCredential("the credential is unknown or its host was revoked")
        raise WrongHost(owner.host_id)

    def _ingest(self, arrival: _Arrival) -> IngestResult | None:
        """The ingest transaction; None (and nothing written) when the host did not match.

        The host is checked first (with the credential, when there is one), then the batch id
        is claimed with the database's own conflict handling, so a retry (or two advisors
        racing on the same batch) finds it and writes nothing else. A database error becomes
        :class:`UnstorableBatch` or :class:`StoreUnavailable` (advisor.store.failures).
        """
        try:
            if self._dialect != "postgresql":
                stored = self._ingest_on_sqlite(arrival)
            elif arrival.batch.inventory is None:
                stored = self._ingest_on_postgres(arrival)
            else:
                stored = self._ingest_inventory_on_postgres(arrival)
        except _HostDidNotMatchError:
            return None
        except Exception as exc:
            what = f"batch {arrival.batch.batch_id} of host {arrival.host_id}"
            if failures.classify(exc) == "permanent":
                raise UnstorableBatch(
                    f"the database refused {what}: {failures.describe(exc)}"
                ) from exc
            raise StoreUnavailable(
                f"the database could not take {what} now: {failures.describe(exc)}"
            ) from exc
        return IngestResult(batch_id=arrival.batch.batch_id, stored=stored)

    def _ingest_on_postgres(self, arrival: _Arrival) -> bool:
        """A batch without inventory: one statement, its own transaction, one round trip."""
        pooled = self._engine.raw_connection()
        try:
            return _store_on_postgres(pooled.driver_connection, arrival, commit=True)
        finally:
            pooled.close()  # back to the pool, which rolls back whatever did not commit

    def _ingest_inventory_on_postgres(self, arrival: _Arrival) -> bool:
        """The same statement inside a transaction that then applies the inventory."""
        with self._writer.begin() as conn:
            claimed = _store_on_postgres(_driver(conn), arrival, commit=False)
            if claimed and arrival.batch.inventory is not None:
                _apply_inventory(conn, arrival.host_id, arrival.batch.inventory)
        return claimed

    def _ingest_on_sqlite(self, arrival: _Arrival) -> bool:
        """The ingest statements on SQLite; False for a retry."""
        host_id, batch = arrival.host_id, arrival.batch
        with self._writer.begin() as conn:
            if not self._claim(conn, arrival):
                return False
            for table, rows in (
                (SUMMARIES, summary_rows(host_id, batch)),
                (LAUNCHES, launch_rows(host_id, batch)),
            ):
                if rows:
                    conn.execute(table.insert(), rows)
            counts = launch_count_rows(host_id, batch)
            if counts:
                conn.execute(self._add_launch_count, counts)
            if batch.inventory is not None:
                _apply_inventory(conn, host_id, batch.inventory)
        return True

    def _claim(self, conn: sa.Connection, arrival: _Arrival) -> bool:
        """Check the host, claim the batch id and, if new, touch the host: whether the batch
        id is new. Raises _HostDidNotMatchError (rolling the transaction back) when the host
        did not match."""
        batch, received_at, sent_at = arrival.batch, arrival.received_at, arrival.sent_at
        known = conn.execute(
            self._find_host_statement,
            {"k_host": arrival.host_id, "k_credential": arrival.credential_sha256},
        ).first()
        if known is None:
            raise _HostDidNotMatchError
        claimed = conn.execute(
            self._claim_batch,
            {
                "batch_id": batch.batch_id,
                "host_id": arrival.host_id,
                "sequence": batch.sequence,
                "created_at": batch.created_at,
                "received_at": received_at,
                "sent_at": sent_at,
                "dropped_launch_events": batch.dropped_launch_events,
            },
        ).first()
        if claimed is None:
            return False  # a retry changes nothing, not even the host's last-seen time
        conn.execute(
            self._touch_host_statement,
            {
                "k_host": arrival.host_id,
                "new_hostname": batch.host.hostname,
                "new_agent_version": batch.host.agent_version,
                "new_seen": received_at,
                "new_skew": None if sent_at is None else received_at - sent_at,
            },
        )
        return True

    def version_history(self, host_id: str) -> list[VersionSpan]:
        """Every version span of the host, by package and then time."""
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(SPANS)
                .where(SPANS.c.host_id == host_id)
                .order_by(SPANS.c.source, SPANS.c.package, SPANS.c.arch, SPANS.c.since)
            )
            return [
                VersionSpan(
                    host_id=row.host_id,
                    source=row.source,
                    package=row.package,
                    app=row.app,
                    version=row.version,
                    since=row.since,
                    until=row.until,
                    arch=row.arch or None,
                )
                for row in rows
            ]

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    # -- helpers ----------------------------------------------------------------------------

    def _secret(self, prefix: str, nbytes: int) -> str:
        return new_secret(prefix, nbytes, self._rng)

    def _insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        # Both dialects spell upserts the same way (ON CONFLICT), through different classes.
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)


@dataclass(frozen=True, slots=True)
class _Arrival:
    """A batch to store and what ingest knows of its arrival."""

    host_id: str
    batch: Batch
    credential_sha256: str | None  # None: the caller vouches for the host
    received_at: float
    sent_at: float | None


class _HostDidNotMatchError(Exception):
    """Raised inside the ingest transaction to roll it back when the host did not match."""


def _store_on_postgres(driver: Any, arrival: _Arrival, *, commit: bool) -> bool:
    """advisor.store.pg_ingest's statement for ``arrival``: whether the batch id was new.
    Raises _HostDidNotMatchError when the host did not match (nothing was written)."""
    found = pg_ingest.store_batch(
        driver,
        arrival.host_id,
        arrival.batch,
        credential_sha256=arrival.credential_sha256,
        received_at=arrival.received_at,
        sent_at=arrival.sent_at,
        commit=commit,
    )
    if not found.host_matched:
        raise _HostDidNotMatchError
    return found.claimed


def _driver(conn: sa.Connection) -> Any:
    """The psycopg connection under a SQLAlchemy connection in a transaction."""
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection in a transaction is open
    return driver


def _usable_token(row: sa.Row[Any] | None, now: float) -> sa.Row[Any]:
    """The token row if it may enrol one more host; raises EnrolmentRefused otherwise."""
    if row is None:
        raise EnrolmentRefused(
            "unknown", "the enrolment token is not known to this advisor: check it was copied whole"
        )
    name = f"enrolment token {row.token_id} ({row.department})"
    if row.revoked_at is not None:
        raise EnrolmentRefused(
            "revoked", f"{name} was revoked at {_iso(row.revoked_at)}: ask for a new token"
        )
    if row.expires_at <= now:
        raise EnrolmentRefused(
            "expired", f"{name} expired at {_iso(row.expires_at)}: ask for a new token"
        )
    if row.max_uses is not None and row.uses >= row.max_uses:
        raise EnrolmentRefused(
            "used_up",
            f"{name} is used up: it enrolled {row.uses} of at most {row.max_uses} hosts; "
            "ask for a new token",
        )
    return row


def _may_enrol_again(
    host: Any,  # the row of department, credential_sha256, revoked_at, released_at
    host_id: str,
    token_department: str,
    current_credential: str | None,
) -> None:
    """Raise EnrolmentRefused unless an enrolment may replace this existing host's credential
    (the rule in :meth:`SqlStore.enrol`)."""
    if host.department != token_department:
        raise EnrolmentRefused(
            "other_department",
            f"host {host_id!r} is enrolled in department {host.department!r}, and the token is"
            f" for {token_department!r}: an admin moves hosts between departments"
            f" (`fleetsight-advisor host release {host_id} --department {token_department}`)",
        )
    if host.released_at is not None:
        return
    if host.revoked_at is not None:
        raise EnrolmentRefused(
            "host_revoked",
            f"host {host_id!r} was revoked at {_iso(host.revoked_at)}; only an admin can let it"
            f" enrol again (`fleetsight-advisor host release {host_id}`)",
        )
    if current_credential is None or not hmac.compare_digest(
        secret_sha256(current_credential), host.credential_sha256
    ):
        raise EnrolmentRefused(
            "host_enrolled",
            f"host {host_id!r} is enrolled already: enrol it again from the machine that holds"
            " its credential (the agent sends it), or ask an admin to release it"
            f" (`fleetsight-advisor host release {host_id}`)",
        )


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds")


def _apply_inventory(conn: sa.Connection, host_id: str, inventory: Inventory) -> None:
    """Apply an inventory if it is the host's newest (the rule in the module docstring)."""
    newest = conn.execute(
        sa.select(HOSTS.c.inventory_collected_at)
        .where(HOSTS.c.host_id == host_id)
        .with_for_update()
    ).scalar_one_or_none()
    at = inventory.collected_at
    if newest is not None and at <= newest:
        return
    conn.execute(
        HOSTS.update()
        .where(HOSTS.c.host_id == host_id)
        .values(
            hardware=dataclasses.asdict(inventory.hardware),
            inventory_collected_at=at,
            inventory_digest=inventory.digest,
        )
    )
    new: dict[_PackageKey, tuple[str, str | None]] = {
        (p.source, p.package, p.arch or ""): (p.version, p.app) for p in inventory.software
    }
    old: dict[_PackageKey, tuple[str, str | None]] = {
        (row.source, row.package, row.arch): (row.version, row.app)
        for row in conn.execute(
            sa.select(
                CURRENT_PACKAGES.c.source,
                CURRENT_PACKAGES.c.package,
                CURRENT_PACKAGES.c.arch,
                CURRENT_PACKAGES.c.version,
                CURRENT_PACKAGES.c.app,
            ).where(CURRENT_PACKAGES.c.host_id == host_id)
        )
    }
    removed = sorted(key for key in old if key not in new)
    added = sorted(key for key in new if key not in old)
    upgraded = sorted(key for key in new if key in old and old[key][0] != new[key][0])
    relabelled = sorted(
        key for key in new if key in old and old[key] != new[key] and old[key][0] == new[key][0]
    )

    _close_spans(conn, host_id, removed + upgraded, until=at)
    _open_spans(conn, host_id, [(key, *new[key]) for key in upgraded + added], since=at)
    _relabel_spans(conn, host_id, [(key, new[key][1]) for key in relabelled])
    _key_statement(
        conn, sa.delete(CURRENT_PACKAGES), CURRENT_PACKAGES, host_id, [(k, {}) for k in removed]
    )
    _key_statement(
        conn,
        CURRENT_PACKAGES.update().values(
            version=sa.bindparam("new_version"), app=sa.bindparam("new_app")
        ),
        CURRENT_PACKAGES,
        host_id,
        [
            (key, {"new_version": new[key][0], "new_app": new[key][1]})
            for key in upgraded + relabelled
        ],
    )
    if added:
        conn.execute(
            CURRENT_PACKAGES.insert(),
            [_package_row(host_id, key, version=new[key][0], app=new[key][1]) for key in added],
        )
    _replace_upgradable(conn, host_id, inventory)


def _key_statement(
    conn: sa.Connection,
    statement: sa.Update | sa.Delete,
    table: sa.Table,
    host_id: str,
    keyed: Iterable[tuple[_PackageKey, dict[str, Any]]],
    *,
    extra: sa.ColumnElement[bool] | None = None,
) -> None:
    """Run an UPDATE or DELETE once per package key, as one executemany."""
    params = [
        {"k_host": host_id, "k_source": source, "k_package": package, "k_arch": arch, **more}
        for (source, package, arch), more in keyed
    ]
    if not params:
        return
    where = [
        table.c.host_id == sa.bindparam("k_host"),
        table.c.source == sa.bindparam("k_source"),
        table.c.package == sa.bindparam("k_package"),
        table.c.arch == sa.bindparam("k_arch"),
    ]
    if extra is not None:
        where.append(extra)
    conn.execute(statement.where(*where), params)


def _close_spans(
    conn: sa.Connection, host_id: str, keys: list[_PackageKey], *, until: float
) -> None:
    _key_statement(
        conn,
        SPANS.update().values(until=sa.bindparam("new_until")),
        SPANS,
        host_id,
        [(key, {"new_until": until}) for key in keys],
        extra=SPANS.c.until.is_(None),
    )


def _open_spans(
    conn: sa.Connection,
    host_id: str,
    opened: list[tuple[_PackageKey, str, str | None]],
    *,
    since: float,
) -> None:
    if not opened:
        return
    conn.execute(
        SPANS.insert(),
        [
            {**_package_row(host_id, key, version=version, app=app), "since": since, "until": None}
            for key, version, app in opened
        ],
    )


def _relabel_spans(
    conn: sa.Connection, host_id: str, relabelled: list[tuple[_PackageKey, str | None]]
) -> None:
    _key_statement(
        conn,
        SPANS.update().values(app=sa.bindparam("new_app")),
        SPANS,
        host_id,
        [(key, {"new_app": app}) for key, app in relabelled],
        extra=SPANS.c.until.is_(None),
    )


def _package_row(
    host_id: str, key: _PackageKey, *, version: str, app: str | None
) -> dict[str, Any]:
    source, package, arch = key
    return {
        "host_id": host_id,
        "source": source,
        "package": package,
        "arch": arch,
        "version": version,
        "app": app,
    }


def _replace_upgradable(conn: sa.Connection, host_id: str, inventory: Inventory) -> None:
    conn.execute(sa.delete(UPGRADABLE).where(UPGRADABLE.c.host_id == host_id))
    rows = {
        (p.source, p.package, p.arch or ""): {
            "host_id": host_id,
            "source": p.source,
            "package": p.package,
            "arch": p.arch or "",
            "installed": p.installed,
            "candidate": p.candidate,
            "origin": p.origin,
        }
        for p in inventory.upgradable
    }
    if rows:
        conn.execute(UPGRADABLE.insert(), [rows[key] for key in sorted(rows)])
