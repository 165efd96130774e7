"""Retention on SQLite and PostgreSQL: only what is old (and rolled up) goes, in small chunks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from advisor.store.analysis_data import Upkeep
from advisor.store.findings import SqlFindings
from advisor.store.models import (
    BatchRecord,
    DailyRollupRow,
    HourlyRollupRow,
    LaunchRow,
    MetricSummaryRow,
)
from advisor.store.retention import TABLES, RetentionPolicy
from advisor.store.sql import SqlStore
from tests.advisor.store.batches import CPU, DAY, DAY0, HOUR, MINUTE, batch, enrol, samples
from tests.advisor.store.findingsdata import finding, record_runs

KEEP_ALL = {
    "launches_days": 0,
    "summaries_days": 0,
    "hourly_days": 0,
    "daily_days": 0,
    "launch_daily_days": 0,
    "batches_days": 0,
    "finding_history_days": 0,
}


def policy(**days: int) -> RetentionPolicy:
    """Keep everything forever except what the test names."""
    return RetentionPolicy(**{**KEEP_ALL, **days})


def count(engine: sa.Engine, model: type[Any]) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(model.__table__)).scalar_one()
        )


def column(engine: sa.Engine, model: type[Any], name: str) -> list[Any]:
    table: sa.Table = model.__table__
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(table.c[name])).scalars())


def store_days(store: SqlStore, days: range, *, launches_per_batch: int = 1) -> None:
    """One batch per day of ``days`` (relative to DAY0): a summary and launches at 09:00."""
    for day in days:
        at = DAY0 + day * DAY + 9 * HOUR
        store.ingest(
            "host-a",
            batch(
                "host-a",
                day + 100,
                [(at, {CPU: samples(day + 100)})],
                launches=[at + i for i in range(launches_per_batch)],
            ),
            received_at=at + MINUTE,
            sent_at=None,
        )


@pytest.fixture
def deletes(engine: sa.Engine) -> Iterator[list[int]]:
    """Rows deleted by each DELETE statement the test runs, in order."""
    seen: list[int] = []

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            seen.append(cursor.rowcount)

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", after)


def test_it_deletes_only_launches_older_than_launches_days(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    store_days(store, range(10))
    now = DAY0 + 10 * DAY

    deleted = upkeep.apply_retention(policy(launches_days=4), now=now)

    assert deleted == {**dict.fromkeys(TABLES, 0), "launches": 6}
    assert column(engine, LaunchRow, "started_at") == [
        DAY0 + day * DAY + 9 * HOUR for day in range(6, 10)
    ]
    assert count(engine, MetricSummaryRow) == 10


def test_it_never_deletes_raw_summaries_that_are_not_rolled_up(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    store_days(store, range(5))

    deleted = upkeep.apply_retention(policy(summaries_days=1, batches_days=1), now=DAY0 + 400 * DAY)

    assert deleted["metric_summaries"] == deleted["batches"] == 0
    assert count(engine, MetricSummaryRow) == count(engine, BatchRecord) == 5


def test_it_keeps_raw_summaries_for_summaries_days_after_their_rollup(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    store_days(store, range(3))
    rolled_at = DAY0 + 20 * DAY  # old data, rolled up late: its raw rows are still fresh
    upkeep.roll_up(now=rolled_at)

    kept = upkeep.apply_retention(policy(summaries_days=14), now=rolled_at + 13 * DAY)
    gone = upkeep.apply_retention(policy(summaries_days=14), now=rolled_at + 15 * DAY)

    assert kept["metric_summaries"] == 0
    assert gone["metric_summaries"] == 3
    assert count(engine, MetricSummaryRow) == 0
    assert count(engine, HourlyRollupRow) == 3


def test_it_deletes_in_chunks_of_chunk_rows(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine, deletes: list[int]
) -> None:
    enrol(store, "host-a")
    store_days(store, range(1), launches_per_batch=10)
    chunks: list[int] = []

    deleted = upkeep.apply_retention(
        RetentionPolicy(**{**KEEP_ALL, "launches_days": 1, "chunk_rows": 3}),
        now=DAY0 + 5 * DAY,
        between_chunks=lambda: chunks.append(count(engine, LaunchRow)),
    )

    assert deleted["launches"] == 10
    assert deletes == [3, 3, 3, 1]
    assert chunks == [7, 4, 1]  # committed between chunks: ingest could write there


def test_it_keeps_hourly_and_daily_rollups_as_configured_and_zero_forever(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    store_days(store, range(10))
    upkeep.roll_up(now=DAY0 + 10 * DAY)

    deleted = upkeep.apply_retention(policy(hourly_days=3, daily_days=0), now=DAY0 + 10 * DAY)

    assert deleted["metric_rollups_hourly"] == 7
    assert deleted["metric_rollups_daily"] == 0
    assert column(engine, HourlyRollupRow, "bucket_start") == [
        DAY0 + day * DAY + 9 * HOUR for day in range(7, 10)
    ]
    assert count(engine, DailyRollupRow) == 10

    deleted = upkeep.apply_retention(policy(daily_days=5), now=DAY0 + 10 * DAY)

    assert deleted["metric_rollups_daily"] == 5
    assert column(engine, DailyRollupRow, "bucket_start") == [
        DAY0 + day * DAY for day in range(5, 10)
    ]


def test_batch_records_outlive_their_raw_summaries(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    store_days(store, range(2))
    upkeep.roll_up(now=DAY0 + 2 * DAY)
    # The idempotency records would be due after 1 day, the summaries they vouch for after 5.
    early = upkeep.apply_retention(policy(summaries_days=5, batches_days=1), now=DAY0 + 6 * DAY)
    late = upkeep.apply_retention(policy(summaries_days=5, batches_days=1), now=DAY0 + 8 * DAY)

    assert (early["metric_summaries"], early["batches"]) == (0, 0)
    assert (late["metric_summaries"], late["batches"]) == (2, 2)


def test_batch_records_go_after_batches_days_once_rolled_up(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    store_days(store, range(40))
    upkeep.roll_up(now=DAY0 + 40 * DAY)

    # Days 0..19 are over 30 days old, but were rolled up only 10 days ago.
    early = upkeep.apply_retention(RetentionPolicy(), now=DAY0 + 50 * DAY)
    # Rolled up 15 days ago: every raw summary goes, and the records of days 0..24.
    late = upkeep.apply_retention(RetentionPolicy(), now=DAY0 + 55 * DAY)

    assert (early["metric_summaries"], early["batches"]) == (0, 0)
    assert (late["metric_summaries"], late["batches"]) == (40, 25)
    assert column(engine, BatchRecord, "received_at")[0] == DAY0 + 25 * DAY + 9 * HOUR + MINUTE


def test_a_retried_batch_is_still_recognised_while_its_record_is_kept(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    sent = batch("host-a", 1, [(DAY0, {CPU: samples(1)})])
    store.ingest("host-a", sent, received_at=DAY0 + MINUTE, sent_at=None)
    upkeep.roll_up(now=DAY0 + HOUR)
    upkeep.apply_retention(RetentionPolicy(), now=DAY0 + 29 * DAY)

    again = store.ingest("host-a", sent, received_at=DAY0 + 29 * DAY, sent_at=None)

    assert again.stored is False
    assert upkeep.roll_up(now=DAY0 + 29 * DAY + HOUR).batches == 0


def test_a_policy_refuses_negative_days_and_empty_chunks() -> None:
    with pytest.raises(ValueError, match="hourly_days must be 0"):
        RetentionPolicy(hourly_days=-1)
    with pytest.raises(ValueError, match="chunk_rows must be at least 1"):
        RetentionPolicy(chunk_rows=0)
    with pytest.raises(ValueError, match="finding_history_days must be 0"):
        RetentionPolicy(finding_history_days=-1)


def test_it_deletes_finding_history_points_past_finding_history_days_in_chunks(
    upkeep: Upkeep, engine: sa.Engine, deletes: list[int]
) -> None:
    findings = SqlFindings(engine)
    writer = finding("trend", "writer", {}, cause="unknown", effect=0.9)
    # Six daily runs find it; then it is gone for good (resolved on the third miss).
    record_runs(findings, [[writer]] * 6 + [[]] * 4, start=DAY0, every=DAY)
    now = DAY0 + 10 * DAY

    deleted = upkeep.apply_retention(
        RetentionPolicy(**{**KEEP_ALL, "finding_history_days": 7, "chunk_rows": 2}), now=now
    )

    assert deleted == {**dict.fromkeys(TABLES, 0), "finding_history": 3}
    assert deletes == [2, 1]
    history = findings.history(writer.key)
    assert [p.detected_at for p in history.points] == [DAY0 + day * DAY for day in (3, 4, 5)]
    assert [e.event for e in history.events] == ["opened", "resolved"]
    stored = findings.get(writer.key)
    assert stored is not None
    assert (stored.status, stored.runs_seen) == ("resolved", 6)


def test_finding_history_days_of_zero_keeps_every_point(upkeep: Upkeep, engine: sa.Engine) -> None:
    findings = SqlFindings(engine)
    writer = finding("trend", "writer", {}, cause="unknown", effect=0.9)
    record_runs(findings, [[writer]] * 3, start=DAY0, every=400 * DAY)

    deleted = upkeep.apply_retention(policy(), now=DAY0 + 2000 * DAY)
    default = upkeep.apply_retention(RetentionPolicy(), now=DAY0 + 800 * DAY + 729 * DAY)

    assert deleted["finding_history"] == 0
    assert default["finding_history"] == 2  # 730 days by default: the two oldest go
    assert len(findings.history(writer.key).points) == 1
