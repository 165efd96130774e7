"""Interval summaries: count, sum, min, max and quantiles per series, never raw samples."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.collectors.base import Sample
from agent.summary import (
    EARLIEST_TIME,
    MAX_INTERVAL_SECONDS,
    IntervalAccumulator,
    interval_start,
    quantile,
    summarise,
)

T0 = 1_764_000_000.0


def test_quantiles_interpolate_like_numpy_default() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert quantile(values, 0.5) == 3.0
    assert quantile(values, 0.9) == pytest.approx(7.6)
    assert quantile([5.0], 0.99) == 5.0


def test_a_summary_holds_count_sum_min_max_and_quantiles() -> None:
    summary = summarise("load1", {}, [0.5, 0.1, 0.9, 0.3])
    assert (summary.count, summary.min, summary.max) == (4, 0.1, 0.9)
    assert summary.sum == pytest.approx(1.8)
    assert summary.p50 == pytest.approx(0.4)


def test_series_are_kept_apart_by_name_and_labels_and_flush_empties() -> None:
    accumulator = IntervalAccumulator()
    disk_a = (("device", "sda"),)
    disk_b = (("device", "sdb"),)
    accumulator.add([Sample("disk_io_latency_seconds", 0.004, disk_a)])
    accumulator.add([Sample("disk_io_latency_seconds", 0.020, disk_b)])
    accumulator.add([Sample("disk_io_latency_seconds", 0.006, disk_a), Sample("load1", 1.0)])
    summaries = accumulator.flush()
    assert [(s.name, s.labels, s.count) for s in summaries] == [
        ("disk_io_latency_seconds", {"device": "sda"}, 2),
        ("disk_io_latency_seconds", {"device": "sdb"}, 1),
        ("load1", {}, 1),
    ]
    assert accumulator.flush() == []


def test_non_finite_samples_are_left_out() -> None:
    accumulator = IntervalAccumulator()
    accumulator.add([Sample("load1", math.nan), Sample("load1", math.inf), Sample("load1", 2.0)])
    (summary,) = accumulator.flush()
    assert summary.count == 1


def test_samples_beyond_the_advisors_range_are_left_out_like_nan() -> None:
    accumulator = IntervalAccumulator()
    accumulator.add([Sample("x", 2e21), Sample("x", -2e21), Sample("x", 1e21), Sample("x", 1.0)])
    (summary,) = accumulator.flush()
    assert (summary.count, summary.max) == (2, 1e21)


def test_series_past_the_bound_are_left_out_and_counted() -> None:
    accumulator = IntervalAccumulator(max_series=2)
    accumulator.add([Sample("a", 1.0), Sample("b", 1.0), Sample("c", 1.0), Sample("a", 2.0)])
    assert [(s.name, s.count) for s in accumulator.flush()] == [("a", 2), ("b", 1)]
    assert accumulator.dropped_series == 1


def test_an_interval_starts_when_the_wall_clock_said_it_did() -> None:
    assert interval_start(T0, T0 + 60, elapsed=59.5) == T0


def test_a_wall_clock_stepped_back_never_ends_an_interval_before_it_starts() -> None:
    # A dual-boot machine whose RTC keeps local time: NTP steps the clock back two hours.
    start = interval_start(T0 + 7_200, T0 + 60, elapsed=60.0)
    assert start == T0
    assert interval_start(T0 + 7_200, T0 + 60, elapsed=-1.0) == T0 + 60


def test_a_clock_set_from_1970_during_the_interval_starts_it_by_the_monotonic_clock() -> None:
    assert interval_start(60.0, T0 + 60, elapsed=30.0) == T0 + 30


def test_an_interval_is_never_longer_than_the_advisor_takes() -> None:
    start = interval_start(T0 - 200 * 86_400, T0, elapsed=200 * 86_400)
    assert T0 - start == MAX_INTERVAL_SECONDS
    assert interval_start(0.0, EARLIEST_TIME + 5, elapsed=60.0) == EARLIEST_TIME


@given(
    st.floats(0, 4e9),
    st.floats(EARLIEST_TIME, 4e9),
    st.floats(-1e9, 1e10),
)
def test_every_interval_start_is_one_the_advisor_takes(
    wall_start: float, wall_end: float, elapsed: float
) -> None:
    start = interval_start(wall_start, wall_end, elapsed)
    assert EARLIEST_TIME <= start <= wall_end
    assert wall_end - start <= MAX_INTERVAL_SECONDS


@given(st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=200))
def test_quantiles_are_ordered_and_within_the_range(values: list[float]) -> None:
    summary = summarise("x", {}, values)
    assert summary.min <= summary.p50 <= summary.p90 <= summary.p99 <= summary.max
    assert summary.count == len(values)
