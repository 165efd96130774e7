"""Daily launch rollups: one row per host, app, version, start kind and UTC day.

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-11

``launch_daily`` holds what advisor.analysis.daily.DailyLaunches holds, keyed by integer codes
of three dictionary tables (``launch_daily_hosts``, ``_apps``, ``_versions``);
``launch_daily_state`` its change sequence and horizons (advisor.store.launch_daily). Also an
index on ``launches.batch_id``: the rollup finds the host-days of a batch's launches.

The upgrade backfills the daily rows from every raw launch stored, a few hundred hosts at a
time, with :func:`advisor.analysis.daily.daily_launches` (the one definition of a row: an
upgraded database analyses as before). Retention may already have cut the oldest stored day
short, so ``raw_from_day`` starts the day after it: a late batch for that day is not allowed
to recompute it from what is left. The downgrade drops the tables (the raw launches are still
there). Types are spelt out here, not imported from the models (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op

from advisor.analysis.daily import daily_launches
from advisor.analysis.frames import HostTable, LaunchFrame

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = 86400.0
_NAMES = ("launch_daily_hosts", "launch_daily_apps", "launch_daily_versions")
_FIGURES = ("median", "p10", "p25", "p75", "p90", "log_mean", "log_var")
_HOSTS_PER_STEP = 200


def upgrade() -> None:
    op.create_index("ix_launches_batch_id", "launches", ["batch_id"])
    for table in _NAMES:
        op.create_table(
            table,
            sa.Column("code", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.PrimaryKeyConstraint("code", name=f"pk_{table}"),
            sa.UniqueConstraint("name", name=f"uq_{table}_name"),
        )
    op.create_table(
        "launch_daily",
        sa.Column("host", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("app", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("cold", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Double(), nullable=False) for name in _FIGURES),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host", "day", "app", "version", "cold", name="pk_launch_daily"),
    )
    op.create_index("ix_launch_daily_day", "launch_daily", ["day"])
    op.create_index("ix_launch_daily_sequence", "launch_daily", ["sequence"])
    op.create_table(
        "launch_daily_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("raw_from_day", sa.Integer(), nullable=False),
        sa.Column("kept_from_day", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_launch_daily_state"),
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("launch_daily_state")
    op.drop_index("ix_launch_daily_sequence", table_name="launch_daily")
    op.drop_index("ix_launch_daily_day", table_name="launch_daily")
    op.drop_table("launch_daily")
    for table in reversed(_NAMES):
        op.drop_table(table)
    op.drop_index("ix_launches_batch_id", table_name="launches")


_launches = sa.table(
    "launches",
    sa.column("host_id", sa.String()),
    sa.column("app", sa.String()),
    sa.column("version", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("start_kind", sa.String()),
    sa.column("started_at", sa.Double()),
    sa.column("duration_seconds", sa.Double()),
)
_daily = sa.table(
    "launch_daily",
    *(
        sa.column(name)
        for name in ("host", "day", "app", "version", "cold", "count", *_FIGURES, "sequence")
    ),
)
_state = sa.table(
    "launch_daily_state",
    *(sa.column(name) for name in ("id", "sequence", "raw_from_day", "kept_from_day")),
)


def _codes(conn: sa.Connection, table: str, names: list[str]) -> dict[str, int]:
    names_table = sa.table(table, sa.column("code", sa.Integer()), sa.column("name", sa.String()))
    if names:
        conn.execute(names_table.insert(), [{"name": name} for name in names])
    return {name: code for code, name in conn.execute(sa.select(names_table))}


def _backfill(conn: sa.Connection) -> None:
    ok = sa.and_(_launches.c.outcome == "ok", _launches.c.duration_seconds > 0)
    first = conn.execute(sa.select(sa.func.min(_launches.c.started_at))).scalar_one()
    host_ids: list[str] = sorted(
        conn.execute(sa.select(_launches.c.host_id).where(ok).distinct()).scalars()
    )
    apps: list[str] = sorted(
        conn.execute(sa.select(_launches.c.app).where(ok).distinct()).scalars()
    )
    reported = conn.execute(sa.select(_launches.c.version).where(ok).distinct()).scalars()
    versions = sorted({v or "" for v in reported} | {""})
    codes = (
        _codes(conn, "launch_daily_hosts", host_ids),
        _codes(conn, "launch_daily_apps", apps),
        _codes(conn, "launch_daily_versions", versions),
    )
    for start in range(0, len(host_ids), _HOSTS_PER_STEP):
        step = host_ids[start : start + _HOSTS_PER_STEP]
        rows = conn.execute(
            sa.select(
                _launches.c.host_id,
                _launches.c.app,
                _launches.c.version,
                _launches.c.start_kind,
                _launches.c.started_at,
                _launches.c.duration_seconds,
            ).where(ok, _launches.c.host_id.in_(step))
        ).all()
        if rows:
            _insert_days(conn, rows, (step, apps, versions), codes)
    raw_from_day = 0 if first is None else int(np.floor(first / DAY)) + 1
    conn.execute(
        _state.insert().values(id=1, sequence=1, raw_from_day=raw_from_day, kept_from_day=0)
    )


def _insert_days(
    conn: sa.Connection,
    rows: Sequence[Any],
    names: tuple[list[str], list[str], list[str]],
    codes: tuple[dict[str, int], dict[str, int], dict[str, int]],
) -> None:
    """The daily rows of ``rows`` (host, app, version, start kind, start, duration)."""
    hosts, apps, versions = names
    host_index = {name: i for i, name in enumerate(hosts)}
    app_index = {name: i for i, name in enumerate(apps)}
    version_index = {name: i for i, name in enumerate(versions)}
    n = len(rows)
    host = np.fromiter((host_index[r[0]] for r in rows), np.int32, n)
    app = np.fromiter((app_index[r[1]] for r in rows), np.int32, n)
    version = np.fromiter((version_index[r[2] or ""] for r in rows), np.int32, n)
    started_at = np.fromiter((r[4] for r in rows), np.float64, n)
    duration = np.fromiter((r[5] for r in rows), np.float64, n)
    cold = np.fromiter((r[3] == "cold" for r in rows), np.bool_, n)
    # The canonical order of advisor.store.launch_daily: sums over a group are repeatable.
    order = np.lexsort((duration, started_at, cold, version, app, host))
    nan = np.full(len(hosts), np.nan)
    daily = daily_launches(
        LaunchFrame(
            hosts=HostTable(list(hosts), [""] * len(hosts), nan, np.zeros(len(hosts), bool), nan),
            apps=apps,
            versions=versions,
            host=host[order],
            app=app[order],
            version=version[order],
            method=np.zeros(n, np.int32),
            started_at=started_at[order],
            duration=duration[order],
            cold=cold[order],
        )
    )
    host_code = np.array([codes[0][name] for name in hosts], dtype=np.int64)[daily.host]
    app_code = np.array([codes[1][name] for name in apps], dtype=np.int64)[daily.app]
    version_code = np.array([codes[2][name] for name in versions], dtype=np.int64)[daily.version]
    columns = {
        "host": host_code.tolist(),
        "day": daily.day.tolist(),
        "app": app_code.tolist(),
        "version": version_code.tolist(),
        "cold": daily.cold.tolist(),
        "count": daily.count.tolist(),
        **{name: getattr(daily, name).tolist() for name in _FIGURES},
    }
    conn.execute(
        _daily.insert(),
        [
            {**dict(zip(columns, values, strict=True)), "sequence": 1}
            for values in zip(*columns.values(), strict=True)
        ],
    )
