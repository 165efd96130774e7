"""Facts built one app at a time and put together are the whole fleet's facts."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from advisor.analysis.daily import DailyLaunches, daily_of
from advisor.analysis.frames import FleetData
from advisor.recommend.engine import RecommendInputs, recommend
from advisor.recommend.facts import FleetFacts, combine_facts, fleet_facts, reporting_days
from advisor.recommend.vendor import RecordCatalog
from tests.advisor.analysis.fleetframes import Rollout, Spec, build
from tests.advisor.recommend.fleets import costs, hosts_on, record, regression, with_fix


def fleet() -> tuple[Spec, FleetData]:
    spec = Spec(
        hosts=60,
        apps=3,
        seed=4,
        hdd_share=0.3,
        hdd_cold_factor=2.0,
        rollouts=(Rollout(effect=0.3, share=0.8, day=20),),
    )
    return spec, with_fix(build(spec), share=0.3, day=38, effect=0.3, seed=4)


def only_app(data: FleetData, app: str) -> FleetData:
    """``data`` with the daily rows of ``app`` alone, as a part's load gives them."""
    daily = daily_of(data)
    code = daily.apps.index(app)
    keep = daily.app == code
    part = DailyLaunches(
        hosts=daily.hosts,
        apps=[app],
        versions=daily.versions,
        host=daily.host[keep],
        app=np.zeros(int(keep.sum()), dtype=np.int64),
        version=daily.version[keep],
        cold=daily.cold[keep],
        day=daily.day[keep],
        count=daily.count[keep],
        median=daily.median[keep],
        p10=daily.p10[keep],
        p25=daily.p25[keep],
        p75=daily.p75[keep],
        p90=daily.p90[keep],
        log_mean=daily.log_mean[keep],
        log_var=daily.log_var[keep],
    )
    return replace(data, daily=part)


def assert_same_facts(combined: FleetFacts, whole: FleetFacts) -> None:
    assert combined.hosts.host_id == whole.hosts.host_id
    assert combined.hosts.department == whole.hosts.department
    np.testing.assert_array_equal(combined.hosts.hdd, whole.hosts.hdd)
    np.testing.assert_array_equal(combined.hosts.memory_pressure, whole.hosts.memory_pressure)
    assert combined.apps == whole.apps
    assert combined.versions == whole.versions
    for name in ("host", "app", "cold", "version", "days"):
        np.testing.assert_array_equal(getattr(combined.usage, name), getattr(whole.usage, name))
    # The day-to-day noise is a median of packed figures: equal to rounding.
    for name in ("level", "noise", "launches_per_day"):
        np.testing.assert_allclose(
            getattr(combined.usage, name), getattr(whole.usage, name), rtol=1e-9
        )
    assert combined.rates == whole.rates


def spans_of(parts: list[FleetData], now: float) -> dict[str, tuple[int, int]]:
    """Each host's first and last recent day over the parts."""
    merged: dict[str, tuple[int, int]] = {}
    for part in parts:
        for host, (first, last) in reporting_days(part, now=now).items():
            old = merged.get(host, (first, last))
            merged[host] = (min(old[0], first), max(old[1], last))
    return merged


def test_the_facts_of_each_app_put_together_are_the_whole_fleets() -> None:
    spec, data = fleet()
    whole = fleet_facts(data, now=spec.now)
    datas = [only_app(data, app) for app in reversed(daily_of(data).apps)]
    parts = [fleet_facts(part, now=spec.now) for part in datas]

    spans = spans_of(datas, spec.now)

    combined = combine_facts(parts, spans)

    assert_same_facts(combined, whole)
    assert len(combined.usage) > 300
    # Hosts that did not launch every app on their first and last days: the parts' own
    # spans were shorter than the host's.
    assert any(
        days != spans[host] for d in datas for host, days in reporting_days(d, now=spec.now).items()
    )


def test_with_the_stores_launch_rates_the_parts_need_no_spans() -> None:
    spec, data = fleet()
    rates = fleet_facts(data, now=spec.now).rates
    whole = fleet_facts(data, now=spec.now, rates=rates)
    parts = [
        fleet_facts(only_app(data, app), now=spec.now, rates=rates) for app in daily_of(data).apps
    ]

    assert_same_facts(combine_facts(parts), whole)


def test_the_engine_recommends_the_same_from_combined_facts() -> None:
    spec, data = fleet()
    settings = costs()
    catalog = RecordCatalog(
        {"app0": record()},
        today=dt.datetime.fromtimestamp(spec.now, dt.UTC).date(),
        costs=settings,
    )
    found = (regression(data, hosts_on(data, 0, "2.0")),)
    whole = fleet_facts(data, now=spec.now)
    datas = [only_app(data, app) for app in ("app2", "app0", "app1")]
    combined = combine_facts(
        [fleet_facts(part, now=spec.now) for part in datas], spans_of(datas, spec.now)
    )

    expected = recommend(RecommendInputs(whole, found, catalog, settings), now=spec.now)
    got = recommend(RecommendInputs(combined, found, catalog, settings), now=spec.now)

    assert expected
    assert [r.key for r in got] == [r.key for r in expected]
    assert [r.score for r in got] == pytest.approx([r.score for r in expected], rel=1e-6)
    assert [r.hosts for r in got] == [r.hosts for r in expected]


def test_parts_sharing_an_app_are_refused() -> None:
    spec, data = fleet()
    part = fleet_facts(only_app(data, "app0"), now=spec.now)

    with pytest.raises(ValueError, match="an app in two parts"):
        combine_facts([part, part])
    with pytest.raises(ValueError, match="no parts"):
        combine_facts([])
