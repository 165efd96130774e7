from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.analysis.seasonal import seasonality
from tests.advisor.analysis.noise import heavy_tailed

# A weekday cycle of daily median log load times: Monday's cold caches, a quiet Friday.
WEEKDAYS = np.array([0.06, 0.02, 0.0, -0.01, -0.07, 0.0, 0.0])


def days(n: int) -> np.ndarray:
    return np.arange(n)


def weekly(n: int) -> np.ndarray:
    return np.tile(WEEKDAYS, n // 7 + 1)[:n]


def hourly(n: int, amplitude: float) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * np.arange(n) / 24)


def test_it_finds_the_weekday_cycle_of_daily_medians_and_estimates_it() -> None:
    rng = np.random.default_rng(1)
    n = 91
    values = 0.01 * rng.standard_t(4, n) + weekly(n)

    found = seasonality(days(n), values, periods=[7])

    assert found.period == 7
    assert found.statistic > found.threshold
    assert np.max(np.abs(found.component - weekly(n))) < 0.02


def test_it_finds_an_hourly_cycle_without_being_told_its_period() -> None:
    found = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        values = 0.1 * rng.standard_t(4, 480) + hourly(480, 0.3)
        found.append(seasonality(days(480), values).period)

    assert found.count(24) >= 19


@pytest.mark.parametrize(
    "shape",
    ["stationary", "level shift", "trend", "shift on a trend"],
)
def test_a_series_without_a_cycle_passes_through_unchanged(shape: str) -> None:
    n = 300
    changed = 0
    for seed in range(100):
        values = np.log(heavy_tailed(np.random.default_rng(seed), n))
        if shape in {"level shift", "shift on a trend"}:
            values[200:] += math.log(1.35)
        if shape in {"trend", "shift on a trend"}:
            values += np.linspace(0.0, 0.6, n)

        found = seasonality(days(n), values)

        if found.period is not None:
            changed += 1
        else:
            assert not found.component.any()
    assert changed <= 1


def test_a_weekday_cycle_too_weak_to_pay_its_price_is_left_in() -> None:
    rng = np.random.default_rng(4)
    values = 0.05 * rng.standard_t(4, 91) + 0.1 * weekly(91)

    found = seasonality(days(91), values, periods=[7])

    assert found.period is None
    assert found.statistic < found.threshold
    assert not found.component.any()


def test_a_level_shift_does_not_leak_into_the_seasonal_part() -> None:
    rng = np.random.default_rng(2)
    n = 480
    cycle = hourly(n, 0.3)
    values = 0.05 * rng.standard_t(4, n) + cycle
    values[250:] += math.log(1.3)

    found = seasonality(days(n), values, periods=[24])

    assert found.period == 24
    # Around the shift, at the ends and elsewhere, the estimate stays within the noise of
    # the true cycle: the shift (0.26) is not spread over the phases.
    assert np.max(np.abs(found.component - cycle)) < 0.045


def test_periods_count_points_of_the_series_as_given_across_gaps() -> None:
    # Daily points with weekends missing, as the fleet's series of working days are.
    rng = np.random.default_rng(3)
    n = 91
    values = 0.01 * rng.standard_t(4, n) + weekly(n)
    working = np.flatnonzero(np.arange(n) % 7 < 5)

    found = seasonality(working, values[working], periods=[7])

    assert found.period == 7
    assert found.component.shape == working.shape
    assert np.max(np.abs(found.component - weekly(n)[working])) < 0.02


def test_it_skips_the_step_when_no_period_is_allowed() -> None:
    rng = np.random.default_rng(1)
    values = 0.01 * rng.standard_t(4, 91) + weekly(91)

    found = seasonality(days(91), values, periods=())

    assert found.period is None
    assert math.isnan(found.statistic)


def test_it_ignores_periods_below_two_points_or_with_fewer_than_three_cycles() -> None:
    rng = np.random.default_rng(1)
    values = 0.01 * rng.standard_t(4, 91) + weekly(91)

    assert seasonality(days(91), values, periods=[7, 31]).period == 7
    found = seasonality(days(91), values, periods=[1, 31])
    assert found.period is None
    assert math.isnan(found.statistic)  # neither was tested


def test_it_gives_the_same_estimate_for_the_same_series() -> None:
    rng = np.random.default_rng(5)
    values = 0.1 * rng.standard_t(4, 480) + hourly(480, 0.3)

    first = seasonality(days(480), values)
    second = seasonality(days(480), values.copy())

    assert first.period == second.period == 24
    np.testing.assert_array_equal(first.component, second.component)


def test_it_refuses_positions_and_values_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="positions"):
        seasonality([0, 1, 2], [1.0, 2.0])
