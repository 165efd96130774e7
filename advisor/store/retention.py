"""Retention: delete what is older than its policy, in small transactions, never unrolled data.

===================  =================================================================  =======
table                deleted when                                                       default
===================  =================================================================  =======
launches             ``started_at`` is more than ``launches_days`` old                   90 days
metric_summaries     its batch was rolled up more than ``summaries_days`` ago (and the   14 days
                     interval is that old too); never while its batch waits for the
                     rollup
metric_rollups_      ``bucket_start`` is more than ``hourly_days`` old                   90 days
hourly
metric_rollups_      ``bucket_start`` is more than ``daily_days`` old                    730 days
daily
launch_daily         its UTC day started more than ``launch_daily_days`` ago             730 days
batches              received more than ``batches_days`` ago, rolled up, and its raw     30 days
                     summaries are past their own retention
finding_history      the analysis run that left the point ran (``detected_at``) more     730 days
                     than ``finding_history_days`` ago
===================  =================================================================  =======

The daily launch rollups are what the analysis reads, so ``launch_daily_days`` is what bounds
its window (``[analysis] window_days``), not ``launches_days``. Before deleting, retention
raises the daily launch rollups' horizons (:func:`advisor.store.launch_daily.raise_horizons`,
committed first): from then on a late batch no longer recomputes a day whose raw launches are
being deleted (it would lose the deleted ones), nor a day whose rollups are gone.

A finding's history points are the effect the analysis runs found over time: they are kept
as long as the daily rollups they summarise (``daily_days``); at one run every 6 h that is
under 3,000 points per finding. The finding itself, and its status events, stay while it does
(advisor.store.findings drops a candidate the stability policy can no longer confirm).

Recommendations and the audit log are never deleted (advisor.store.recommendations,
advisor.store.audit): recommendations are few and keyed stably across runs, and the audit log
is append-only.

A ``*_days`` of 0 keeps that table forever. Batch rows are the idempotency records: while one
exists, a retry of that batch is acknowledged without storing it twice. Agents retry within
their backoff (minutes, hours after a long outage), so 30 days is ample; a batch delivered
again after its record is gone would be stored and rolled up a second time.

Each transaction deletes at most ``chunk_rows`` rows, so a large backlog (the first run after
lowering a setting) never holds the SQLite write lock, or PostgreSQL row locks, for long:
ingest gets its turn between chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from advisor.store.launch_daily import LAUNCH_DAILY, first_whole_day
from advisor.store.models import (
    BATCHES,
    DAILY,
    HOURLY,
    LAUNCHES,
    SUMMARIES,
    FindingHistoryRow,
    table_of,
)

DAY = 86400.0

TABLES = (
    "launches",
    "metric_summaries",
    "metric_rollups_hourly",
    "metric_rollups_daily",
    "launch_daily",
    "batches",
    "finding_history",
)
"""Every table retention deletes from, in the order it does (summaries before their batches)."""

FINDING_HISTORY = table_of(FindingHistoryRow)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind of row is kept, in days (0: forever), and rows per transaction."""

    launches_days: int = 90
    summaries_days: int = 14
    hourly_days: int = 90
    daily_days: int = 730
    launch_daily_days: int = 730
    batches_days: int = 30
    finding_history_days: int = 730
    chunk_rows: int = 5000

    def __post_init__(self) -> None:
        for name in (
            "launches_days",
            "summaries_days",
            "hourly_days",
            "daily_days",
            "launch_daily_days",
            "finding_history_days",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (forever) or more, not {getattr(self, name)}")
        if self.batches_days < 0:
            raise ValueError(f"batches_days must be 0 (forever) or more, not {self.batches_days}")
        if self.chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {self.chunk_rows}")


def cutoff(now: float, days: int) -> float | None:
    """Rows older than this go; None when ``days`` is 0 (kept forever).

    >>> cutoff(1_000_000.0, 1), cutoff(1_000_000.0, 0)
    (913600.0, None)
    """
    return None if days == 0 else now - days * DAY


def launch_horizons(policy: RetentionPolicy, now: float) -> tuple[int | None, int | None]:
    """``(raw_from_day, kept_from_day)`` of the daily launch rollups after retention at
    ``now``: the first UTC day it leaves whole of the raw launches, and of the daily rows
    (None: kept forever)."""
    raw = cutoff(now, policy.launches_days)
    kept = cutoff(now, policy.launch_daily_days)
    return (
        None if raw is None else first_whole_day(raw),
        None if kept is None else first_whole_day(kept),
    )


def deletable(policy: RetentionPolicy, now: float) -> list[tuple[sa.Table, sa.ColumnElement[bool]]]:
    """(table, condition on its rows past ``policy`` at ``now``) for every table with a finite
    retention, in the order of :data:`TABLES`."""
    found: list[tuple[sa.Table, sa.ColumnElement[bool]]] = []
    launches = cutoff(now, policy.launches_days)
    if launches is not None:
        found.append((LAUNCHES, LAUNCHES.c.started_at < launches))
    summaries = cutoff(now, policy.summaries_days)
    if summaries is not None:
        # A summary whose batch row is gone was rolled up: batches go only after that.
        waiting = sa.exists().where(
            BATCHES.c.host_id == SUMMARIES.c.host_id,
            BATCHES.c.batch_id == SUMMARIES.c.batch_id,
            sa.or_(BATCHES.c.rolled_up_at.is_(None), BATCHES.c.rolled_up_at >= summaries),
        )
        # The interval condition is implied in practice (rolled up after measured) but lets
        # the interval_start index find the candidates.
        found.append((SUMMARIES, sa.and_(SUMMARIES.c.interval_start < summaries, ~waiting)))
    for table, days in ((HOURLY, policy.hourly_days), (DAILY, policy.daily_days)):
        old = cutoff(now, days)
        if old is not None:
            found.append((table, table.c.bucket_start < old))
    _, kept_from_day = launch_horizons(policy, now)
    if kept_from_day is not None:
        found.append((LAUNCH_DAILY, LAUNCH_DAILY.c.day < kept_from_day))
    batches = cutoff(now, policy.batches_days)
    if batches is not None:
        conditions = [BATCHES.c.received_at < batches, BATCHES.c.rolled_up_at.is_not(None)]
        if summaries is not None:
            conditions.append(BATCHES.c.rolled_up_at < summaries)
        else:
            # Raw summaries are kept forever: so are the batches that vouch they are rolled up.
            conditions.append(
                ~sa.exists().where(
                    SUMMARIES.c.host_id == BATCHES.c.host_id,
                    SUMMARIES.c.batch_id == BATCHES.c.batch_id,
                )
            )
        found.append((BATCHES, sa.and_(*conditions)))
    history = cutoff(now, policy.finding_history_days)
    if history is not None:
        found.append((FINDING_HISTORY, FINDING_HISTORY.c.detected_at < history))
    return found


def delete_chunk(
    conn: sa.Connection, table: sa.Table, condition: sa.ColumnElement[bool], limit: int
) -> int:
    """Delete at most ``limit`` rows of ``table`` matching ``condition`` on ``conn`` (in the
    caller's transaction, one per chunk: see
    :meth:`advisor.store.analysis_data.SqlUpkeep.apply_retention`); how many it deleted."""
    key: list[sa.Column[Any]] = list(table.primary_key.columns)
    chosen = sa.select(*key).where(condition).limit(limit)
    match = key[0].in_(chosen) if len(key) == 1 else sa.tuple_(*key).in_(chosen)
    return conn.execute(sa.delete(table).where(match)).rowcount
