"""Rollups and job state: hourly and daily metric rollups, a rollup mark on batches, leases.

Also an index on ``metric_summaries.batch_id``: the rollup reads the summaries of the batches
it has not rolled up yet.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-25

Existing batches get ``rolled_up_at`` NULL, so the first rollup after the upgrade rolls up
every summary already stored. Types are spelt out here, not imported from the models (see
0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLLUPS = ("metric_rollups_hourly", "metric_rollups_daily")
_STATS = ("sum", "min", "max", "p50", "p90", "p99", "updated_at")
_PENDING = sa.text("rolled_up_at IS NULL")


def upgrade() -> None:
    op.add_column("batches", sa.Column("rolled_up_at", sa.Double(), nullable=True))
    op.create_index(
        "ix_batches_pending_rollup",
        "batches",
        ["host_id", "received_at"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index("ix_metric_summaries_batch_id", "metric_summaries", ["batch_id"])
    for table in _ROLLUPS:
        op.create_table(
            table,
            sa.Column("host_id", sa.String(), nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("labels", sa.Text(), nullable=False),
            sa.Column("bucket_start", sa.Double(), nullable=False),
            sa.Column("count", sa.BigInteger(), nullable=False),
            *(sa.Column(name, sa.Double(), nullable=False) for name in _STATS),
            sa.PrimaryKeyConstraint(
                "host_id", "name", "labels", "bucket_start", name=f"pk_{table}"
            ),
        )
        op.create_index(f"ix_{table}_bucket_start", table, ["bucket_start"])
    op.create_table(
        "job_state",
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_expires_at", sa.Double(), nullable=True),
        sa.Column("last_tick", sa.Double(), nullable=True),
        sa.Column("last_started_at", sa.Double(), nullable=True),
        sa.Column("last_finished_at", sa.Double(), nullable=True),
        sa.Column("last_outcome", sa.String(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_rows", sa.BigInteger(), nullable=True),
        sa.Column("last_success_at", sa.Double(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("job", name="pk_job_state"),
    )


def downgrade() -> None:
    op.drop_table("job_state")
    for table in _ROLLUPS:
        op.drop_table(table)
    op.drop_index("ix_metric_summaries_batch_id", table_name="metric_summaries")
    op.drop_index("ix_batches_pending_rollup", table_name="batches")
    # SQLite rebuilds the table (batch mode); PostgreSQL drops the column in place.
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("rolled_up_at")
