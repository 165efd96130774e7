from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.analysis.effects import hodges_lehmann, median_shift


def test_it_estimates_a_ratio_of_medians_with_an_interval_around_it() -> None:
    rng = np.random.default_rng(1)
    before = rng.normal(0.0, 0.25, 400)
    after = rng.normal(math.log(1.3), 0.25, 300)
    shift = median_shift(before, after)
    assert shift.relative == pytest.approx(0.3, abs=0.06)
    low, high = shift.relative_interval
    assert low < 0.3 < high
    assert high - low < 0.2
    assert shift.confidence == 0.95


def test_it_gives_the_same_interval_for_the_same_seed() -> None:
    rng = np.random.default_rng(2)
    before, after = rng.normal(0, 1, 50), rng.normal(1, 1, 50)
    assert median_shift(before, after, seed=4) == median_shift(before, after, seed=4)


def test_it_has_no_interval_for_a_single_value_on_a_side() -> None:
    shift = median_shift([0.0, 0.1, 0.2], [1.0])
    assert shift.estimate == pytest.approx(0.9)
    assert math.isnan(shift.low)
    assert math.isnan(shift.high)


def test_it_gives_a_point_interval_for_constant_samples() -> None:
    shift = median_shift([1.0] * 5, [2.0] * 5)
    assert (shift.estimate, shift.low, shift.high) == (1.0, 1.0, 1.0)


def test_it_refuses_an_empty_side() -> None:
    with pytest.raises(ValueError, match="before and after"):
        median_shift([], [1.0])


def test_hodges_lehmann_is_the_median_of_pairwise_differences() -> None:
    assert hodges_lehmann([0.0, 1.0], [2.0, 10.0]) == pytest.approx(5.5)


def test_hodges_lehmann_subsamples_large_samples_and_stays_close() -> None:
    rng = np.random.default_rng(3)
    before, after = rng.normal(0, 1, 5000), rng.normal(0.5, 1, 5000)
    assert hodges_lehmann(before, after, max_pairs=10_000) == pytest.approx(0.5, abs=0.15)
