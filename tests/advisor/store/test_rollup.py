"""Rollups on SQLite and PostgreSQL: exact per hour and day, right for late batches, idempotent."""

from __future__ import annotations

import math
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from advisor.store import retention
from advisor.store.analysis_data import Upkeep
from advisor.store.models import BatchRecord, DailyRollupRow, HourlyRollupRow
from advisor.store.rollup import (
    Stats,
    aggregate,
    bucket_start,
    complete_before,
    merge,
)
from advisor.store.sql import SqlStore, canonical_labels
from tests.advisor.store.batches import (
    CPU,
    DAY,
    DAY0,
    HOUR,
    MINUTE,
    RSS,
    Series,
    batch,
    enrol,
    samples,
)

NOW = DAY0 + 2 * DAY


def rollups(
    engine: sa.Engine, model: type[Any]
) -> dict[tuple[str, str, str, float], dict[str, Any]]:
    """Rollup rows by (host, name, labels, bucket start)."""
    table: sa.Table = model.__table__
    with engine.connect() as conn:
        return {
            (row.host_id, row.name, row.labels, row.bucket_start): dict(row._mapping)
            for row in conn.execute(sa.select(table))
        }


def key(host: str, series: Series, start: float) -> tuple[str, str, str, float]:
    name, labels = series
    return (host, name, canonical_labels(dict(labels)), start)


def exact(values: list[float]) -> dict[str, float]:
    return {"count": len(values), "sum": math.fsum(values), "min": min(values), "max": max(values)}


def stats_of(row: dict[str, Any]) -> dict[str, float]:
    return {name: row[name] for name in ("count", "sum", "min", "max")}


