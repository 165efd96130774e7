"""The advisor's tables as SQLAlchemy 2 declarative models.

Times are Unix seconds (double precision, UTC), as in the wire format. Identifiers and names are
unbounded strings: the API bounds their length before anything reaches the store.

Rows written by ingest (summaries, launches) carry ``host_id`` and ``batch_id`` without
foreign keys: they are only ever written in the transaction that inserts their batch row (which
does reference ``hosts``), retention deletes them on its own schedule, and a per-row foreign-key
check would cost ingest throughput for no extra safety.

A package without an architecture is stored with ``arch = ''`` so that it can be part of a
primary key; the store turns it back into None.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
"""JSON that PostgreSQL can index and query (JSONB); plain JSON text on SQLite."""

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""A 64-bit surrogate key; SQLite only auto-increments a column declared INTEGER PRIMARY KEY."""

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base; constraint names are deterministic so migrations can refer to them."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class EnrolmentToken(Base):
    """A reusable enrolment token: valid until it expires, is revoked or reaches ``max_uses``."""

    __tablename__ = "enrolment_tokens"

    token_id: Mapped[str] = mapped_column(sa.String, primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    department: Mapped[str] = mapped_column(sa.String)
    created_at: Mapped[float] = mapped_column(sa.Double)
    expires_at: Mapped[float] = mapped_column(sa.Double)
    revoked_at: Mapped[float | None] = mapped_column(sa.Double)
    uses: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    max_uses: Mapped[int | None] = mapped_column(sa.Integer)
    note: Mapped[str | None] = mapped_column(sa.Text)


class Host(Base):
    """An enrolled machine. ``credential_sha256`` is a fast hash: credentials are 32 random
    bytes, not passwords, so there is nothing to brute-force."""

    __tablename__ = "hosts"

    host_id: Mapped[str] = mapped_column(sa.String, primary_key=True)
    hostname: Mapped[str] = mapped_column(sa.String)
    department: Mapped[str] = mapped_column(sa.String, index=True)
    credential_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    enrolled_at: Mapped[float] = mapped_column(sa.Double)
    revoked_at: Mapped[float | None] = mapped_column(sa.Double)
    last_seen_at: Mapped[float | None] = mapped_column(sa.Double)
    agent_version: Mapped[str] = mapped_column(sa.String)
    clock_skew_seconds: Mapped[float | None] = mapped_column(sa.Double)
    """``received_at - sent_at`` of the last batch whose agent said when it sent it."""
    hardware: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    inventory_collected_at: Mapped[float | None] = mapped_column(sa.Double)
    """``collected_at`` of the newest inventory applied: older ones are not applied."""
    inventory_digest: Mapped[str | None] = mapped_column(sa.String)
    released_at: Mapped[float | None] = mapped_column(sa.Double)
    """When an admin released the host for re-enrolment without its credential (else NULL)."""


class BatchRecord(Base):
    """One row per batch ever stored: the idempotency record.

    ``rolled_up_at`` is NULL until the rollup job has merged the batch's summaries into the
    hourly and daily rollups (advisor.store.rollup); the partial index finds those cheaply.
    """

    __tablename__ = "batches"
    __table_args__ = (
        sa.Index(None, "host_id", "sequence"),
        sa.Index(
            "ix_batches_pending_rollup",
            "host_id",
            "received_at",
            sqlite_where=sa.text("rolled_up_at IS NULL"),
            postgresql_where=sa.text("rolled_up_at IS NULL"),
        ),
    )

    # Batch ids are unique per host: another host reusing an id is another batch.
    host_id: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey("hosts.host_id"), primary_key=True
    )
    batch_id: Mapped[str] = mapped_column(sa.String, primary_key=True)
    sequence: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[float] = mapped_column(sa.Double)
    received_at: Mapped[float] = mapped_column(sa.Double, index=True)
    sent_at: Mapped[float | None] = mapped_column(sa.Double)
    dropped_launch_events: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    rolled_up_at: Mapped[float | None] = mapped_column(sa.Double)


