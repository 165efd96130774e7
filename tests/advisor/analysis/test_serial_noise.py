"""Change points under serially correlated noise and bending trends (issue 13), on cells of
the synthetic grid (tests/advisor/analysis/synthetic_grid.py) and on the parts alone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.analysis.changepoints import detect_change_points
from advisor.analysis.serial import (
    MAX_PHI,
    ar1_coefficient,
    median_variance_factor,
    whiten,
    whitening_coefficient,
)
from advisor.analysis.trend_fit import grow_bends
from tests.advisor.analysis.synthetic_grid import Cell, ar1, judge, score, series

SEEDS = range(60)


@pytest.mark.parametrize(("phi", "n"), [(0.3, 90), (0.3, 300), (0.6, 90), (0.6, 300)])
def test_ar1_noise_gives_a_false_change_point_in_at_most_5_percent_of_series(
    phi: float, n: int
) -> None:
    result = score(Cell(f"ar{phi}", "flat", "none", 0.0, n), SEEDS)
    assert result.false <= 0.05


def test_ar1_noise_of_phi_09_gives_far_fewer_false_change_points_than_the_search_alone() -> None:
    # Not yet 5 %: the estimate of phi reads 0.9 as 0.86 under Student-t innovations, and so
    # close to 1 that leaves the whitened noise wandering (docs/analysis.md).
    cell = Cell("ar0.9", "flat", "none", 0.0, 300)
    model = score(cell, SEEDS)
    alone = score(
        cell,
        SEEDS,
        lambda v: (
            detect_change_points(v, intervals=False, periods=(), trend=False, serial=False).indices
        ),
    )
    assert alone.false >= 0.9
    assert model.false <= 0.3


def test_a_step_in_ar1_noise_is_still_found_at_its_place() -> None:
    assert score(Cell("ar0.6", "flat", "none", 0.35, 300), SEEDS).found >= 0.85
    assert score(Cell("ar0.3", "flat", "none", 0.2, 300), SEEDS).found >= 0.85


def test_independent_noise_loses_no_step_to_the_noise_model() -> None:
    for step in (0.2, 0.35):
        cell = Cell("iid", "flat", "none", step, 90)
        model = score(cell, SEEDS)
        independent = score(
            cell, SEEDS, lambda v: detect_change_points(v, intervals=False, serial=False).indices
        )
        assert model.found >= independent.found - 0.05


@pytest.mark.parametrize("n", [300, 1000])
def test_a_bend_is_one_bend_not_a_staircase_of_shifts(n: int) -> None:
    flagged, bent = 0, 0
    for seed in range(30):
        detection = detect_change_points(series(Cell("iid", "bend", "none", 0.0, n), seed))
        flagged += bool(detection.indices)
        bent += len(detection.bends) == 1 and abs(detection.bends[0] - n // 2) <= n // 10
    assert flagged <= 1
    assert bent >= 27


def test_a_step_after_a_bend_is_found_once_at_its_place() -> None:
    assert score(Cell("iid", "bend", "none", 0.35, 1000), range(30)).found >= 0.8


def test_the_slope_reported_is_the_rate_at_the_end_of_the_series() -> None:
    detection = detect_change_points(series(Cell("iid", "bend", "none", 0.0, 1000), 3))
    # Flat, then +40 % over the second half: log(1.4) / 500 per point at the end.
    assert detection.slope == pytest.approx(math.log(1.4) / 500, rel=0.15)


def test_a_shift_on_a_drift_has_an_interval_that_holds_the_truth_in_most_series() -> None:
    held = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        level = 0.177 * rng.standard_t(4, 600) / math.sqrt(2) + math.log(1.5) * np.arange(600) / 600
        level[400:] += math.log(1.35)
        detection = detect_change_points(np.exp(level), n_resamples=399, seed=seed)
        if len(detection.change_points) == 1:
            low, high = detection.change_points[0].shift.relative_interval
            held += low < 0.35 < high
    # The bootstrap alone, taking the slope as known, held it in 29 of 40 (69 % of 98).
    assert held >= 35


def test_a_shift_in_ar1_noise_has_an_interval_that_holds_the_truth_in_most_series() -> None:
    held = total = 0
    for seed in range(40):
        values = series(Cell("ar0.6", "flat", "none", 0.35, 300), seed)
        detection = detect_change_points(values, n_resamples=399, seed=seed)
        if len(detection.change_points) == 1:
            total += 1
            low, high = detection.change_points[0].shift.relative_interval
            held += low < 0.35 < high
    # 94 % of 142 such series held it (docs/analysis.md); the search alone put exactly one
    # change point in 1 of 150.
    assert total >= 34
    assert held >= 0.85 * total


def test_the_ar1_estimate_ignores_level_shifts_slopes_and_outliers() -> None:
    rng = np.random.default_rng(1)
    noise = ar1(rng, 3000, 0.6)
    noise[1500:] += 4.0
    noise += np.linspace(0.0, 3.0, 3000)
    noise[rng.random(3000) < 0.02] += 20.0
    assert ar1_coefficient(noise) == pytest.approx(0.6, abs=0.06)


def test_independent_noise_is_whitened_with_a_coefficient_near_zero() -> None:
    rng = np.random.default_rng(2)
    estimates = [whitening_coefficient(rng.standard_t(3, 2000)) for _ in range(20)]
    assert max(estimates) < 0.1
    assert min(estimates) == 0.0  # negative estimates are clipped


def test_the_coefficient_is_capped_below_a_random_walk() -> None:
    walk = np.cumsum(np.random.default_rng(3).standard_normal(2000))
    assert whitening_coefficient(walk) == MAX_PHI


def test_whitening_turns_ar1_noise_back_into_independent_noise() -> None:
    noise = ar1(np.random.default_rng(4), 5000, 0.8)
    z = whiten(noise, 0.8)
    assert z.size == 4999
    assert abs(float(np.corrcoef(z[1:], z[:-1])[0, 1])) < 0.05
    assert whiten(noise, 0.0) is noise


def test_the_median_of_ar1_noise_varies_by_the_factor_given() -> None:
    rng = np.random.default_rng(5)
    medians = [float(np.median(ar1(rng, 400, 0.6))) for _ in range(1000)]
    # The same marginal law without the correlation: every 40th point of a long series.
    spaced = [float(np.median(ar1(rng, 400 * 40, 0.6)[::40])) for _ in range(1000)]
    ratio = np.var(medians) / np.var(spaced)
    assert ratio == pytest.approx(median_variance_factor(0.6), rel=0.15)


def test_forward_selection_places_a_bend_near_its_place() -> None:
    rng = np.random.default_rng(6)
    u = np.arange(400.0)
    y = 0.01 * np.maximum(u - 250, 0.0) + 0.1 * rng.standard_normal(400)
    fitted = grow_bends(y, u, [], phi=0.0, scale=0.1, price=1.5 * math.log(400), min_size=10)
    assert len(fitted.bends) == 1
    assert abs(fitted.bends[0] - 250) <= 10
    assert fitted.slope_per_point == pytest.approx(0.01, rel=0.1)


def test_the_grid_judges_a_step_found_once_within_five_points() -> None:
    assert judge([603], [600]) == (True, False)
    assert judge([606], [600]) == (False, True)
    assert judge([598, 700], [600]) == (False, True)
    assert judge([], []) == (True, False)
