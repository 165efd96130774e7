"""Stable findings: each finding's lifecycle, and its history of figures and status changes.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-12

``findings`` gains what the stability policy (advisor.analysis.stability) keeps per finding:
``opened_at``, ``runs_seen``, ``missed_runs`` and ``reopen_count``; ``analysis_runs`` counts
``findings_pending`` and ``findings_missing``. ``finding_history`` holds a point per run that
found a finding, ``finding_events`` its status changes; both go with their finding.

Existing findings keep what is known of them: opened when first detected, seen by one run
(a history point with their current figures, at their last detection, from their last run),
missed by every run since that one; a resolved one has its ``resolved`` event. The downgrade
drops the history and the new columns. Types are spelt out here, not imported from the models
(see 0001).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ZERO = sa.text("0")
_FINDING_COUNTS = ("runs_seen", "missed_runs", "reopen_count")
_RUN_COUNTS = ("findings_pending", "findings_missing")

_FINDINGS = sa.table(
    "findings",
    sa.column("key", sa.Text()),
    sa.column("status", sa.String()),
    sa.column("effect_estimate", sa.Double()),
    sa.column("effect_low", sa.Double()),
    sa.column("effect_high", sa.Double()),
    sa.column("cause", sa.String()),
    sa.column("confidence", sa.Double()),
    sa.column("first_detected_at", sa.Double()),
    sa.column("last_detected_at", sa.Double()),
    sa.column("resolved_at", sa.Double()),
    sa.column("hosts", _JSON),
    sa.column("evidence", _JSON),
    sa.column("last_run_id", _ROW_ID),
    sa.column("opened_at", sa.Double()),
    sa.column("runs_seen", sa.Integer()),
    sa.column("missed_runs", sa.Integer()),
)
_RUNS = sa.table("analysis_runs", sa.column("id", _ROW_ID))


def _number(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def _finding_key() -> sa.Column[str]:
    return sa.Column("finding_key", sa.Text(), nullable=False)


def _cascade(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["finding_key"],
        ["findings.key"],
        name=f"fk_{table}_finding_key_findings",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.add_column("findings", _number("opened_at"))
    for name in _FINDING_COUNTS:
        op.add_column(
            "findings", sa.Column(name, sa.Integer(), server_default=_ZERO, nullable=False)
        )
    for name in _RUN_COUNTS:
        op.add_column(
            "analysis_runs", sa.Column(name, sa.Integer(), server_default=_ZERO, nullable=False)
        )
    op.create_table(
        "finding_history",
        sa.Column("id", _ROW_ID, nullable=False),
        _finding_key(),
        sa.Column("run_id", _ROW_ID, nullable=True),
        _number("detected_at", nullable=False),
        _number("effect_estimate"),
        _number("effect_low"),
        _number("effect_high"),
        _number("q_value"),
        sa.Column("host_count", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(), nullable=False),
        _number("confidence"),
        _cascade("finding_history"),
        sa.PrimaryKeyConstraint("id", name="pk_finding_history"),
    )
    op.create_index(
        "ix_finding_history_finding_key_detected_at",
        "finding_history",
        ["finding_key", "detected_at"],
    )
    op.create_index("ix_finding_history_run_id", "finding_history", ["run_id"])
    op.create_index("ix_finding_history_detected_at", "finding_history", ["detected_at"])
    op.create_table(
        "finding_events",
        sa.Column("id", _ROW_ID, nullable=False),
        _finding_key(),
        sa.Column("run_id", _ROW_ID, nullable=True),
        _number("at", nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        _cascade("finding_events"),
        sa.PrimaryKeyConstraint("id", name="pk_finding_events"),
    )
    op.create_index("ix_finding_events_finding_key_at", "finding_events", ["finding_key", "at"])
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    """Each existing finding: opened when first detected, one history point, its events."""
    later_runs = (
        sa.select(sa.func.count())
        .select_from(_RUNS)
        .where(_RUNS.c.id > _FINDINGS.c.last_run_id)
        .scalar_subquery()
    )
    conn.execute(
        _FINDINGS.update().values(
            opened_at=_FINDINGS.c.first_detected_at,
            runs_seen=1,
            missed_runs=sa.func.coalesce(later_runs, 0),
        )
    )
    points: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for row in conn.execute(sa.select(_FINDINGS)):
        points.append(
            {
                "finding_key": row.key,
                "run_id": row.last_run_id,
                "detected_at": row.last_detected_at,
                "effect_estimate": row.effect_estimate,
                "effect_low": row.effect_low,
                "effect_high": row.effect_high,
                "q_value": _q_value(row.evidence),
                "host_count": len(row.hosts or ()),
                "cause": row.cause,
                "confidence": row.confidence,
            }
        )
        events.append(_event(row.key, row.first_detected_at, "opened"))
        if row.status == "resolved" and row.resolved_at is not None:
            events.append(_event(row.key, row.resolved_at, "resolved"))
    if points:
        conn.execute(_table("finding_history", points[0]).insert(), points)
        conn.execute(_table("finding_events", events[0]).insert(), events)


def _table(name: str, row: dict[str, Any]) -> sa.TableClause:
    return sa.table(name, *(sa.column(column) for column in row))


def _event(key: str, at: float, event: str) -> dict[str, Any]:
    return {"finding_key": key, "run_id": None, "at": at, "event": event}


def _q_value(evidence: object) -> float | None:
    value = evidence.get("q_value") if isinstance(evidence, dict) else None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def downgrade() -> None:
    op.drop_table("finding_events")
    op.drop_table("finding_history")
    for name in reversed(_RUN_COUNTS):
        op.drop_column("analysis_runs", name)
    for name in (*reversed(_FINDING_COUNTS), "opened_at"):
        op.drop_column("findings", name)