class MetricSummaryRow(Base):
    """One metric over one interval of one host (a wire ``MetricSummary``)."""

    __tablename__ = "metric_summaries"
    __table_args__ = (
        sa.Index(None, "host_id", "name", "interval_start"),
        # The rollup reads the summaries of the batches it has not rolled up yet.
        sa.Index(None, "batch_id"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    host_id: Mapped[str] = mapped_column(sa.String)
    batch_id: Mapped[str] = mapped_column(sa.String)
    # Rollups and retention select whole time ranges across hosts.
    interval_start: Mapped[float] = mapped_column(sa.Double, index=True)
    interval_end: Mapped[float] = mapped_column(sa.Double)
    name: Mapped[str] = mapped_column(sa.String)
    labels: Mapped[str] = mapped_column(sa.Text)
    """Canonical JSON (sorted keys, no spaces): equal label sets compare equal as text."""
    count: Mapped[int] = mapped_column(sa.BigInteger)
    sum: Mapped[float] = mapped_column(sa.Double)
    min: Mapped[float] = mapped_column(sa.Double)
    max: Mapped[float] = mapped_column(sa.Double)
    p50: Mapped[float] = mapped_column(sa.Double)
    p90: Mapped[float] = mapped_column(sa.Double)
    p99: Mapped[float] = mapped_column(sa.Double)


class _MetricRollup:
    """Columns shared by the hourly and daily rollups of metric summaries.

    One row per (host, metric, labels, bucket): ``count``, ``sum``, ``min`` and ``max`` are
    exact over every summary whose interval starts in the bucket. ``p50``/``p90``/``p99`` are an
    approximation: the count-weighted mean of the summaries' own quantiles (the true quantile
    of the bucket cannot be recovered from per-interval quantiles). ``bucket_start`` is a Unix
    time on a UTC hour or day boundary; ``updated_at`` says when late data last changed it.
    """

    host_id: Mapped[str] = mapped_column(sa.String, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String, primary_key=True)
    labels: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    bucket_start: Mapped[float] = mapped_column(sa.Double, primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger)
    sum: Mapped[float] = mapped_column(sa.Double)
    min: Mapped[float] = mapped_column(sa.Double)
    max: Mapped[float] = mapped_column(sa.Double)
    p50: Mapped[float] = mapped_column(sa.Double)
    p90: Mapped[float] = mapped_column(sa.Double)
    p99: Mapped[float] = mapped_column(sa.Double)
    updated_at: Mapped[float] = mapped_column(sa.Double)


class HourlyRollupRow(_MetricRollup, Base):
    """Metric summaries of one UTC hour (see :class:`_MetricRollup`)."""

    __tablename__ = "metric_rollups_hourly"
    # Retention deletes whole time ranges across hosts.
    __table_args__ = (sa.Index(None, "bucket_start"),)


class DailyRollupRow(_MetricRollup, Base):
    """Metric summaries of one UTC day (see :class:`_MetricRollup`)."""

    __tablename__ = "metric_rollups_daily"
    __table_args__ = (sa.Index(None, "bucket_start"),)


class JobStateRow(Base):
    """One row per scheduled job: who runs it now (a lease) and how its last runs went.

    ``lease_owner`` holds the job until ``lease_expires_at``; ``last_tick`` is the scheduled
    time last claimed, so that advisors ticking at the same wall-clock instants run each tick
    once between them.
    """

    __tablename__ = "job_state"

    job: Mapped[str] = mapped_column(sa.String, primary_key=True)
    lease_owner: Mapped[str | None] = mapped_column(sa.String)
    lease_expires_at: Mapped[float | None] = mapped_column(sa.Double)
    last_tick: Mapped[float | None] = mapped_column(sa.Double)
    last_started_at: Mapped[float | None] = mapped_column(sa.Double)
    last_finished_at: Mapped[float | None] = mapped_column(sa.Double)
    last_outcome: Mapped[str | None] = mapped_column(sa.String)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_rows: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_success_at: Mapped[float | None] = mapped_column(sa.Double)
    failures: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    """Failed runs since the last success."""


class LaunchRow(Base):
    """One measured launch, probe or reported timing (a wire ``LaunchEvent``), kept raw."""

    __tablename__ = "launches"
    __table_args__ = (
        sa.Index(None, "app", "started_at"),
        sa.Index(None, "host_id", "app", "started_at"),
        # The rollup (and a load, for batches not rolled up yet) finds the host-days a batch's
        # launches touch (advisor.store.launch_daily).
        sa.Index(None, "batch_id"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    host_id: Mapped[str] = mapped_column(sa.String)
    batch_id: Mapped[str] = mapped_column(sa.String)
    app: Mapped[str] = mapped_column(sa.String)
    version: Mapped[str | None] = mapped_column(sa.String)
    method: Mapped[str] = mapped_column(sa.String)
    outcome: Mapped[str] = mapped_column(sa.String)
    # Retention deletes by age across all apps.
    started_at: Mapped[float] = mapped_column(sa.Double, index=True)
    duration_seconds: Mapped[float | None] = mapped_column(sa.Double)
    ready_signal: Mapped[str] = mapped_column(sa.String)
    start_kind: Mapped[str] = mapped_column(sa.String)
    phases: Mapped[dict[str, float]] = mapped_column(JsonDocument)
    probe: Mapped[str | None] = mapped_column(sa.String)
    detail: Mapped[str | None] = mapped_column(sa.Text)


class LaunchCountRow(Base):
    """Launches per host, app, local day and method, summed over every batch's deltas."""

    __tablename__ = "launch_counts"
    __table_args__ = (sa.Index(None, "app", "day"),)

    host_id: Mapped[str] = mapped_column(sa.String, primary_key=True)
    app: Mapped[str] = mapped_column(sa.String, primary_key=True)
    day: Mapped[str] = mapped_column(sa.String, primary_key=True)
    method: Mapped[str] = mapped_column(sa.String, primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger)


# -- daily launch rollups (advisor.store.launch_daily) ---------------------------------------
#
# Host ids, app names and versions are long strings repeated in millions of rows; in the daily
# rows they are small integer codes into a dictionary table each. A row is then nothing but
# fixed-width numbers, which PostgreSQL's binary COPY hands over as one buffer numpy reads in
# one call (advisor.store.launch_daily), and which are a fifth of the size on disk. The codes
# are the database's own: the loader maps them to the frames' codes by name.


class _LaunchName:
    """A dictionary table: ``code`` is the integer the daily rows store for ``name``."""

    code: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String, unique=True)


class LaunchDailyHost(_LaunchName, Base):
    """Host ids of :class:`LaunchDailyRow` (no foreign key to ``hosts``: launches of hosts
    unknown there are analysed too)."""

    __tablename__ = "launch_daily_hosts"


class LaunchDailyApp(_LaunchName, Base):
    """App names of :class:`LaunchDailyRow`."""

    __tablename__ = "launch_daily_apps"


class LaunchDailyVersion(_LaunchName, Base):
    """Versions of :class:`LaunchDailyRow`; the unknown version is ``''``."""

    __tablename__ = "launch_daily_versions"


class LaunchDailyRow(Base):
    """The successful launches of one host, app, version and start kind on one UTC day.

    Exactly the figures of advisor.analysis.daily.DailyLaunches (the one definition): count,
    and quantiles, mean and sample variance of the log load times. ``day`` is the UTC day
    number ``floor(started_at / 86400)``; ``cold`` is False for a warm or unknown start.
    A host-day's rows are recomputed together from its raw launches and replaced in one
    transaction; ``sequence`` is the change sequence of that transaction
    (:class:`LaunchDailyState`), which incremental loads read changes by. The key leads with
    ``(host, day)``, the unit of recomputation. ``host``, ``app`` and ``version`` are codes
    of the dictionary tables above, without foreign keys: rows are written only by
    advisor.store.launch_daily, which takes the codes from those tables, and the check would
    cost every rewrite (millions of rows a day at fleet scale) three lookups a row.
    """

    __tablename__ = "launch_daily"
    __table_args__ = (
        # Loads select a window of days; retention deletes old days.
        sa.Index(None, "day"),
        sa.Index(None, "sequence"),
        # Which apps have rows in a window: a probe per app (advisor.store.launch_daily).
        sa.Index(None, "app", "day"),
        # On PostgreSQL 32 hash partitions by app (migration 0011): a part of the analysis
        # reads one partition, not the whole table (advisor.store.launch_daily.app_parts).
        {"postgresql_partition_by": "HASH (app)"},
    )

    host: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    day: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    app: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    cold: Mapped[bool] = mapped_column(sa.Boolean, primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)
    median: Mapped[float] = mapped_column(sa.Double)
    p10: Mapped[float] = mapped_column(sa.Double)
    p25: Mapped[float] = mapped_column(sa.Double)
    p75: Mapped[float] = mapped_column(sa.Double)
    p90: Mapped[float] = mapped_column(sa.Double)
    log_mean: Mapped[float] = mapped_column(sa.Double)
    log_var: Mapped[float] = mapped_column(sa.Double)
    sequence: Mapped[int] = mapped_column(sa.BigInteger)


class LaunchDailyState(Base):
    """One row (``id`` 1): the daily launch rollups' change sequence and horizons.

    ``sequence`` is the last change sequence handed out: a transaction that rewrites daily
    rows takes the next one by updating this row, and holds the row's lock until it commits,
    so sequences become visible in the order they were taken. ``raw_from_day`` is the first
    UTC day whose raw launches retention has not touched: only days from it on are recomputed.
    ``kept_from_day`` is the first day whose daily rows retention keeps. A missing row reads
    as ``(0, 0, 0)``.
    """

    __tablename__ = "launch_daily_state"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(sa.BigInteger)
    raw_from_day: Mapped[int] = mapped_column(sa.Integer)
    kept_from_day: Mapped[int] = mapped_column(sa.Integer)


class CurrentPackage(Base):
    """What the host's newest inventory says is installed."""

    __tablename__ = "current_packages"
    __table_args__ = (sa.Index(None, "app"),)

    host_id: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey("hosts.host_id"), primary_key=True
    )
    source: Mapped[str] = mapped_column(sa.String, primary_key=True)
    package: Mapped[str] = mapped_column(sa.String, primary_key=True)
    arch: Mapped[str] = mapped_column(sa.String, primary_key=True)
    version: Mapped[str] = mapped_column(sa.String)
    app: Mapped[str | None] = mapped_column(sa.String)


class UpgradablePackageRow(Base):
    """What the host's package manager offered at its newest inventory."""

    __tablename__ = "upgradable_packages"

    host_id: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey("hosts.host_id"), primary_key=True
    )
    source: Mapped[str] = mapped_column(sa.String, primary_key=True)
    package: Mapped[str] = mapped_column(sa.String, primary_key=True)
    arch: Mapped[str] = mapped_column(sa.String, primary_key=True)
    installed: Mapped[str] = mapped_column(sa.String)
    candidate: Mapped[str] = mapped_column(sa.String)
    origin: Mapped[str | None] = mapped_column(sa.String)


class VersionSpanRow(Base):
    """One version of one package on one host from ``since`` until ``until`` (None: still).

    At most one open span per (host, source, package, arch), enforced by a partial unique index.
    """

    __tablename__ = "version_spans"
    __table_args__ = (
        sa.Index(None, "host_id", "source", "package", "arch", "since"),
        sa.Index(None, "app", "version", "since"),
        sa.Index(
            "uq_version_spans_open",
            "host_id",
            "source",
            "package",
            "arch",
            unique=True,
            sqlite_where=sa.text("until IS NULL"),
            postgresql_where=sa.text("until IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    host_id: Mapped[str] = mapped_column(sa.String, sa.ForeignKey("hosts.host_id"))
    source: Mapped[str] = mapped_column(sa.String)
    package: Mapped[str] = mapped_column(sa.String)
    arch: Mapped[str] = mapped_column(sa.String)
    app: Mapped[str | None] = mapped_column(sa.String)
    version: Mapped[str] = mapped_column(sa.String)
    since: Mapped[float] = mapped_column(sa.Double)
    until: Mapped[float | None] = mapped_column(sa.Double)


# -- vendor catalog (advisor.store.catalog) ---------------------------------------------------
#
# Lifecycle milestones are a date or a boolean in the sources (see advisor.catalog.model): each
# is two columns, ``*_on`` (the date, when there is one) and ``*_reached`` (the boolean, when
# the source gave one instead of a date); both NULL when the source says nothing. Money is kept
# as the decimal text it was given in ("150.00"): exact on both databases, and an unchanged
# price compares equal on re-import. ``origin`` is the import kind that wrote a row
# (endoflife, org, package-manager).

_PRODUCT_FK = "catalog_products.slug"


class CatalogProduct(Base):
    """A product the catalog knows, by its stable slug (``firefox``, ``acme-erp``)."""

    __tablename__ = "catalog_products"

    slug: Mapped[str] = mapped_column(sa.String, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String)
    vendor: Mapped[str | None] = mapped_column(sa.String)
    category: Mapped[str | None] = mapped_column(sa.String)
    version_scheme: Mapped[str] = mapped_column(sa.String)
    changelog_template: Mapped[str | None] = mapped_column(sa.Text)
    repology: Mapped[str | None] = mapped_column(sa.String)


class CatalogIdentifier(Base):
    """One way to recognise a product: a package name per ecosystem, a purl or a CPE.

    ``ecosystem`` is the agent source for ``kind = 'package'`` and '' otherwise. Rows are kept
    per ``origin``, so re-importing endoflife.date never drops package names an organisation
    file added.
    """

    __tablename__ = "catalog_identifiers"
    __table_args__ = (sa.Index(None, "kind", "ecosystem", "value"),)

    product: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey(_PRODUCT_FK, ondelete="CASCADE"), primary_key=True
    )
    origin: Mapped[str] = mapped_column(sa.String, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String, primary_key=True)
    ecosystem: Mapped[str] = mapped_column(sa.String, primary_key=True)
    value: Mapped[str] = mapped_column(sa.String, primary_key=True)


class CatalogCycle(Base):
    """A release cycle of a product, with its lifecycle dates (see the note above)."""

    __tablename__ = "catalog_cycles"

    product: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey(_PRODUCT_FK, ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(sa.String, primary_key=True)
    origin: Mapped[str] = mapped_column(sa.String)
    label: Mapped[str | None] = mapped_column(sa.String)
    codename: Mapped[str | None] = mapped_column(sa.String)
    release_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    support_ends_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    support_ended: Mapped[bool | None] = mapped_column(sa.Boolean)
    life_ends_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    life_ended: Mapped[bool | None] = mapped_column(sa.Boolean)
    extended_ends_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    extended_ended: Mapped[bool | None] = mapped_column(sa.Boolean)
    lts: Mapped[bool] = mapped_column(sa.Boolean)
    lts_from: Mapped[dt.date | None] = mapped_column(sa.Date)
    latest: Mapped[str | None] = mapped_column(sa.String)
    latest_release_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    link: Mapped[str | None] = mapped_column(sa.Text)


class CatalogVersion(Base):
    """A released version; ``tags`` is a sorted, comma-separated set (``performance,security``)."""

    __tablename__ = "catalog_versions"

    product: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey(_PRODUCT_FK, ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(sa.String, primary_key=True)
    origin: Mapped[str] = mapped_column(sa.String)
    release_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    notes_url: Mapped[str | None] = mapped_column(sa.Text)
    tags: Mapped[str] = mapped_column(sa.String)


class CatalogPrice(Base):
    """What a seat of a product cost on ``as_of``; older prices stay as history."""

    __tablename__ = "catalog_prices"

    product: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey(_PRODUCT_FK, ondelete="CASCADE"), primary_key=True
    )
    as_of: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    licence: Mapped[str] = mapped_column(sa.String)
    amount: Mapped[str] = mapped_column(sa.String)
    currency: Mapped[str] = mapped_column(sa.String(3))
    source: Mapped[str | None] = mapped_column(sa.Text)


class CatalogRequirement(Base):
    """What a product needs to run well; ``os`` is a comma-separated list."""

    __tablename__ = "catalog_requirements"

    product: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey(_PRODUCT_FK, ondelete="CASCADE"), primary_key=True
    )
    min_ram_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    os: Mapped[str] = mapped_column(sa.String)


class CatalogAlias(Base):
    """A package name (``dpkg:python3`` or ``libreoffice``) that is product ``product``."""

    __tablename__ = "catalog_aliases"

    alias: Mapped[str] = mapped_column(sa.String, primary_key=True)
    product: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey(_PRODUCT_FK, ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(sa.Text)


class HardwarePrice(Base):
    """A hardware price (``kind`` ram per GB, ssd, machine; ``item`` DDR4, 1000, workstation)
    on ``as_of``; older prices stay as history."""

    __tablename__ = "hardware_prices"

    kind: Mapped[str] = mapped_column(sa.String, primary_key=True)
    item: Mapped[str] = mapped_column(sa.String, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    amount: Mapped[str] = mapped_column(sa.String)
    currency: Mapped[str] = mapped_column(sa.String(3))
    source: Mapped[str] = mapped_column(sa.Text)
    estimate: Mapped[bool] = mapped_column(sa.Boolean)


class CostSetting(Base):
    """One cost setting (``labour_rate``, ``install_hours.ram``, ``wages.finance``...)."""

    __tablename__ = "cost_settings"

    name: Mapped[str] = mapped_column(sa.String, primary_key=True)
    value: Mapped[str] = mapped_column(sa.String)
    as_of: Mapped[dt.date | None] = mapped_column(sa.Date)
    source: Mapped[str | None] = mapped_column(sa.Text)
    estimate: Mapped[bool] = mapped_column(sa.Boolean)


class CatalogImport(Base):
    """One catalog import: its kind, source, when, and how many rows it changed."""

    __tablename__ = "catalog_imports"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String)
    source: Mapped[str] = mapped_column(sa.Text)
    imported_at: Mapped[float] = mapped_column(sa.Double)
    added: Mapped[int] = mapped_column(sa.Integer)
    changed: Mapped[int] = mapped_column(sa.Integer)
    removed: Mapped[int] = mapped_column(sa.Integer)
    rejected: Mapped[int] = mapped_column(sa.Integer)
    summary: Mapped[str] = mapped_column(sa.Text)


class CatalogChange(Base):
    """One row an import added, changed or removed; ``detail`` maps field -> [old, new]."""

    __tablename__ = "catalog_changes"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(
        RowId, sa.ForeignKey("catalog_imports.id", ondelete="CASCADE"), index=True
    )
    entity: Mapped[str] = mapped_column(sa.String)
    key: Mapped[str] = mapped_column(sa.Text)
    action: Mapped[str] = mapped_column(sa.String)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDocument)


class ApiToken(Base):
    """An admin API token for the read-only catalog endpoints; only its hash is kept."""

    __tablename__ = "api_tokens"

    token_id: Mapped[str] = mapped_column(sa.String, primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[float] = mapped_column(sa.Double)
    revoked_at: Mapped[float | None] = mapped_column(sa.Double)
    note: Mapped[str | None] = mapped_column(sa.Text)


# -- findings of the analysis runs (advisor.store.findings) ---------------------------------


class FindingRow(Base):
    """One finding, by its stable key (advisor.analysis.findings.finding_key), across runs.

    ``status`` is ``candidate``, ``open`` or ``resolved`` as advisor.analysis.stability
    decides run after run; ``opened_at`` is when it last became open, ``runs_seen`` how many
    runs found it, ``missed_runs`` how many runs since the last that did, ``reopen_count``
    how often it was reopened. Its figures are the latest run's that found it; figures a
    database cannot hold (NaN) are NULL.
    """

    __tablename__ = "findings"
    __table_args__ = (sa.Index(None, "status", "app"),)

    key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String)
    app: Mapped[str] = mapped_column(sa.String)
    scope: Mapped[dict[str, str]] = mapped_column(JsonDocument)
    direction: Mapped[str] = mapped_column(sa.String)
    effect_estimate: Mapped[float | None] = mapped_column(sa.Double)
    effect_low: Mapped[float | None] = mapped_column(sa.Double)
    effect_high: Mapped[float | None] = mapped_column(sa.Double)
    cause: Mapped[str] = mapped_column(sa.String)
    confidence: Mapped[float | None] = mapped_column(sa.Double)
    since: Mapped[float | None] = mapped_column(sa.Double)
    first_detected_at: Mapped[float] = mapped_column(sa.Double)
    last_detected_at: Mapped[float] = mapped_column(sa.Double)
    resolved_at: Mapped[float | None] = mapped_column(sa.Double)
    status: Mapped[str] = mapped_column(sa.String)
    hosts: Mapped[list[str]] = mapped_column(JsonDocument)
    departments: Mapped[list[str]] = mapped_column(JsonDocument)
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    last_run_id: Mapped[int | None] = mapped_column(RowId)
    opened_at: Mapped[float | None] = mapped_column(sa.Double)
    runs_seen: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    missed_runs: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    reopen_count: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))


class AnalysisRunRow(Base):
    """One analysis run: when (``analysed_at`` is the ``now`` it analysed the data as of),
    and how many findings it added, updated, reopened and resolved.

    ``part`` and ``apps`` name the apps a run analysed when it was one part of the fleet
    (``part``: the app, or the sorted apps joined by ", "; ``apps``: the JSON list); both
    NULL for a run of the whole fleet (every run before migration 0008).
    """

    __tablename__ = "analysis_runs"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    analysed_at: Mapped[float] = mapped_column(sa.Double)
    started_at: Mapped[float] = mapped_column(sa.Double)
    finished_at: Mapped[float] = mapped_column(sa.Double)
    launches: Mapped[int] = mapped_column(sa.BigInteger)
    findings_new: Mapped[int] = mapped_column(sa.Integer)
    findings_updated: Mapped[int] = mapped_column(sa.Integer)
    findings_reopened: Mapped[int] = mapped_column(sa.Integer)
    findings_resolved: Mapped[int] = mapped_column(sa.Integer)
    findings_open: Mapped[int] = mapped_column(sa.Integer)
    notes: Mapped[list[str]] = mapped_column(JsonDocument)
    # Found but not (re)confirmed yet; open but not found by this run (not resolved yet).
    findings_pending: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    findings_missing: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    # Candidates dropped: not confirmed within the stability policy's window.
    findings_expired: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    part: Mapped[str | None] = mapped_column(sa.Text)
    apps: Mapped[list[str] | None] = mapped_column(JsonDocument)


def table_of(model: type[Base]) -> sa.Table:
    """The Core table of a mapped class: the store writes SQL Core, never ORM objects."""
    table = model.__table__
    assert isinstance(table, sa.Table)  # every model here is mapped to one table
    return table


# The tables more than one store module reads or writes, named once.
HOSTS = table_of(Host)
BATCHES = table_of(BatchRecord)
SUMMARIES = table_of(MetricSummaryRow)
HOURLY = table_of(HourlyRollupRow)
DAILY = table_of(DailyRollupRow)
LAUNCHES = table_of(LaunchRow)
CURRENT_PACKAGES = table_of(CurrentPackage)
UPGRADABLE = table_of(UpgradablePackageRow)
SPANS = table_of(VersionSpanRow)


# -- the history of findings (advisor.store.findings) --------------------------------------


class FindingHistoryRow(Base):
    """One run's figures for a finding it found: the finding's effect over time.

    ``missed_before`` counts the runs that analysed the finding's app and missed it between
    the point before and this one (0: the previous such run found it too); NULL for a
    finding's first point, and where the point before is unknown. Deleted with its finding,
    and by retention after ``[retention] finding_history_days``.
    """

    __tablename__ = "finding_history"
    __table_args__ = (
        sa.Index(None, "finding_key", "detected_at"),
        sa.Index(None, "run_id"),
        sa.Index(None, "detected_at"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    finding_key: Mapped[str] = mapped_column(
        sa.Text, sa.ForeignKey("findings.key", ondelete="CASCADE")
    )
    run_id: Mapped[int | None] = mapped_column(RowId)
    detected_at: Mapped[float] = mapped_column(sa.Double)
    effect_estimate: Mapped[float | None] = mapped_column(sa.Double)
    effect_low: Mapped[float | None] = mapped_column(sa.Double)
    effect_high: Mapped[float | None] = mapped_column(sa.Double)
    q_value: Mapped[float | None] = mapped_column(sa.Double)
    host_count: Mapped[int] = mapped_column(sa.Integer)
    cause: Mapped[str] = mapped_column(sa.String)
    confidence: Mapped[float | None] = mapped_column(sa.Double)
    missed_before: Mapped[int | None] = mapped_column(sa.Integer)


class FindingEventRow(Base):
    """A change of a finding's status: ``opened``, ``resolved`` or ``reopened``, at ``at``
    (the ``now`` of the run that made it; ``run_id`` None for those migration 0007 wrote)."""

    __tablename__ = "finding_events"
    __table_args__ = (sa.Index(None, "finding_key", "at"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    finding_key: Mapped[str] = mapped_column(
        sa.Text, sa.ForeignKey("findings.key", ondelete="CASCADE")
    )
    run_id: Mapped[int | None] = mapped_column(RowId)
    at: Mapped[float] = mapped_column(sa.Double)
    event: Mapped[str] = mapped_column(sa.String)


# -- recommendations and the audit log (advisor.store.recommendations, advisor.store.audit) --
#
# Money is decimal text, as in the catalog: exact on both databases. Every table here is kept
# forever (retention leaves them alone): recommendations are few, keyed stably across runs,
# and the audit log is append-only (migration 0010 makes the database refuse UPDATE and
# DELETE on it).


class RecommendationRow(Base):
    """One recommendation, by its stable key, across the analysis runs that propose it.

    Its figures (``kind`` to ``document``) are the newest run's that proposed it; the
    lifecycle columns (``state`` onwards) are what people and the loop made of it
    (advisor.store.recommendations has the states and their rules).
    """

    __tablename__ = "recommendations"
    __table_args__ = (sa.Index(None, "state", "score"),)

    key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String)
    category: Mapped[str] = mapped_column(sa.String)
    app: Mapped[str] = mapped_column(sa.String)
    target: Mapped[str | None] = mapped_column(sa.String)
    title: Mapped[str] = mapped_column(sa.Text)
    departments: Mapped[list[str]] = mapped_column(JsonDocument)
    hosts: Mapped[list[str]] = mapped_column(JsonDocument)
    finding_keys: Mapped[list[str]] = mapped_column(JsonDocument)
    score: Mapped[float] = mapped_column(sa.Double)
    net_benefit_per_year: Mapped[str | None] = mapped_column(sa.String)
    currency: Mapped[str] = mapped_column(sa.String(3))
    document: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    state: Mapped[str] = mapped_column(sa.String)
    state_reason: Mapped[str | None] = mapped_column(sa.Text)
    deferred_until: Mapped[float | None] = mapped_column(sa.Double)
    decided_by: Mapped[str | None] = mapped_column(sa.String)
    decided_at: Mapped[float | None] = mapped_column(sa.Double)
    rolled_out_at: Mapped[float | None] = mapped_column(sa.Double)
    verified_at: Mapped[float | None] = mapped_column(sa.Double)
    created_at: Mapped[float] = mapped_column(sa.Double)
    updated_at: Mapped[float] = mapped_column(sa.Double)
    last_proposed_at: Mapped[float] = mapped_column(sa.Double)
    realised: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)


class RecommendationDepartmentRow(Base):
    """A department a recommendation concerns: what lists by department and the department
    totals query (``recommendations.departments`` is the same set, as read back)."""

    __tablename__ = "recommendation_departments"
    __table_args__ = (sa.Index(None, "department"),)

    key: Mapped[str] = mapped_column(
        sa.Text, sa.ForeignKey("recommendations.key", ondelete="CASCADE"), primary_key=True
    )
    department: Mapped[str] = mapped_column(sa.String, primary_key=True)


class AuditEntryRow(Base):
    """One entry of the audit log: who (``actor``) did what (``action``) to what
    (``target``), when (``at``) and why (``detail``). Append-only; ``id`` orders entries."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "target", "id"), sa.Index(None, "actor", "id"))

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(sa.Double)
    actor: Mapped[str] = mapped_column(sa.String)
    action: Mapped[str] = mapped_column(sa.String)
    target: Mapped[str] = mapped_column(sa.Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDocument)


# -- people and their sessions in the web interface (advisor.store.users) --
#
# No password and no session token is stored: ``password_hash`` is argon2's encoded hash
# (salt and parameters included), a session row is keyed by the SHA-256 of its token.


class UserRow(Base):
    """A person who logs in to the web interface; ``user_id`` is the login name."""

    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(sa.String, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    role: Mapped[str] = mapped_column(sa.String)
    departments: Mapped[list[str]] = mapped_column(JsonDocument)
    password_hash: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[float] = mapped_column(sa.Double)
    disabled_at: Mapped[float | None] = mapped_column(sa.Double)


class UiSessionRow(Base):
    """A logged-in browser. Deleted at logout, with its user, or once expired."""

    __tablename__ = "ui_sessions"
    __table_args__ = (sa.Index(None, "user_id"),)

    token_sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        sa.String, sa.ForeignKey("users.user_id", ondelete="CASCADE")
    )
    created_at: Mapped[float] = mapped_column(sa.Double)
    last_seen_at: Mapped[float] = mapped_column(sa.Double)
    expires_at: Mapped[float] = mapped_column(sa.Double)
    csrf_secret: Mapped[str] = mapped_column(sa.String)
