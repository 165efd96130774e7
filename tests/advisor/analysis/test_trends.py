from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.analysis.trends import DAY_SECONDS, trend, trends
from tests.advisor.analysis.noise import heavy_tailed


def launches(rng: np.random.Generator, days: float, per_day: int) -> np.ndarray:
    return np.sort(rng.uniform(0.0, days * DAY_SECONDS, int(days * per_day)))


def test_it_finds_a_slow_trend_and_its_rate_per_30_days() -> None:
    rng = np.random.default_rng(1)
    t = launches(rng, 90, 10)
    # 10 % slower every 30 days, compounded, under heavy-tailed noise with outliers.
    values = heavy_tailed(rng, t.size) * 1.1 ** (t / (30 * DAY_SECONDS))
    result = trend(t, values)
    assert result.found
    assert result.relative_per_30_days == pytest.approx(0.1, abs=0.03)
    low, high = result.interval
    assert low < 0.1 < high
    assert result.p_value < 1e-6
    assert result.points == t.size
    assert result.log


def test_it_finds_a_speed_up_as_a_negative_trend() -> None:
    rng = np.random.default_rng(2)
    t = launches(rng, 60, 8)
    values = heavy_tailed(rng, t.size, outliers=0.0) * 0.85 ** (t / (30 * DAY_SECONDS))
    result = trend(t, values)
    assert result.found
    assert result.relative_per_30_days == pytest.approx(-0.15, abs=0.04)


def test_it_finds_no_trend_in_stationary_noise_across_many_series() -> None:
    rng = np.random.default_rng(3)
    series = []
    for _ in range(200):
        t = launches(rng, 90, 5)
        series.append((t, heavy_tailed(rng, t.size)))
    results = trends(series)
    assert sum(r.found for r in results) <= 2
    assert all(r.q_value >= r.p_value for r in results)


def test_it_judges_many_series_on_q_values() -> None:
    rng = np.random.default_rng(4)
    series = []
    for k in range(50):
        t = launches(rng, 60, 5)
        drift = 1.2 ** (t / (30 * DAY_SECONDS)) if k == 0 else 1.0
        series.append((t, heavy_tailed(rng, t.size, outliers=0.0) * drift))
    results = trends(series)
    assert results[0].found
    assert not any(r.found for r in results[1:])


def test_it_ignores_a_drift_too_small_to_matter() -> None:
    rng = np.random.default_rng(5)
    t = launches(rng, 90, 40)
    values = np.exp(rng.normal(0.0, 0.01, t.size)) * 1.01 ** (t / (30 * DAY_SECONDS))
    result = trend(t, values)
    assert result.p_value < 1e-6
    assert not result.found


def test_it_reduces_a_long_series_to_chunk_medians_without_losing_the_slope() -> None:
    rng = np.random.default_rng(6)
    t = launches(rng, 90, 60)
    values = heavy_tailed(rng, t.size) * 1.1 ** (t / (30 * DAY_SECONDS))
    assert trend(t, values, max_points=100).relative_per_30_days == pytest.approx(0.1, abs=0.03)


def test_it_skips_missing_values_and_reports_nothing_for_too_few_points() -> None:
    result = trend([0.0, 1.0, 2.0, 3.0], [1.0, math.nan, math.nan, 2.0])
    assert not result.found
    assert math.isnan(result.p_value)
    assert result.points == 0


def test_it_refuses_times_and_values_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="3 points"):
        trend([0.0, 1.0, 2.0], [1.0, 2.0])
