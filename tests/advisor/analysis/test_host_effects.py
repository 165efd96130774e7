"""Effects over hosts: the trimmed mean of per-host shifts, its bootstrap interval (covering the
truth as often as it says), the signed-rank test, and the cold/warm split rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.host_effects import (
    few_hosts_widened,
    host_interval,
    signed_rank_p,
    trimmed_mean,
    two_group_interval,
)
from advisor.analysis.start_kinds import both_kinds, kinds_differ, terms_differ


def host_shifts(rng: np.random.Generator, hosts: int, shift: float) -> np.ndarray:
    """Per-host shifts: the true shift plus heavy-tailed host noise and a few odd hosts."""
    values = shift + 0.08 * rng.standard_t(3, hosts)
    odd = rng.random(hosts) < 0.05
    return np.where(odd, values + rng.choice([-1.0, 1.0], hosts), values)


def test_the_trimmed_mean_ignores_the_fifth_of_hosts_at_either_end() -> None:
    assert trimmed_mean([0.1] * 8 + [5.0, -5.0]) == pytest.approx(0.1)
    assert trimmed_mean([1.0, 2.0, 3.0, 4.0]) == pytest.approx(2.5)
    assert math.isnan(trimmed_mean([]))


@pytest.mark.parametrize("hosts", [12, 40, 400])
def test_the_interval_over_hosts_covers_the_true_shift_nineteen_times_in_twenty(hosts: int) -> None:
    rng = np.random.default_rng(hosts)
    covered = 0
    for seed in range(200):
        values = host_shifts(rng, hosts, 0.3)
        low, high = host_interval(values, confidence=0.95, n_resamples=499, seed=seed)
        covered += low <= 0.3 <= high
    assert 0.9 <= covered / 200 <= 0.99


def test_two_groups_of_hosts_are_resampled_each_on_its_own() -> None:
    rng = np.random.default_rng(3)
    covered = 0
    for seed in range(200):
        risen, calm = host_shifts(rng, 19, 0.4), host_shifts(rng, 100, 0.0)
        low, high = two_group_interval(risen, calm, confidence=0.95, n_resamples=499, seed=seed)
        covered += low <= 0.4 <= high
    assert covered >= 0.9 * 200


def test_few_hosts_widen_the_interval_as_students_t_does() -> None:
    assert (
        few_hosts_widened(0.0, -1.0, 1.0, 3, 0.95)[1]
        > few_hosts_widened(0.0, -1.0, 1.0, 30, 0.95)[1]
    )
    assert few_hosts_widened(0.0, -1.0, 1.0, 10_000, 0.95)[1] == pytest.approx(1.0, abs=1e-3)
    assert math.isnan(few_hosts_widened(0.5, math.nan, 1.0, 30, 0.95)[0])


def test_the_signed_rank_test_flags_a_shift_of_the_hosts_and_not_noise() -> None:
    rng = np.random.default_rng(5)
    assert signed_rank_p(host_shifts(rng, 30, 0.2)) < 1e-4
    p_noise = [signed_rank_p(host_shifts(rng, 30, 0.0)) for _ in range(200)]
    assert np.mean(np.asarray(p_noise) <= 0.05) <= 0.09
    assert signed_rank_p([0.0, 0.0, 0.0]) == 1.0
    assert math.isnan(signed_rank_p([0.3]))


def test_cold_and_warm_starts_are_split_only_when_they_clearly_differ() -> None:
    params = FleetParameters()
    rng = np.random.default_rng(8)
    cold_only = host_shifts(rng, 60, 0.3) - host_shifts(rng, 60, 0.0)
    alike = host_shifts(rng, 60, 0.3) - host_shifts(rng, 60, 0.3)
    slightly = host_shifts(rng, 400, 0.05) - host_shifts(rng, 400, 0.0)

    assert kinds_differ(cold_only, params)
    assert not kinds_differ(alike, params)
    # Significant but smaller than a finding's effect: one finding for both.
    assert not kinds_differ(slightly, params)
    assert terms_differ(0.3, 0.2, 0.4, params)
    assert not terms_differ(0.3, -0.05, 0.6, params)
    assert not terms_differ(0.05, 0.04, 0.06, params)


def test_a_host_measured_on_one_kind_only_keeps_that_kinds_shift_for_both() -> None:
    warm = np.array([0.1, np.nan, 0.2, np.nan])
    cold = np.array([0.3, 0.4, np.nan, np.nan])
    got = both_kinds(warm, cold)
    assert got[:3].tolist() == pytest.approx([0.2, 0.4, 0.2])
    assert math.isnan(got[3])
