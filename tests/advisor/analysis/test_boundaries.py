from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.analysis.boundaries import (
    Boundary,
    HostLaunches,
    VersionSeen,
    boundaries_from_history,
    compare_at_boundary,
    compare_boundaries,
)
from tests.advisor.analysis.noise import heavy_tailed

DAY = 86400.0
CHANGE = 30 * DAY
NOW = 60 * DAY


def fleet(
    rng: np.random.Generator,
    *,
    hosts: int,
    before: int,
    after: int,
    effect: float,
    levels: list[float] | None = None,
) -> tuple[list[HostLaunches], list[Boundary]]:
    """``hosts`` hosts at their own levels (hardware), each moving to version 2 at CHANGE with
    ``before`` launches in the two weeks before and ``after`` in the days after."""
    launches, boundaries = [], []
    for h in range(hosts):
        level = levels[h] if levels else float(rng.uniform(1.0, 4.0))
        t_before = np.sort(rng.uniform(CHANGE - 14 * DAY, CHANGE, before))
        t_after = np.sort(rng.uniform(CHANGE, CHANGE + 3 * DAY, after))
        values = heavy_tailed(rng, before + after, outliers=0.01) * level
        values[before:] *= 1.0 + effect
        launches.append(HostLaunches(f"h{h}", np.r_[t_before, t_after], values))
        boundaries.append(Boundary(f"h{h}", CHANGE, "1", "2", last_before=CHANGE))
    return launches, boundaries


def test_it_finds_a_20_percent_shift_with_30_launches_after_the_change() -> None:
    rng = np.random.default_rng(1)
    launches, boundaries = fleet(rng, hosts=10, before=40, after=3, effect=0.2)
    result = compare_at_boundary(launches, boundaries, now=NOW)
    assert result.found
    assert (result.hosts, result.hosts_skipped) == (10, 0)
    assert (result.before.count, result.after.count) == (400, 30)
    low, high = result.shift.relative_interval
    assert low < 0.2 < high
    assert result.shift.relative == pytest.approx(0.2, abs=0.1)
    assert result.hodges_lehmann == pytest.approx(0.2, abs=0.15)
    assert result.p_value < 0.01


def test_it_finds_20_percent_shifts_in_most_fleets_and_covers_the_truth() -> None:
    found = covered = 0
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        launches, boundaries = fleet(rng, hosts=6, before=30, after=5, effect=0.2)
        result = compare_at_boundary(launches, boundaries, now=NOW, n_resamples=499)
        found += result.found
        low, high = result.shift.relative_interval
        covered += low < 0.2 < high
    assert found >= 27
    assert covered >= 26  # a 95 % interval: about 28.5 of 30 expected


def test_it_finds_nothing_when_the_version_changes_nothing() -> None:
    flagged = 0
    for seed in range(30):
        rng = np.random.default_rng(200 + seed)
        launches, boundaries = fleet(rng, hosts=8, before=30, after=6, effect=0.0)
        flagged += compare_at_boundary(launches, boundaries, now=NOW, n_resamples=99).found
    assert flagged <= 2


def test_it_compares_each_host_with_itself_not_a_change_of_mix() -> None:
    rng = np.random.default_rng(3)
    # Fast machines launch often after the change, slow ones rarely: pooled raw load times
    # would look faster afterwards although nothing changed.
    fast, _ = fleet(rng, hosts=5, before=30, after=20, effect=0.0, levels=[1.0] * 5)
    slow, _ = fleet(rng, hosts=5, before=30, after=1, effect=0.0, levels=[4.0] * 5)
    launches = [HostLaunches(f"h{i}", h.t, h.values) for i, h in enumerate(fast + slow)]
    boundaries = [Boundary(f"h{i}", CHANGE, "1", "2") for i in range(10)]
    result = compare_at_boundary(launches, boundaries, now=NOW, min_after=10)
    assert result.after.quantiles[2] < result.before.quantiles[2] / 1.5  # raw mix moved
    assert not result.found
    assert abs(result.shift.relative) < 0.1


def test_it_leaves_out_launches_between_the_last_old_and_first_new_inventory() -> None:
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    values = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 9.0, 2.0, 2.0])
    boundary = Boundary("h", at=7.0, from_version="1", to_version="2", last_before=6.0)
    result = compare_at_boundary(
        [HostLaunches("h", t, values)], [boundary], now=10.0, min_before=3, min_after=1
    )
    # The launch at 6.0 may have run either version; it is in neither sample.
    assert (result.before.count, result.after.count) == (5, 2)
    assert result.shift.relative == pytest.approx(1.0)


def test_it_ignores_launches_after_now_and_skips_hosts_without_a_baseline() -> None:
    rng = np.random.default_rng(4)
    launches, boundaries = fleet(rng, hosts=4, before=30, after=10, effect=0.3)
    launches.append(HostLaunches("new", [CHANGE + 1.0], [1.0]))
    boundaries.append(Boundary("new", CHANGE, "1", "2"))
    boundaries.append(Boundary("gone", CHANGE, "1", "2"))
    result = compare_at_boundary(launches, boundaries, now=CHANGE + 1 * DAY, min_after=1)
    assert (result.hosts, result.hosts_skipped) == (4, 2)
    assert 0 < result.after.count < 40


def test_it_reports_nothing_when_no_host_has_launches_after() -> None:
    rng = np.random.default_rng(5)
    launches, boundaries = fleet(rng, hosts=3, before=20, after=0, effect=0.0)
    result = compare_at_boundary(launches, boundaries, now=NOW)
    assert not result.found
    assert result.after.count == 0
    assert math.isnan(result.p_value)


def test_it_controls_false_discoveries_across_many_boundaries() -> None:
    rng = np.random.default_rng(6)
    groups = {
        f"app{k}": fleet(rng, hosts=5, before=30, after=8, effect=0.25 if k == 0 else 0.0)
        for k in range(40)
    }
    results = compare_boundaries(groups, now=NOW, n_resamples=99)
    assert results["app0"].found
    assert [k for k, r in results.items() if r.found] == ["app0"]
    assert all(r.q_value >= r.p_value for r in results.values())


def test_it_reads_boundaries_from_a_version_history() -> None:
    history = [
        VersionSeen(30.0, "2"),
        VersionSeen(10.0, "1"),
        VersionSeen(20.0, "1"),
        VersionSeen(40.0, "2"),
        VersionSeen(50.0, "3"),
    ]
    assert boundaries_from_history("h", history) == [
        Boundary("h", 30.0, "1", "2", last_before=20.0),
        Boundary("h", 50.0, "2", "3", last_before=40.0),
    ]
    assert boundaries_from_history("h", [VersionSeen(1.0, "1")]) == []
