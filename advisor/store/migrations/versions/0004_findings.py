"""Findings of the analysis runs, and the history of those runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-09-01

Types are spelt out here, not imported from the models (see 0001). Nothing refers to these
tables; a downgrade drops them with every finding recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COUNTS = ("new", "updated", "reopened", "resolved", "open")


def _number(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("app", sa.String(), nullable=False),
        sa.Column("scope", _JSON, nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        _number("effect_estimate"),
        _number("effect_low"),
        _number("effect_high"),
        sa.Column("cause", sa.String(), nullable=False),
        _number("confidence"),
        _number("since"),
        _number("first_detected_at", nullable=False),
        _number("last_detected_at", nullable=False),
        _number("resolved_at"),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("hosts", _JSON, nullable=False),
        sa.Column("departments", _JSON, nullable=False),
        sa.Column("evidence", _JSON, nullable=False),
        sa.Column("last_run_id", _ROW_ID, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_findings"),
    )
    op.create_index("ix_findings_status_app", "findings", ["status", "app"])
    op.create_table(
        "analysis_runs",
        sa.Column("id", _ROW_ID, nullable=False),
        _number("analysed_at", nullable=False),
        _number("started_at", nullable=False),
        _number("finished_at", nullable=False),
        sa.Column("launches", sa.BigInteger(), nullable=False),
        *(sa.Column(f"findings_{count}", sa.Integer(), nullable=False) for count in _COUNTS),
        sa.Column("notes", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analysis_runs"),
    )


def downgrade() -> None:
    op.drop_table("analysis_runs")
    op.drop_table("findings")
