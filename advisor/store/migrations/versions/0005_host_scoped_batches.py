"""Batch ids unique per host, not across the fleet; hosts an admin released for re-enrolment.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

``batches`` was keyed by ``batch_id`` alone, so another host's batch with an id already used
was acknowledged as a retry and dropped (and a host could probe for other hosts' ids). Its
primary key becomes ``(host_id, batch_id)``; existing rows keep their ids, which are unique
already. SQLite cannot change a primary key in place: the table is copied (Alembic's batch
mode), its partial rollup index dropped first and made again after.

``hosts.released_at`` marks a host that an admin released (``fleetsight-advisor host
release``): the next enrolment with a token of its department may take it over. Without it,
re-enrolling an existing host needs proof of its current credential.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("rolled_up_at IS NULL")


def _rekey_batches(columns: list[str]) -> None:
    op.drop_index("ix_batches_pending_rollup", table_name="batches")
    with op.batch_alter_table("batches", recreate="auto") as batch:
        batch.drop_constraint("pk_batches", type_="primary")
        batch.create_primary_key("pk_batches", columns)
    op.create_index(
        "ix_batches_pending_rollup",
        "batches",
        ["host_id", "received_at"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def upgrade() -> None:
    _rekey_batches(["host_id", "batch_id"])
    op.add_column("hosts", sa.Column("released_at", sa.Double(), nullable=True))


def downgrade() -> None:
    # Fails, as it should, if two hosts have stored batches under the same id since.
    op.drop_column("hosts", "released_at")
    _rekey_batches(["batch_id"])
