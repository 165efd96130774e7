from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from advisor.analysis.changepoints import detect_change_points
from advisor.analysis.series_csv import parse_series_csv
from tests.advisor.analysis.noise import heavy_tailed, steps

FIXTURES = Path(__file__).parents[2] / "fixtures" / "analysis"
TOLERANCE = 3


def near(found: list[int], expected: list[int]) -> bool:
    return len(found) == len(expected) and all(
        abs(f - e) <= TOLERANCE for f, e in zip(found, expected, strict=True)
    )


def within(found: list[int], expected: list[int], tolerance: int) -> bool:
    return len(found) == len(expected) and all(
        abs(f - e) <= tolerance for f, e in zip(found, expected, strict=True)
    )


def test_it_finds_a_doubling_of_log_normal_load_times_within_three_points() -> None:
    for seed in range(20):
        rng = np.random.default_rng(seed)
        values = np.exp(rng.normal(0.0, 0.2, 400)) * 2.0
        values[250:] *= 2.0
        assert near(detect_change_points(values, intervals=False).indices, [250]), seed


def test_it_places_a_50_percent_step_within_three_points_in_most_series() -> None:
    found = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        values = np.exp(rng.normal(0.0, 0.25, 400)) * 2.0
        values[250:] *= 1.5
        found.append(detect_change_points(values, intervals=False).indices)
    assert all(within(f, [250], 10) for f in found)
    assert sum(near(f, [250]) for f in found) >= 17


def test_it_finds_two_steps_through_heavy_tails_and_outliers() -> None:
    found = []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        values = steps(rng, 500, {150: 0.8, 320: -0.45}, df=3.0, outliers=0.03)
        found.append(detect_change_points(values, intervals=False).indices)
    assert all(within(f, [150, 320], 20) for f in found)
    assert sum(near(f, [150, 320]) for f in found) >= 16


def test_it_finds_a_35_percent_slowdown_with_30_points_after_it() -> None:
    found = []
    for seed in range(40):
        rng = np.random.default_rng(200 + seed)
        # The simulator's noise: Student-t(4) scaled to unit variance, times sigma 0.25.
        values = steps(rng, 300, {270: 0.35}, sigma=0.25 / math.sqrt(2), df=4.0, outliers=0.0)
        found.append(detect_change_points(values, intervals=False).indices)
    assert sum(near(f, [270]) for f in found) >= 30
    assert sum(any(abs(i - 270) <= 10 for i in f) for f in found) >= 36


@pytest.mark.parametrize("n", [100, 500, 2000])
def test_it_finds_no_change_point_in_stationary_heavy_tailed_noise(n: int) -> None:
    flagged = sum(
        bool(detect_change_points(heavy_tailed(np.random.default_rng(seed), n)).indices)
        for seed in range(300)
    )
    assert flagged <= 3  # at most 1 % of series


def test_it_ignores_a_short_burst_of_slow_launches() -> None:
    rng = np.random.default_rng(7)
    values = heavy_tailed(rng, 300, outliers=0.0)
    values[140:145] *= 3.0  # a 45-minute outage: a handful of launches
    assert detect_change_points(values).indices == []


def test_it_counts_indices_in_the_series_as_given_across_gaps() -> None:
    rng = np.random.default_rng(3)
    values = steps(rng, 300, {150: 0.8}, outliers=0.0)
    values[140:160] = np.nan  # the agent was offline
    values[::7] = np.nan
    found = detect_change_points(values).indices
    assert len(found) == 1
    # The first observed point of the new segment: 160 when the shift is placed exactly.
    assert 160 <= found[0] <= 160 + TOLERANCE
    assert math.isfinite(values[found[0]])


def test_it_reports_each_shift_with_an_interval_containing_the_truth() -> None:
    rng = np.random.default_rng(11)
    values = steps(rng, 600, {200: 0.5, 400: -0.3}, outliers=0.0)
    detection = detect_change_points(values)
    assert near(detection.indices, [200, 400])
    up, down = detection.change_points
    low, high = up.shift.relative_interval
    assert low < 0.5 < high
    assert 0.35 < up.shift.relative < 0.65
    low, high = down.shift.relative_interval
    assert low < -0.3 < high


def test_it_describes_the_segments_in_seconds() -> None:
    values = np.r_[np.full(30, 2.0), np.full(30, 3.0)]
    values[45] = np.nan
    detection = detect_change_points(values)
    assert [(s.start, s.end, s.median, s.count) for s in detection.segments] == [
        (0, 30, 2.0, 30),
        (30, 60, 3.0, 29),
    ]
    assert detection.points == 60
    assert detection.observed == 59
    assert detection.log


def test_it_merges_shifts_smaller_than_the_minimum() -> None:
    rng = np.random.default_rng(5)
    values = np.exp(rng.normal(0.0, 0.01, 2000))
    values[1000:] *= 1.03
    assert near(detect_change_points(values, min_relative_shift=0.0).indices, [1000])
    assert detect_change_points(values).indices == []


def test_it_works_on_the_linear_scale_when_values_are_not_positive() -> None:
    values = np.r_[np.zeros(40), np.full(40, -5.0)] + np.tile([0.1, -0.1], 40)
    detection = detect_change_points(values)
    assert not detection.log
    assert detection.indices == [40]
    assert detection.change_points[0].shift.estimate == pytest.approx(-5.0)


@pytest.mark.parametrize(
    "values",
    [[], [math.nan] * 50, [1.0] * 100, [1.0, 2.0] * 9],
    ids=["empty", "all missing", "constant", "shorter than two segments"],
)
def test_it_finds_nothing_where_nothing_can_be_split(values: list[float]) -> None:
    assert detect_change_points(values).indices == []


def test_it_refuses_a_minimum_segment_below_two_points() -> None:
    with pytest.raises(ValueError, match="min_size"):
        detect_change_points([1.0] * 10, min_size=1)


def test_it_finds_the_version_change_in_a_recorded_simulator_series() -> None:
    truth = json.loads((FIXTURES / "libreoffice-warm.truth.json").read_text())
    data = (FIXTURES / "libreoffice-warm.csv").read_bytes()
    series = parse_series_csv(data, "libreoffice-warm.csv")
    detection = detect_change_points(series.values)
    assert near(detection.indices, [truth["first_index_after"]])
    low, high = detection.change_points[0].shift.relative_interval
    assert low < truth["effect"] < high
