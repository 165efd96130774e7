"""The analysis one app at a time: each part holds its app's rows and the fleet's hosts and
pressure, and the fleet's findings are its parts' findings (as the job records them)."""

from __future__ import annotations

from advisor.analysis.daily import daily_of
from advisor.analysis.fleet import analyse
from advisor.analysis.parts import app_parts
from tests.advisor.analysis.fleetframes import Rollout, Spec, build


def two_apps_one_regressed() -> Spec:
    return Spec(hosts=60, apps=2, seed=4, rollouts=(Rollout(app=1, effect=0.4, share=0.6),))


def test_each_part_holds_one_apps_rows_and_the_fleets_hosts_and_pressure() -> None:
    data = build(two_apps_one_regressed())
    daily = daily_of(data)

    parts = list(app_parts(data))

    assert [name for name, _ in parts] == daily.apps
    for code, (_, part) in enumerate(parts):
        rows = daily_of(part)
        assert set(rows.app.tolist()) == {code}
        assert len(rows) == int((daily.app == code).sum())
        assert set(part.changes.app.tolist()) <= {code}
        assert set(part.launches.app.tolist()) <= {code}
        assert part.pressure is data.pressure
        assert rows.hosts is daily.hosts
    assert sum(len(daily_of(part)) for _, part in parts) == len(daily)


def test_the_fleets_findings_are_its_parts_findings() -> None:
    spec = two_apps_one_regressed()
    data = build(spec)
    now = spec.now

    whole = analyse(data, now=now)
    by_part = sorted(
        (f for _, part in app_parts(data) for f in analyse(part, now=now)), key=lambda f: f.key
    )

    assert whole == by_part
    assert any(f.kind == "version_change" for f in whole)
    assert {f.app for f in whole} <= set(daily_of(data).apps)
