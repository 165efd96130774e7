"""Hourly and daily rollups of metric summaries, right even when batches arrive days late.

How late data is handled: every batch row carries ``rolled_up_at`` (NULL until rolled up). A
rollup step takes a chunk of batches not rolled up yet, whatever the age of their intervals,
merges their summaries into the hourly and daily buckets their intervals start in (an upsert
that adds counts and sums, keeps the smaller minimum and larger maximum), and marks the
batches, all in one transaction. So each batch is rolled up exactly once: a batch spooled for a
week updates the hour and day it was measured in, a second run finds nothing to do, and a
rollup never needs the raw rows it merged before (retention may have deleted them).

Write amplification: each batch is one minute of one host, so merging batches as they arrive
would rewrite a host's hourly row 60 times and its daily row 1,440 times. The scheduled job
therefore takes only batches received before the current hour began (``received_before``) and
reads them host by host, so a chunk holds whole host-hours: an hourly row is written about once,
a daily row about once an hour. Batches of the current hour wait for the next hour's runs.

A mark rather than a watermark on ``received_at``: ``received_at`` is stamped before the
batch's transaction commits, and several advisors stamp it with their own clocks, so a batch
can become visible after a run that already moved a watermark past it.

Buckets are UTC hours and days; a summary belongs to the bucket its interval starts in.
``count``, ``sum``, ``min`` and ``max`` are exact. ``p50``/``p90``/``p99`` are approximate: the
count-weighted mean of the summaries' quantiles (true quantiles cannot be rebuilt from
per-interval ones); merging in any order or by hour then day gives the same value.

The bucket that contains ``now`` is partial: it holds what has arrived so far and grows until
the hour (day) is over. Late batches can still change a finished bucket; ``updated_at`` says
when one last changed. Readers that want finished buckets only use :func:`complete_before`.

Launches: in the same transaction, the (host, UTC day) pairs the chunk's successful launches
fall on are recomputed from their raw launches into the daily launch rollups
(:func:`advisor.store.launch_daily.recompute`: quantiles do not merge, so a host-day is
rewritten whole, not added to). Days whose raw launches retention has started deleting are
left as they were and counted in ``launch_days_late``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from advisor.store import launch_daily
from advisor.store.models import BATCHES, DAILY, HOURLY, SUMMARIES

HOUR = 3600.0
DAY = 86400.0

DEFAULT_CHUNK_BATCHES = 240  # four host-hours of one-minute batches
QUANTILES = ("p50", "p90", "p99")

RollupKey = tuple[str, str, str, float]
"""(host_id, metric name, canonical labels, bucket start)."""


@dataclass(frozen=True, slots=True)
class Stats:
    """A mergeable summary of many observations (one summary row, or a whole bucket).

    >>> a = Stats(count=1, sum=2.0, min=2.0, max=2.0, p50=2.0, p90=2.0, p99=2.0)
    >>> b = Stats(count=3, sum=3.0, min=1.0, max=1.0, p50=1.0, p90=1.0, p99=1.0)
    >>> merge(a, b)
    Stats(count=4, sum=5.0, min=1.0, max=2.0, p50=1.25, p90=1.25, p99=1.25)
    """

    count: int
    sum: float
    min: float
    max: float
    p50: float
    p90: float
    p99: float


@dataclass(frozen=True, slots=True)
class RollupResult:
    """What a rollup did: batches marked, summaries merged, rollup rows written; host-days of
    launches recomputed, daily launch rows written, and host-days left as they were because
    retention has deleted raw launches of their day (a late batch's)."""

    batches: int = 0
    summaries: int = 0
    hourly_rows: int = 0
    daily_rows: int = 0
    launch_days: int = 0
    launch_daily_rows: int = 0
    launch_days_late: int = 0

    def __add__(self, other: RollupResult) -> RollupResult:
        return RollupResult(
            batches=self.batches + other.batches,
            summaries=self.summaries + other.summaries,
            hourly_rows=self.hourly_rows + other.hourly_rows,
            daily_rows=self.daily_rows + other.daily_rows,
            launch_days=self.launch_days + other.launch_days,
            launch_daily_rows=self.launch_daily_rows + other.launch_daily_rows,
            launch_days_late=self.launch_days_late + other.launch_days_late,
        )


@dataclass(frozen=True, slots=True)
class Backlog:
    """Batches stored but not rolled up yet, and when the oldest of them was received."""

    batches: int
    oldest_received_at: float | None


def bucket_start(at: float, width: float) -> float:
    """The start of the UTC bucket of ``width`` seconds that contains ``at``.

    >>> bucket_start(1_764_003_599.0, HOUR), bucket_start(1_764_003_600.0, HOUR)
    (1764000000.0, 1764003600.0)
    """
    return math.floor(at / width) * width


def complete_before(now: float, width: float) -> float:
    """Buckets of ``width`` starting before this time are over at ``now`` (no longer partial).

    >>> complete_before(1_764_003_000.0, HOUR)
    1764000000.0
    """
    return bucket_start(now, width)


def merge(a: Stats, b: Stats) -> Stats:
    """Two summaries as one: exact count, sum, min and max; count-weighted mean quantiles."""
    total = a.count + b.count
    return Stats(
        count=total,
        sum=a.sum + b.sum,
        min=min(a.min, b.min),
        max=max(a.max, b.max),
        p50=_weighted(a.p50, a.count, b.p50, b.count),
        p90=_weighted(a.p90, a.count, b.p90, b.count),
        p99=_weighted(a.p99, a.count, b.p99, b.count),
    )


def _weighted(a: float, a_count: int, b: float, b_count: int) -> float:
    # Summaries without observations carry no quantile information; the newer value stands.
    total = a_count + b_count
    if total <= 0:
        return b
    return (a * a_count + b * b_count) / total


def aggregate(rows: Iterable[Mapping[Any, Any]], width: float) -> dict[RollupKey, Stats]:
    """Summary rows (host_id, name, labels, interval_start and the stats) merged per bucket."""
    buckets: dict[RollupKey, Stats] = {}
    for row in rows:
        key = (
            row["host_id"],
            row["name"],
            row["labels"],
            bucket_start(row["interval_start"], width),
        )
        stats = Stats(
            count=row["count"],
            sum=row["sum"],
            min=row["min"],
            max=row["max"],
            p50=row["p50"],
            p90=row["p90"],
            p99=row["p99"],
        )
        previous = buckets.get(key)
        buckets[key] = stats if previous is None else merge(previous, stats)
    return buckets


def roll_up_chunk(
    conn: sa.Connection, *, now: float, limit: int, received_before: float | None = None
) -> RollupResult:
    """Roll up at most ``limit`` batches, host by host and oldest received first, on ``conn``
    (in the caller's transaction: on SQLite one begun IMMEDIATE).

    ``now`` stamps ``rolled_up_at`` and ``updated_at``; ``received_before`` leaves batches
    received at or after it for a later run (None: all). The loop over chunks, and when to
    commit, is :meth:`advisor.store.analysis_data.SqlUpkeep.roll_up`'s.
    """
    # Batch ids are unique per host only: a batch is its (host_id, batch_id) pair.
    batch_keys = [
        tuple(row)
        for row in conn.execute(
            sa.select(BATCHES.c.host_id, BATCHES.c.batch_id)
            .where(
                BATCHES.c.rolled_up_at.is_(None),
                sa.true() if received_before is None else BATCHES.c.received_at < received_before,
            )
            # Host by host: a chunk holds whole host-hours (see the module docstring).
            .order_by(BATCHES.c.host_id, BATCHES.c.received_at, BATCHES.c.batch_id)
            .limit(limit)
            # PostgreSQL: a rollup run by hand next to the scheduled one takes other
            # batches instead of waiting. SQLite ignores it (BEGIN IMMEDIATE serialises).
            .with_for_update(skip_locked=True)
        )
    ]
    if not batch_keys:
        return RollupResult()
    rows = (
        conn.execute(
            sa.select(
                SUMMARIES.c.host_id,
                SUMMARIES.c.name,
                SUMMARIES.c.labels,
                SUMMARIES.c.interval_start,
                SUMMARIES.c["count"],
                SUMMARIES.c.sum,
                SUMMARIES.c.min,
                SUMMARIES.c.max,
                *(SUMMARIES.c[name] for name in QUANTILES),
            ).where(
                # The first test lets the batch_id index find the rows; the pair decides.
                SUMMARIES.c.batch_id.in_({batch_id for _, batch_id in batch_keys}),
                sa.tuple_(SUMMARIES.c.host_id, SUMMARIES.c.batch_id).in_(batch_keys),
            )
        )
        .mappings()
        .all()
    )
    hourly = aggregate(rows, HOUR)
    daily = aggregate(rows, DAY)
    _upsert(conn, HOURLY, hourly, now)
    _upsert(conn, DAILY, daily, now)
    launches = launch_daily.recompute(conn, launch_daily.batch_host_days(conn, batch_keys))
    conn.execute(
        BATCHES.update()
        .where(sa.tuple_(BATCHES.c.host_id, BATCHES.c.batch_id).in_(batch_keys))
        .values(rolled_up_at=now)
    )
    return RollupResult(
        batches=len(batch_keys),
        summaries=len(rows),
        hourly_rows=len(hourly),
        daily_rows=len(daily),
        launch_days=launches.host_days,
        launch_daily_rows=launches.rows,
        launch_days_late=launches.late,
    )


def read_backlog(conn: sa.Connection) -> Backlog:
    """How many batches wait for the rollup (the partial index answers this cheaply)."""
    row = conn.execute(
        sa.select(sa.func.count(), sa.func.min(BATCHES.c.received_at)).where(
            BATCHES.c.rolled_up_at.is_(None)
        )
    ).one()
    return Backlog(batches=int(row[0]), oldest_received_at=row[1])


def _upsert(
    conn: sa.Connection, table: sa.Table, buckets: dict[RollupKey, Stats], now: float
) -> None:
    if not buckets:
        return
    # Sorted keys: two writers merging overlapping buckets lock rows in the same order.
    params = [
        {
            "host_id": host_id,
            "name": name,
            "labels": labels,
            "bucket_start": start,
            "count": stats.count,
            "sum": stats.sum,
            "min": stats.min,
            "max": stats.max,
            "p50": stats.p50,
            "p90": stats.p90,
            "p99": stats.p99,
            "updated_at": now,
        }
        for (host_id, name, labels, start), stats in sorted(buckets.items())
    ]
    conn.execute(_merge_statement(conn.dialect.name, table), params)


def _merge_statement(dialect: str, table: sa.Table) -> sa.Insert:
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    new = insert.excluded
    old_count, new_count = table.c["count"], new["count"]
    total = old_count + new_count
    least, greatest = (
        (sa.func.least, sa.func.greatest) if dialect == "postgresql" else (sa.func.min, sa.func.max)
    )
    merged: dict[str, Any] = {
        "count": total,
        "sum": table.c.sum + new.sum,
        "min": least(table.c.min, new.min),
        "max": greatest(table.c.max, new.max),
        "updated_at": new.updated_at,
    }
    for name in QUANTILES:
        # Same rule as merge(): count-weighted mean, the new value when neither has a count.
        merged[name] = sa.case(
            (total > 0, (table.c[name] * old_count + new[name] * new_count) / total),
            else_=new[name],
        )
    key: Sequence[sa.Column[Any]] = list(table.primary_key.columns)
    return insert.on_conflict_do_update(index_elements=key, set_=merged)
