"""``launch_daily`` partitioned by app on PostgreSQL: a part of the analysis reads one partition.

Revision ID: 0011
Revises: 0010
Create Date: 2027-02-01

The analysis runs in parts (advisor.jobs.analysis), each loading its apps' daily rows. The
rollup writes a host-day's rows of every app together, so an app's rows are spread over
every page of an unpartitioned table and each part read all of it: 20 parts read the table
20 times (2.4 s a part at 10,000 hosts, docs/benchmarks.md). Here the table becomes 32 hash
partitions of ``app`` (``launch_daily_p00`` .. ``p31``); a part is the apps of one partition
(advisor.store.launch_daily.app_parts), so a run reads the table once however many advisors
share it. The rows are copied over in one statement (a few minutes at 10,000 hosts: the
upgrade is a maintenance window). SQLite is left as it is: its fleets are small, and its
parts group apps by code the same way. Types are spelt out here, not imported (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONS = 32
_COLUMNS = """
    host integer NOT NULL,
    day integer NOT NULL,
    app integer NOT NULL,
    version integer NOT NULL,
    cold boolean NOT NULL,
    count integer NOT NULL,
    median double precision NOT NULL,
    p10 double precision NOT NULL,
    p25 double precision NOT NULL,
    p75 double precision NOT NULL,
    p90 double precision NOT NULL,
    log_mean double precision NOT NULL,
    log_var double precision NOT NULL,
    sequence bigint NOT NULL,
    CONSTRAINT pk_launch_daily PRIMARY KEY (host, day, app, version, cold)
"""
_NAMES = (
    "host",
    "day",
    "app",
    "version",
    "cold",
    "count",
    "median",
    "p10",
    "p25",
    "p75",
    "p90",
    "log_mean",
    "log_var",
    "sequence",
)
_INDEXES = (
    ("ix_launch_daily_day", "day"),
    ("ix_launch_daily_sequence", "sequence"),
    ("ix_launch_daily_app_day", "app, day"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace(partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace(partitioned=False)


def _replace(*, partitioned: bool) -> None:
    """The table rebuilt (partitioned or not) with the same rows, key and indexes."""
    op.execute("ALTER TABLE launch_daily RENAME TO launch_daily_old")
    op.execute(
        "ALTER TABLE launch_daily_old RENAME CONSTRAINT pk_launch_daily TO pk_launch_daily_old"
    )
    for name, _ in _INDEXES:
        op.execute(f"DROP INDEX {name}")
    by_app = " PARTITION BY HASH (app)" if partitioned else ""
    op.execute(f"CREATE TABLE launch_daily ({_COLUMNS}){by_app}")
    if partitioned:
        for remainder in range(PARTITIONS):
            op.execute(
                f"CREATE TABLE launch_daily_p{remainder:02d} PARTITION OF launch_daily"
                f" FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {remainder})"
            )
    names = ", ".join(_NAMES)
    # Constant column names, not input.
    op.execute(f"INSERT INTO launch_daily ({names}) SELECT {names} FROM launch_daily_old")  # noqa: S608
    op.execute("DROP TABLE launch_daily_old")
    for name, columns in _INDEXES:
        op.execute(f"CREATE INDEX {name} ON launch_daily ({columns})")
    op.execute("ANALYZE launch_daily")
