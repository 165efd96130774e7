"""Interval summaries: count, sum, min, max and quantiles per series, never raw samples."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.collectors.base import Sample
from agent.summary import IntervalAccumulator, quantile, summarise


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


@given(st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=200))
def test_quantiles_are_ordered_and_within_the_range(values: list[float]) -> None:
    summary = summarise("x", {}, values)
    assert summary.min <= summary.p50 <= summary.p90 <= summary.p99 <= summary.max
    assert summary.count == len(values)
