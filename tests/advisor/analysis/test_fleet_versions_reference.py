"""The fleet run's version comparison (fleet_versions: daily rows, vectorised over the fleet)
agrees with its definition written out host by host on raw launches, and with the pooled
reference method (boundaries.compare_at_boundary) on what the shift is.

The fleet run compares each host with itself, per start kind: the median of its days'
median log load times (weighted by their launch counts) within 14 days after its change day
against the same before, and averages those per-host shifts (trimmed mean, Wilcoxon over
hosts). :func:`reference_shifts` is that definition as a loop over hosts, on launches.
boundaries.py pools the launches of all hosts (each centred on its own median before) and
compares the pools: a different estimator of the same shift, so the two agree on the shift
within sampling error, not to the digit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from advisor.analysis.boundaries import Boundary, HostLaunches, compare_at_boundary
from advisor.analysis.daily import daily_of
from advisor.analysis.findings import Finding
from advisor.analysis.fleet import FleetParameters, analyse
from advisor.analysis.fleet_cells import build_cells
from advisor.analysis.fleet_versions import host_shifts
from advisor.analysis.frames import UNKNOWN_VERSION, FleetData
from advisor.analysis.host_effects import trimmed_mean
from tests.advisor.analysis.fleetframes import DAY, Rollout, Spec, build

ROLLOUTS = [
    (Rollout(effect=0.3, share=0.5), 0),
    (Rollout(app=1, effect=-0.25, share=1.0), 4),
    (Rollout(effect=0.35, share=0.6, cold_only=True), 6),
]
IDS = ["slower-on-half", "faster-everywhere", "cold-only"]


def weighted_median(values: list[float], weights: list[int]) -> float:
    """The value where the cumulative weight reaches half (the mean of two on a tie)."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values)[order], np.cumsum(np.asarray(weights)[order])
    half = w[-1] / 2
    low, high = np.searchsorted(w, half, "left"), np.searchsorted(w, half, "right")
    return float((v[low] + v[min(high, v.size - 1)]) / 2)


def reference_shifts(
    data: FleetData, app: int, now: float, params: FleetParameters
) -> dict[tuple[int, bool], tuple[float, int, int]]:
    """Per (host, cold): the host's shift, launches before and after, from raw launches."""
    frame, changes = data.launches, data.changes
    today = math.floor(now / DAY)
    first_day = today - params.horizon_days
    window = math.ceil(params.window_days)
    result = {}
    for host, changed_app, at, old, new in zip(
        changes.host.tolist(),
        changes.app.tolist(),
        changes.at.tolist(),
        changes.from_version.tolist(),
        changes.to_version.tolist(),
        strict=True,
    ):
        if changed_app != app or at > now:
            continue
        change_day = math.floor(at / DAY)
        for cold in (False, True):
            chosen = (frame.host == host) & (frame.app == app) & (frame.cold == cold)
            days: dict[tuple[int, str], list[float]] = {}
            for t, duration, version in zip(
                frame.started_at[chosen], frame.duration[chosen], frame.version[chosen], strict=True
            ):
                day = math.floor(t / DAY)
                if not first_day <= day <= today or abs(day - change_day) > window:
                    continue
                unknown = version == UNKNOWN_VERSION
                if (day < change_day and (version == old or unknown)) or (
                    day == change_day and version == old
                ):
                    side = "before"
                elif (day > change_day and (version == new or unknown)) or (
                    day == change_day and version == new
                ):
                    side = "after"
                else:
                    continue
                days.setdefault((day, side), []).append(math.log(duration))
            sides = {}
            for side in ("before", "after"):
                logs = [v for (_, s), v in sorted(days.items()) if s == side]
                if logs:
                    sides[side] = (
                        weighted_median(
                            [float(np.median(v)) for v in logs], [len(v) for v in logs]
                        ),
                        sum(len(v) for v in logs),
                    )
            if "before" in sides and "after" in sides and sides["before"][1] >= params.min_before:
                shift = sides["after"][0] - sides["before"][0]
                result[(host, cold)] = (shift, sides["before"][1], sides["after"][1])
    return result


