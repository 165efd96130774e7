"""The fleet run's version comparison (fleet_versions, vectorised over the whole fleet) agrees
with the reference method written out host by host (boundaries.compare_at_boundary).

The reference gets the same launches: each moved host's launches of the app, cold and warm
starts as separate series (each centred on its own baseline, as the fleet run does), and a
boundary at the host's change time.
"""

from __future__ import annotations

import pytest

from advisor.analysis.boundaries import (
    DEFAULT_WINDOW,
    Boundary,
    BoundaryComparison,
    HostLaunches,
    compare_at_boundary,
)
from advisor.analysis.findings import Finding
from advisor.analysis.fleet import FleetParameters, analyse
from advisor.analysis.frames import FleetData
from tests.advisor.analysis.fleetframes import DAY, Rollout, Spec, build


def reference(data: FleetData, app: int, now: float) -> BoundaryComparison:
    frame, changes = data.launches, data.changes
    launches: list[HostLaunches] = []
    boundaries: list[Boundary] = []
    for host, changed_app, at in zip(changes.host, changes.app, changes.at, strict=True):
        if changed_app != app:
            continue
        for cold in (True, False):
            series = f"{host}:{'cold' if cold else 'warm'}"
            chosen = (frame.host == host) & (frame.app == app) & (frame.cold == cold)
            launches.append(HostLaunches(series, frame.started_at[chosen], frame.duration[chosen]))
            boundaries.append(Boundary(series, float(at), "1.0", "2.0"))
    return compare_at_boundary(launches, boundaries, now=now)


def version_finding(data: FleetData, now: float) -> Finding:
    (found,) = [f for f in analyse(data, now=now) if f.kind == "version_change"]
    return found


@pytest.mark.parametrize(
    ("rollout", "seed"),
    [(Rollout(effect=0.3, share=0.5), 0), (Rollout(app=1, effect=-0.25, share=1.0), 4)],
    ids=["slower-on-half", "faster-everywhere"],
)
def test_the_fleet_run_finds_the_shift_the_reference_method_finds(
    rollout: Rollout, seed: int
) -> None:
    assert FleetParameters().window_days * DAY == DEFAULT_WINDOW
    spec = Spec(rollouts=(rollout,), seed=seed)
    data = build(spec)

    fast = version_finding(data, spec.now)
    slow = reference(data, rollout.app, spec.now)

    assert slow.found
    assert (fast.evidence.before.count, fast.evidence.after.count) == (
        slow.before.count,
        slow.after.count,
    )
    assert fast.effect.estimate == pytest.approx(slow.shift.relative, abs=0.005)
    assert fast.evidence.p_value == pytest.approx(slow.p_value, rel=0.01)
    assert fast.effect.low <= slow.shift.relative <= fast.effect.high