def test_it_rolls_up_count_sum_min_and_max_exactly_per_hour_and_day(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a", "host-b")
    a1, a2, a3, b1 = samples(1), samples(2), samples(3), samples(4)
    store.ingest(
        "host-a",
        batch(
            "host-a",
            1,
            [(DAY0 + 9 * HOUR, {CPU: a1, RSS: a3}), (DAY0 + 9 * HOUR + MINUTE, {CPU: a2})],
        ),
        received_at=DAY0 + 9 * HOUR + 2 * MINUTE,
        sent_at=None,
    )
    store.ingest(
        "host-a",
        batch("host-a", 2, [(DAY0 + 10 * HOUR + 30 * MINUTE, {CPU: a3})]),
        received_at=DAY0 + 10 * HOUR + 31 * MINUTE,
        sent_at=None,
    )
    store.ingest(
        "host-b",
        batch("host-b", 1, [(DAY0 + 9 * HOUR + 5 * MINUTE, {CPU: b1})]),
        received_at=DAY0 + 9 * HOUR + 6 * MINUTE,
        sent_at=None,
    )

    done = upkeep.roll_up(now=NOW)

    assert (done.batches, done.summaries) == (3, 5)
    hourly = rollups(engine, HourlyRollupRow)
    assert set(hourly) == {
        key("host-a", CPU, DAY0 + 9 * HOUR),
        key("host-a", RSS, DAY0 + 9 * HOUR),
        key("host-a", CPU, DAY0 + 10 * HOUR),
        key("host-b", CPU, DAY0 + 9 * HOUR),
    }
    assert stats_of(hourly[key("host-a", CPU, DAY0 + 9 * HOUR)]) == exact(a1 + a2)
    assert stats_of(hourly[key("host-a", CPU, DAY0 + 10 * HOUR)]) == exact(a3)
    assert stats_of(hourly[key("host-b", CPU, DAY0 + 9 * HOUR)]) == exact(b1)
    daily = rollups(engine, DailyRollupRow)
    assert stats_of(daily[key("host-a", CPU, DAY0)]) == exact(a1 + a2 + a3)
    assert stats_of(daily[key("host-a", RSS, DAY0)]) == exact(a3)
    assert stats_of(daily[key("host-b", CPU, DAY0)]) == exact(b1)
    assert {row["updated_at"] for row in daily.values()} == {NOW}


def test_the_quantiles_are_the_count_weighted_mean_of_the_interval_quantiles(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    short, long = samples(1, n=4), samples(2, n=12)
    sent = batch("host-a", 1, [(DAY0, {CPU: short}), (DAY0 + MINUTE, {CPU: long})])
    store.ingest("host-a", sent, received_at=DAY0 + HOUR, sent_at=None)

    upkeep.roll_up(now=NOW)

    [first, second] = [interval.metrics[0] for interval in sent.intervals]
    [row] = rollups(engine, HourlyRollupRow).values()
    for quantile in ("p50", "p90", "p99"):
        expected = (getattr(first, quantile) * 4 + getattr(second, quantile) * 12) / 16
        assert row[quantile] == pytest.approx(expected)
        assert row["min"] <= row[quantile] <= row["max"]


def test_a_late_batch_updates_an_hour_and_day_already_rolled_up(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    on_time, late, other = samples(1), samples(2), samples(3)
    store.ingest(
        "host-a",
        batch("host-a", 1, [(DAY0 + 9 * HOUR, {CPU: on_time}), (DAY0 + 11 * HOUR, {CPU: other})]),
        received_at=DAY0 + 11 * HOUR + MINUTE,
        sent_at=None,
    )
    upkeep.roll_up(now=DAY0 + 12 * HOUR)
    before = rollups(engine, HourlyRollupRow)
    # Spooled for days on a laptop that was offline, delivered after its newer batches.
    store.ingest(
        "host-a",
        batch("host-a", 2, [(DAY0 + 9 * HOUR + 30 * MINUTE, {CPU: late})]),
        received_at=DAY0 + 3 * DAY,
        sent_at=None,
    )

    done = upkeep.roll_up(now=DAY0 + 3 * DAY + 5 * MINUTE)

    assert done.batches == 1
    hourly = rollups(engine, HourlyRollupRow)
    nine = hourly[key("host-a", CPU, DAY0 + 9 * HOUR)]
    assert stats_of(nine) == exact(on_time + late)
    assert nine["updated_at"] == DAY0 + 3 * DAY + 5 * MINUTE
    assert (
        hourly[key("host-a", CPU, DAY0 + 11 * HOUR)] == before[key("host-a", CPU, DAY0 + 11 * HOUR)]
    )
    daily = rollups(engine, DailyRollupRow)
    assert stats_of(daily[key("host-a", CPU, DAY0)]) == exact(on_time + late + other)


def test_a_late_batch_is_merged_right_after_the_raw_rows_of_its_hour_are_deleted(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    on_time, late = samples(1), samples(2)
    store.ingest(
        "host-a",
        batch("host-a", 1, [(DAY0 + 9 * HOUR, {CPU: on_time})]),
        received_at=DAY0 + 9 * HOUR + MINUTE,
        sent_at=None,
    )
    upkeep.roll_up(now=DAY0 + 10 * HOUR)
    deleted = upkeep.apply_retention(
        retention.RetentionPolicy(summaries_days=1), now=DAY0 + 3 * DAY
    )
    assert deleted["metric_summaries"] == 1
    store.ingest(
        "host-a",
        batch("host-a", 2, [(DAY0 + 9 * HOUR + MINUTE, {CPU: late})]),
        received_at=DAY0 + 3 * DAY,
        sent_at=None,
    )

    upkeep.roll_up(now=DAY0 + 3 * DAY + MINUTE)

    hourly = rollups(engine, HourlyRollupRow)
    assert stats_of(hourly[key("host-a", CPU, DAY0 + 9 * HOUR)]) == exact(on_time + late)


def test_running_the_rollup_twice_changes_nothing(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    for sequence in range(1, 4):
        start = DAY0 + sequence * 20 * MINUTE
        store.ingest(
            "host-a",
            batch("host-a", sequence, [(start, {CPU: samples(sequence), RSS: samples(9)})]),
            received_at=start + MINUTE,
            sent_at=None,
        )
    upkeep.roll_up(now=NOW)
    hourly, daily = rollups(engine, HourlyRollupRow), rollups(engine, DailyRollupRow)

    again = upkeep.roll_up(now=NOW + HOUR)

    assert (again.batches, again.summaries, again.hourly_rows) == (0, 0, 0)
    assert rollups(engine, HourlyRollupRow) == hourly
    assert rollups(engine, DailyRollupRow) == daily


def test_it_rolls_up_in_chunks_and_marks_every_batch(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    for sequence in range(1, 6):
        store.ingest(
            "host-a",
            batch("host-a", sequence, [(DAY0 + sequence * MINUTE, {CPU: samples(sequence)})]),
            received_at=DAY0 + sequence * MINUTE + 30,
            sent_at=None,
        )
    chunks: list[int] = []

    done = upkeep.roll_up(
        now=NOW,
        chunk_batches=2,
        between_chunks=lambda: chunks.append(upkeep.backlog().batches),
    )

    assert done.batches == 5
    assert chunks == [3, 1]
    with engine.connect() as conn:
        marks = conn.execute(sa.select(BatchRecord.__table__.c.rolled_up_at)).scalars().all()
    assert marks == [NOW] * 5
    [row] = rollups(engine, HourlyRollupRow).values()
    assert row["count"] == 5 * 12


def test_the_current_hour_is_partial_and_grows_as_its_batches_arrive(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    first, second = samples(1), samples(2)
    hour = DAY0 + 15 * HOUR
    store.ingest(
        "host-a",
        batch("host-a", 1, [(hour, {CPU: first})]),
        received_at=hour + MINUTE,
        sent_at=None,
    )
    upkeep.roll_up(now=hour + 2 * MINUTE)
    assert complete_before(hour + 2 * MINUTE, HOUR) == hour  # this hour is not complete yet
    assert stats_of(rollups(engine, HourlyRollupRow)[key("host-a", CPU, hour)]) == exact(first)

    store.ingest(
        "host-a",
        batch("host-a", 2, [(hour + 59 * MINUTE, {CPU: second})]),
        received_at=hour + HOUR,
        sent_at=None,
    )
    upkeep.roll_up(now=hour + HOUR + MINUTE)

    assert complete_before(hour + HOUR + MINUTE, HOUR) == hour + HOUR
    assert stats_of(rollups(engine, HourlyRollupRow)[key("host-a", CPU, hour)]) == exact(
        first + second
    )


def test_the_backlog_counts_batches_waiting_for_the_rollup(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    for sequence in (1, 2):
        store.ingest(
            "host-a",
            batch("host-a", sequence, [(DAY0, {CPU: samples(sequence)})]),
            received_at=DAY0 + sequence * MINUTE,
            sent_at=None,
        )

    waiting = upkeep.backlog()
    upkeep.roll_up(now=NOW)

    assert (waiting.batches, waiting.oldest_received_at) == (2, DAY0 + MINUTE)
    assert upkeep.backlog().batches == 0
    assert upkeep.backlog().oldest_received_at is None


def test_a_batch_without_summaries_is_marked_rolled_up_too(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    enrol(store, "host-a")
    store.ingest("host-a", batch("host-a", 1, [], launches=[DAY0]), received_at=DAY0, sent_at=None)

    done = upkeep.roll_up(now=NOW)

    assert (done.batches, done.summaries) == (1, 0)
    assert upkeep.backlog().batches == 0


def test_a_summary_belongs_to_the_utc_hour_and_day_its_interval_starts_in() -> None:
    assert bucket_start(DAY0 + HOUR - 0.001, HOUR) == DAY0
    assert bucket_start(DAY0 + HOUR, HOUR) == DAY0 + HOUR
    assert bucket_start(DAY0 + DAY - 1, DAY) == DAY0


_stats = st.builds(
    lambda count, values: Stats(
        count=count,
        sum=sum(values),
        min=min(values),
        max=max(values),
        p50=sorted(values)[1],
        p90=sorted(values)[1],
        p99=sorted(values)[2],
    ),
    st.integers(min_value=1, max_value=1000),
    st.lists(st.integers(min_value=-1000, max_value=1000).map(float), min_size=3, max_size=3),
)


@given(st.lists(_stats, min_size=1, max_size=8), st.randoms())
def test_merging_in_any_order_gives_the_same_bucket(parts: list[Stats], rng: Any) -> None:
    shuffled = list(parts)
    rng.shuffle(shuffled)

    def fold(items: list[Stats]) -> Stats:
        total = items[0]
        for item in items[1:]:
            total = merge(total, item)
        return total

    one, other = fold(parts), fold(shuffled)
    assert (one.count, one.sum, one.min, one.max) == (other.count, other.sum, other.min, other.max)
    assert one.p50 == pytest.approx(other.p50)
    assert one.min <= one.p50 <= one.max


def test_hourly_buckets_merged_into_a_day_equal_the_day_rolled_up_at_once() -> None:
    rows = [
        {
            "host_id": "h",
            "name": "cpu",
            "labels": "{}",
            "interval_start": DAY0 + i * 17 * MINUTE,
            "count": i + 1,
            "sum": float(i),
            "min": float(-i),
            "max": float(i * 2),
            "p50": float(i),
            "p90": float(i + 1),
            "p99": float(i + 2),
        }
        for i in range(12)
    ]
    hours = aggregate(rows, HOUR)
    [day] = aggregate(rows, DAY).values()

    merged = list(hours.values())
    total = merged[0]
    for part in merged[1:]:
        total = merge(total, part)

    assert (total.count, total.sum, total.min, total.max) == (day.count, day.sum, day.min, day.max)
    assert total.p90 == pytest.approx(day.p90)