def version_finding(data: FleetData, now: float) -> Finding:
    (found,) = [f for f in analyse(data, now=now) if f.kind == "version_change"]
    return found


@pytest.mark.parametrize(("rollout", "seed"), ROLLOUTS, ids=IDS)
def test_each_hosts_shift_is_its_own_days_after_against_before(rollout: Rollout, seed: int) -> None:
    params = FleetParameters()
    spec = Spec(rollouts=(rollout,), seed=seed)
    data = build(spec)
    cells = build_cells(daily_of(data), now=spec.now, horizon_days=params.horizon_days)

    shifts = host_shifts(cells, data.changes, now=spec.now, params=params)
    expected = reference_shifts(data, rollout.app, spec.now, params)

    assert shifts is not None
    got = {
        (host, bool(kind)): (
            float(shifts.shift[i, kind]),
            shifts.before[i, kind],
            shifts.after[i, kind],
        )
        for i, host in enumerate(shifts.host.tolist())
        for kind in (0, 1)
        if math.isfinite(shifts.shift[i, kind])
    }
    assert got.keys() == expected.keys()
    for key, (shift, before, after) in expected.items():
        assert got[key][0] == pytest.approx(shift, abs=1e-4)
        assert got[key][1:] == (before, after)


@pytest.mark.parametrize(("rollout", "seed"), ROLLOUTS, ids=IDS)
def test_the_finding_is_the_trimmed_mean_of_those_shifts_tested_over_hosts(
    rollout: Rollout, seed: int
) -> None:
    params = FleetParameters()
    spec = Spec(rollouts=(rollout,), seed=seed)
    data = build(spec)
    shifts = reference_shifts(data, rollout.app, spec.now, params)
    found = version_finding(data, spec.now)

    kinds = [found.scope["start"] == "cold"] if "start" in found.scope else [False, True]
    per_host: dict[int, list[float]] = {}
    for (host, cold), (shift, _, _) in shifts.items():
        if cold in kinds:
            per_host.setdefault(host, []).append(shift)
    values = [float(np.mean(v)) for _, v in sorted(per_host.items())]
    assert found.scope.get("start") == ("cold" if rollout.cold_only else None)
    assert found.effect.estimate == pytest.approx(math.expm1(trimmed_mean(values)), abs=1e-4)
    assert found.evidence.p_value == pytest.approx(stats.wilcoxon(values).pvalue, rel=1e-3)
    assert found.evidence.after.count == sum(
        after for (_, cold), (_, _, after) in shifts.items() if cold in kinds
    )
    assert len(found.hosts) == len(values)


@pytest.mark.parametrize(("rollout", "seed"), ROLLOUTS, ids=IDS)
def test_the_pooled_reference_method_finds_the_same_shift(rollout: Rollout, seed: int) -> None:
    spec = Spec(rollouts=(rollout,), seed=seed)
    data = build(spec)
    found = version_finding(data, spec.now)
    frame, changes = data.launches, data.changes
    kinds = [found.scope["start"] == "cold"] if "start" in found.scope else [False, True]

    # Per start kind, the pooled method on the hosts' launches of that kind; their mean when
    # the finding is about both kinds.
    relative = []
    for cold in kinds:
        launches, boundaries = [], []
        for host, at in zip(changes.host.tolist(), changes.at.tolist(), strict=True):
            chosen = (frame.host == host) & (frame.app == rollout.app) & (frame.cold == cold)
            launches.append(
                HostLaunches(str(host), frame.started_at[chosen], frame.duration[chosen])
            )
            boundaries.append(Boundary(str(host), float(at), "1.0", "2.0"))
        pooled = compare_at_boundary(launches, boundaries, now=spec.now)
        assert pooled.found
        relative.append(pooled.shift.estimate)
    reference = math.expm1(float(np.mean(relative)))

    assert found.effect.low <= reference <= found.effect.high
    assert found.effect.estimate == pytest.approx(reference, abs=0.03)
    assert found.effect.estimate == pytest.approx(rollout.effect, abs=0.03)
