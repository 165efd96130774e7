"""Findings recorded by part: the apps a run analysed, and misses counted per app.

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-14

An analysis run may analyse a part of the fleet (some apps) instead of all of it
(advisor.store.findings). ``analysis_runs`` gains ``part`` and ``apps`` (NULL: the whole
fleet) and ``findings_expired`` (candidates the run dropped). ``finding_history`` gains
``missed_before``: the runs that analysed the finding's app and missed it since the point
before, from which the stability policy's look-back is read once runs of other parts come
between.

Every run so far analysed the whole fleet, so each existing point's ``missed_before`` is the
number of runs between its run and the run of the point before (NULL for a finding's first
point, or when either run is unknown). The downgrade drops the columns. Types are spelt out
here, not imported from the models (see 0001).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_KEYS_PER_STEP = 500

_HISTORY = sa.table(
    "finding_history",
    sa.column("id", _ROW_ID),
    sa.column("finding_key", sa.Text()),
    sa.column("run_id", _ROW_ID),
    sa.column("missed_before", sa.Integer()),
)
_RUNS = sa.table("analysis_runs", sa.column("id", _ROW_ID))


def upgrade() -> None:
    op.add_column(
        "analysis_runs",
        sa.Column("findings_expired", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("analysis_runs", sa.Column("part", sa.Text(), nullable=True))
    op.add_column("analysis_runs", sa.Column("apps", _JSON, nullable=True))
    op.add_column("finding_history", sa.Column("missed_before", sa.Integer(), nullable=True))
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_column("finding_history", "missed_before")
    for name in ("apps", "part", "findings_expired"):
        op.drop_column("analysis_runs", name)


def _backfill(conn: sa.Connection) -> None:
    """Each point after a finding's first: the runs between its run and the previous one's
    (points are inserted in run order, so ``id`` orders a finding's points)."""
    runs: list[int] = list(conn.execute(sa.select(_RUNS.c.id).order_by(_RUNS.c.id)).scalars())
    keys: list[str] = list(
        conn.execute(
            sa.select(_HISTORY.c.finding_key).distinct().order_by(_HISTORY.c.finding_key)
        ).scalars()
    )
    update = (
        _HISTORY.update()
        .where(_HISTORY.c.id == sa.bindparam("point_id"))
        .values(missed_before=sa.bindparam("missed"))
    )
    for start in range(0, len(keys), _KEYS_PER_STEP):
        points = conn.execute(
            sa.select(_HISTORY.c.id, _HISTORY.c.finding_key, _HISTORY.c.run_id)
            .where(_HISTORY.c.finding_key.in_(keys[start : start + _KEYS_PER_STEP]))
            .order_by(_HISTORY.c.finding_key, _HISTORY.c.id)
        ).all()
        changes = _gaps(points, runs)
        if changes:
            conn.execute(update, changes)


def _gaps(points: Sequence[Any], runs: list[int]) -> list[dict[str, int]]:
    """``missed_before`` of each of ``points`` (id, key, run id; by key, then id) that has a
    point before it, both with a run: the ``runs`` between the two."""
    changes: list[dict[str, int]] = []
    for before, point in itertools.pairwise(points):
        if before.finding_key != point.finding_key:
            continue
        if before.run_id is None or point.run_id is None:
            continue
        between = bisect.bisect_left(runs, point.run_id) - bisect.bisect_right(runs, before.run_id)
        changes.append({"point_id": point.id, "missed": max(0, between)})
    return changes
