"""Carrying a pressure's effect to the last day with data: in proportion to the pressure's rise
on that day over its rise in the late period, with hosts as the unit."""

from __future__ import annotations

import math

import numpy as np

from advisor.analysis.window_end import SETTLED, EndRatio, carried, end_ratio, widened


def rises(
    seed: int, mean_rise: float, last_rise: float, hosts: int = 60, noise: float = 0.02
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per host its pressure's rise on the last day and over the late period: half the hosts
    rose by ``mean_rise`` on average and ``last_rise`` on the last day, the others not."""
    rng = np.random.default_rng(seed)
    moved = np.arange(hosts) < hosts // 2
    mean = np.where(moved, mean_rise, 0.0) + noise * rng.standard_normal(hosts)
    last = np.where(moved, last_rise, 0.0) + 2 * noise * rng.standard_normal(hosts)
    return last, mean, moved


def ratio_of(seed: int, mean_rise: float, last_rise: float) -> EndRatio:
    last, mean, moved = rises(seed, mean_rise, last_rise)
    return end_ratio(last, mean, moved, min_hosts=3, confidence=0.95, n_resamples=499, seed=seed)


def test_a_pressure_still_rising_gives_its_ratio_with_an_interval_covering_it() -> None:
    ends = [ratio_of(seed, 0.2, 0.24) for seed in range(40)]

    assert abs(np.mean([e.ratio for e in ends]) - 1.2) < 0.01
    assert sum(e.low <= 1.2 <= e.high for e in ends) >= 36


def test_a_pressure_that_settled_gives_a_ratio_of_one() -> None:
    ends = [ratio_of(seed, 0.3, 0.3) for seed in range(40)]

    assert abs(np.mean([e.ratio for e in ends]) - 1.0) < 0.01
    assert sum(e.low <= 1.0 <= e.high for e in ends) >= 36


def test_a_rise_every_host_shares_cancels() -> None:
    last, mean, moved = rises(1, 0.2, 0.2)

    shifted = end_ratio(
        last + 0.1, mean + 0.05, moved, min_hosts=3, confidence=0.95, n_resamples=99, seed=1
    )

    assert math.isclose(shifted.ratio, ratio_of(1, 0.2, 0.2).ratio)


def test_no_rise_or_too_few_hosts_leave_the_effect_as_measured() -> None:
    last, mean, moved = rises(2, 0.0, 0.0, noise=0.0)
    few = np.arange(moved.size) < 2

    assert end_ratio(last, mean, moved, min_hosts=3, confidence=0.95, n_resamples=9, seed=1) == (
        SETTLED
    )
    assert end_ratio(last, mean, few, min_hosts=3, confidence=0.95, n_resamples=9, seed=1) == (
        SETTLED
    )


def test_hosts_without_a_value_are_left_out() -> None:
    last, mean, moved = rises(3, 0.2, 0.3)
    last[:5] = np.nan

    end = end_ratio(last, mean, moved, min_hosts=3, confidence=0.95, n_resamples=99, seed=1)

    assert 1.4 < end.ratio < 1.6


def test_the_relative_effect_is_carried_and_its_interval_widened_in_quadrature() -> None:
    end = EndRatio(1.2, 1.1, 1.4)
    estimate, low, high = math.log(1.3), math.log(1.25), math.log(1.4)

    centre, lower, upper = widened(estimate, low, high, end)

    assert math.isclose(math.expm1(centre), 0.36)
    assert math.isclose(centre, carried(estimate, end))
    assert math.isclose(0.36 - math.expm1(lower), math.hypot(0.05 * 1.2, 0.3 * 0.1))
    assert math.isclose(math.expm1(upper) - 0.36, math.hypot(0.1 * 1.2, 0.3 * 0.2))


def test_a_faster_app_is_carried_the_same_way() -> None:
    end = EndRatio(1.5, 1.4, 1.7)

    centre, lower, upper = widened(math.log(0.8), math.log(0.78), math.log(0.82), end)

    assert math.isclose(math.expm1(centre), -0.3)
    assert math.isclose(-0.3 - math.expm1(lower), math.hypot(0.02 * 1.5, 0.2 * 0.2))
    assert math.isclose(math.expm1(upper) + 0.3, math.hypot(0.02 * 1.5, 0.2 * 0.1))
