"""The initial schema: tokens, hosts, batches, summaries, launches, inventory and history.

Revision ID: 0001
Revises:
Create Date: 2025-11-24

Hand-written; ``tests/advisor/store/test_migrations.py`` proves it matches the models. Types
are spelt out here rather than imported from the models, so that later model changes cannot
alter what this revision creates.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SUMMARY_STATS = ("sum", "min", "max", "p50", "p90", "p99")


def _time(name: str, *, nullable: bool = False) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "enrolment_tokens",
        _text("token_id"),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        _text("department"),
        _time("created_at"),
        _time("expires_at"),
        _time("revoked_at", nullable=True),
        sa.Column("uses", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_enrolment_tokens"),
        sa.UniqueConstraint("secret_sha256", name="uq_enrolment_tokens_secret_sha256"),
    )

    op.create_table(
        "hosts",
        _text("host_id"),
        _text("hostname"),
        _text("department"),
        sa.Column("credential_sha256", sa.String(64), nullable=False),
        _time("enrolled_at"),
        _time("revoked_at", nullable=True),
        _time("last_seen_at", nullable=True),
        _text("agent_version"),
        _time("clock_skew_seconds", nullable=True),
        sa.Column("hardware", _JSON, nullable=True),
        _time("inventory_collected_at", nullable=True),
        _text("inventory_digest", nullable=True),
        sa.PrimaryKeyConstraint("host_id", name="pk_hosts"),
        sa.UniqueConstraint("credential_sha256", name="uq_hosts_credential_sha256"),
    )
    op.create_index("ix_hosts_department", "hosts", ["department"])

    op.create_table(
        "batches",
        _text("batch_id"),
        _text("host_id"),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        _time("created_at"),
        _time("received_at"),
        _time("sent_at", nullable=True),
        sa.Column(
            "dropped_launch_events", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.PrimaryKeyConstraint("batch_id", name="pk_batches"),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.host_id"], name="fk_batches_host_id_hosts"),
    )
    op.create_index("ix_batches_host_id_sequence", "batches", ["host_id", "sequence"])
    op.create_index("ix_batches_received_at", "batches", ["received_at"])

    op.create_table(
        "metric_summaries",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        _text("host_id"),
        _text("batch_id"),
        _time("interval_start"),
        _time("interval_end"),
        _text("name"),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Double(), nullable=False) for name in _SUMMARY_STATS),
        sa.PrimaryKeyConstraint("id", name="pk_metric_summaries"),
    )
    op.create_index(
        "ix_metric_summaries_host_id_name_interval_start",
        "metric_summaries",
        ["host_id", "name", "interval_start"],
    )
    op.create_index("ix_metric_summaries_interval_start", "metric_summaries", ["interval_start"])

    op.create_table(
        "launches",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        _text("host_id"),
        _text("batch_id"),
        _text("app"),
        _text("version", nullable=True),
        _text("method"),
        _text("outcome"),
        _time("started_at"),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        _text("ready_signal"),
        _text("start_kind"),
        sa.Column("phases", _JSON, nullable=False),
        _text("probe", nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_launches"),
    )
    op.create_index("ix_launches_app_started_at", "launches", ["app", "started_at"])
    op.create_index(
        "ix_launches_host_id_app_started_at", "launches", ["host_id", "app", "started_at"]
    )
    op.create_index("ix_launches_started_at", "launches", ["started_at"])

    op.create_table(
        "launch_counts",
        _text("host_id"),
        _text("app"),
        _text("day"),
        _text("method"),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", "app", "day", "method", name="pk_launch_counts"),
    )
    op.create_index("ix_launch_counts_app_day", "launch_counts", ["app", "day"])

    op.create_table(
        "current_packages",
        *_package_key(),
        _text("version"),
        _text("app", nullable=True),
        sa.PrimaryKeyConstraint("host_id", "source", "package", "arch", name="pk_current_packages"),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.host_id"], name="fk_current_packages_host_id_hosts"
        ),
    )
    op.create_index("ix_current_packages_app", "current_packages", ["app"])

    op.create_table(
        "upgradable_packages",
        *_package_key(),
        _text("installed"),
        _text("candidate"),
        _text("origin", nullable=True),
        sa.PrimaryKeyConstraint(
            "host_id", "source", "package", "arch", name="pk_upgradable_packages"
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.host_id"], name="fk_upgradable_packages_host_id_hosts"
        ),
    )

    op.create_table(
        "version_spans",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        *_package_key(),
        _text("app", nullable=True),
        _text("version"),
        _time("since"),
        _time("until", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_version_spans"),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.host_id"], name="fk_version_spans_host_id_hosts"
        ),
    )
    op.create_index(
        "ix_version_spans_host_id_source_package_arch_since",
        "version_spans",
        ["host_id", "source", "package", "arch", "since"],
    )
    op.create_index(
        "ix_version_spans_app_version_since", "version_spans", ["app", "version", "since"]
    )
    op.create_index(
        "uq_version_spans_open",
        "version_spans",
        ["host_id", "source", "package", "arch"],
        unique=True,
        sqlite_where=sa.text("until IS NULL"),
        postgresql_where=sa.text("until IS NULL"),
    )


def downgrade() -> None:
    for table in (
        "version_spans",
        "upgradable_packages",
        "current_packages",
        "launch_counts",
        "launches",
        "metric_summaries",
        "batches",
        "hosts",
        "enrolment_tokens",
    ):
        op.drop_table(table)


def _package_key() -> tuple[sa.Column[str], ...]:
    return (_text("host_id"), _text("source"), _text("package"), _text("arch"))
