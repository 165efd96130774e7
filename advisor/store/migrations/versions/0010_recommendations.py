"""Recommendations, the departments they concern, and the audit log.

Revision ID: 0010
Revises: 0009
Create Date: 2027-02-01

``recommendations`` keeps each recommendation by its stable key with its review lifecycle,
``recommendation_departments`` the departments each concerns (lists and totals by
department), ``audit_log`` who did what, when and why (advisor.store.recommendations,
advisor.store.audit). The audit log is append-only, and the database holds it to that: a
trigger refuses every UPDATE and DELETE of its rows (TRUNCATE, an operator's tool, still
works).

New tables only: nothing existing changes. The downgrade drops them, with every decision and
audit entry in them. Types are spelt out here, not imported from the models (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_REFUSAL = "audit_log is append-only"

_POSTGRES_APPEND_ONLY = (
    f"""
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_REFUSAL}: % refused', TG_OP;
    END
    $$
    """,
    """
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """,
)
_SQLITE_APPEND_ONLY = tuple(
    f"""
    CREATE TRIGGER audit_log_no_{operation.lower()} BEFORE {operation} ON audit_log
    BEGIN SELECT RAISE(ABORT, '{_REFUSAL}: {operation} refused'); END
    """
    for operation in ("UPDATE", "DELETE")
)


def _time(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "recommendations",
        sa.Column("key", sa.Text(), nullable=False),
        _text("kind"),
        _text("category"),
        _text("app"),
        _text("target", nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("departments", _JSON, nullable=False),
        sa.Column("hosts", _JSON, nullable=False),
        sa.Column("finding_keys", _JSON, nullable=False),
        _time("score", nullable=False),
        _text("net_benefit_per_year", nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        _text("state"),
        sa.Column("state_reason", sa.Text(), nullable=True),
        _time("deferred_until"),
        _text("decided_by", nullable=True),
        _time("decided_at"),
        _time("rolled_out_at"),
        _time("verified_at"),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _time("last_proposed_at", nullable=False),
        sa.Column("realised", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_recommendations"),
    )
    op.create_index("ix_recommendations_state_score", "recommendations", ["state", "score"])
    op.create_table(
        "recommendation_departments",
        sa.Column("key", sa.Text(), nullable=False),
        _text("department"),
        sa.ForeignKeyConstraint(
            ["key"],
            ["recommendations.key"],
            name="fk_recommendation_departments_key_recommendations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "department", name="pk_recommendation_departments"),
    )
    op.create_index(
        "ix_recommendation_departments_department", "recommendation_departments", ["department"]
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _ROW_ID, nullable=False),
        _time("at", nullable=False),
        _text("actor"),
        _text("action"),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_target_id", "audit_log", ["target", "id"])
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor", "id"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_APPEND_ONLY if postgres else _SQLITE_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_log")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("recommendation_departments")
    op.drop_table("recommendations")
