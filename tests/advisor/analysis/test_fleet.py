"""The fleet analysis finds version changes, hardware tiers and pressure, and nothing in noise."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from advisor.analysis.daily import daily_of
from advisor.analysis.findings import CAUSES, finding_key
from advisor.analysis.fleet import FleetParameters, analyse
from advisor.analysis.fleet_cells import build_cells, working_days
from advisor.analysis.frames import FleetData
from tests.advisor.analysis.fleetframes import (
    DAY,
    MONDAY,
    MemoryPressure,
    Rollout,
    Slowdown,
    Spec,
    build,
)


def test_it_finds_a_slower_version_on_half_the_hosts_with_its_effect() -> None:
    spec = Spec(rollouts=(Rollout(effect=0.3, share=0.5),))
    findings = analyse(build(spec), now=spec.now)

    assert [f.key for f in findings] == [
        finding_key("version_change", "app0", {"from_version": "1.0", "version": "2.0"})
    ]
    (found,) = findings
    assert found.cause == "version"
    assert found.direction == "slower"
    assert found.effect.low <= 0.3 <= found.effect.high
    assert found.effect.high - found.effect.low < 0.15
    assert found.confidence >= 0.7
    assert 10 <= len(found.hosts) <= 30
    assert found.since >= spec.now - (spec.days - 30) * 86400 - 1
    assert found.evidence.after.p50 > found.evidence.before.p50


def test_it_finds_a_faster_version_as_faster() -> None:
    spec = Spec(rollouts=(Rollout(app=1, effect=-0.25, share=1.0),), seed=4)
    (found,) = analyse(build(spec), now=spec.now)

    assert (found.kind, found.app, found.direction, found.cause) == (
        "version_change",
        "app1",
        "faster",
        "version",
    )
    assert found.effect.low <= -0.25 <= found.effect.high
    assert len(found.hosts) == spec.hosts


def test_it_finds_hdd_hosts_slower_on_cold_starts_as_a_hardware_tier() -> None:
    spec = Spec(hosts=60, hdd_share=0.4, hdd_cold_factor=1.4, seed=2)
    data = build(spec)
    findings = analyse(data, now=spec.now)

    tiers = [f for f in findings if f.kind == "hardware_tier"]
    assert {f.app for f in tiers} == {"app0", "app1"}
    assert all(f.scope == {"tier": "hdd", "start": "cold"} for f in tiers)
    assert all(f.cause == "hardware_tier" and f.direction == "slower" for f in tiers)
    assert all(f.effect.low <= 0.4 <= f.effect.high for f in tiers)
    hdd_hosts = {
        host_id
        for host_id, hdd in zip(
            data.launches.hosts.host_id, data.launches.hosts.disk_rotational, strict=True
        )
        if hdd
    }
    assert all(set(f.hosts) == hdd_hosts for f in tiers)
    assert len(findings) == len(tiers)


def test_it_blames_memory_when_low_ram_hosts_slow_down_as_their_pressure_rises() -> None:
    spec = Spec(hosts=50, low_ram_share=0.3, memory=MemoryPressure(effect=0.4), seed=5)
    data = build(spec)
    findings = analyse(data, now=spec.now)

    assert {f.app for f in findings} == {"app0", "app1"}
    low_ram = {
        host_id
        for host_id, ram in zip(
            data.launches.hosts.host_id, data.launches.hosts.ram_bytes, strict=True
        )
        if ram <= 4 * 2**30
    }
    for found in findings:
        assert (found.kind, found.cause, found.direction) == ("pressure", "memory", "slower")
        assert set(found.hosts) == low_ram
        assert found.effect.low <= 0.4 <= found.effect.high
        # The pressure began on day 25 and was half-way up on day 30.
        assert abs(found.since - (spec.now - (spec.days - 30) * 86400)) <= 2 * 86400


def test_a_cpu_rise_on_every_host_leaves_the_memory_pressure_of_some_found() -> None:
    # An update's background work raises cpu PSI everywhere and slows every launch 10 %:
    # no host is calm on every pressure, yet the low-RAM hosts' memory pressure is theirs.
    spec = Spec(
        hosts=50,
        low_ram_share=0.3,
        memory=MemoryPressure(effect=0.4),
        fleet_cpu=(20.0, 0.1, 0.1),
        seed=5,
    )
    data = build(spec)

    findings = analyse(data, now=spec.now)

    memory = [f for f in findings if f.kind == "pressure" and f.cause == "memory"]
    assert {f.app for f in memory} == {"app0", "app1"}
    for found in memory:
        assert found.direction == "slower"
        assert found.effect.low <= 0.4 <= found.effect.high
    assert not [f for f in findings if f.kind == "pressure" and f.cause == "cpu"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_it_flags_nothing_in_heavy_tailed_noise_a_noisy_host_an_outage_or_weekends(
    seed: int,
) -> None:
    spec = Spec(hosts=40, seed=seed, noisy_hosts=2, outage=(20.4, 6.0), weekend_share=0.05)
    assert analyse(build(spec), now=spec.now) == []


def test_it_keeps_the_same_keys_when_a_later_run_sees_more_data() -> None:
    spec = Spec(rollouts=(Rollout(effect=0.3),), hdd_share=0.4, hdd_cold_factor=1.5, seed=7)
    data = build(spec)
    earlier = analyse(data, now=spec.now - 5 * 86400)
    later = analyse(data, now=spec.now)

    assert earlier
    assert [f.key for f in earlier] == [f.key for f in later]
    assert all(f.detected_at == spec.now for f in later)
    assert [f.since for f in earlier] == pytest.approx([f.since for f in later], abs=86400)


def test_it_controls_the_false_discovery_rate_across_the_run() -> None:
    spec = Spec(rollouts=(Rollout(effect=0.3),), seed=8)
    findings = analyse(build(spec), now=spec.now)

    assert findings
    for found in findings:
        q, p = found.evidence.q_value, found.evidence.p_value
        assert q is not None
        assert p is not None
        assert p <= q <= 0.05
        assert found.cause in CAUSES
        assert 0.0 <= found.confidence <= 1.0


def test_it_reports_nothing_a_stricter_rate_or_effect_rules_out() -> None:
    spec = Spec(rollouts=(Rollout(effect=0.3),), seed=9)
    data = build(spec)

    assert analyse(data, now=spec.now, params=FleetParameters(min_effect=0.5)) == []
    assert analyse(data, now=spec.now, params=FleetParameters(alpha=1e-300)) == []


def test_it_needs_thirty_launches_after_a_change() -> None:
    spec = Spec(
        hosts=6, apps=1, rollouts=(Rollout(effect=0.4, share=1.0, day=58.5, spread_days=0.1),)
    )
    data = build(spec)
    assert analyse(data, now=spec.now, params=FleetParameters(min_after=10_000)) == []
    assert all(math.isfinite(f.effect.estimate) for f in analyse(data, now=spec.now))


def test_it_finds_a_department_step_without_a_cause_as_an_unknown_change_point() -> None:
    spec = Spec(hosts=40, apps=1, slowdown=Slowdown(effect=0.3, day=30), seed=3)
    (found,) = analyse(build(spec), now=spec.now)

    assert found.key == finding_key("change_point", "app0", {"department": "finance"})
    assert (found.cause, found.direction, found.departments) == ("unknown", "slower", ("finance",))
    assert found.effect.low <= 0.3 <= found.effect.high
    assert found.since == spec.now - (spec.days - 30) * 86400


def test_it_finds_a_slow_drift_as_a_trend_not_as_steps() -> None:
    spec = Spec(hosts=40, apps=1, slowdown=Slowdown(effect=0.4, day=5, ramp_days=55), seed=3)
    (found,) = analyse(build(spec), now=spec.now)

    assert (found.kind, found.scope) == ("trend", {"department": "finance"})
    assert 0.3 <= found.effect.estimate <= 0.55


def _with_weekends_idle_and_slower(data: FleetData, slower: float) -> FleetData:
    """``data`` with weekend launches ``slower`` and weekend pressure down to idle."""
    launches, pressure = data.launches, data.pressure
    weekend = ((launches.started_at - MONDAY) // DAY) % 7 >= 5
    idle = ((pressure.day - MONDAY) // DAY) % 7 >= 5
    return replace(
        data,
        launches=replace(launches, duration=launches.duration * np.where(weekend, slower, 1.0)),
        pressure=replace(
            pressure,
            cpu_pressure=np.where(idle, 0.0, pressure.cpu_pressure + 0.1),
            io_pressure=np.where(idle, 0.0, pressure.io_pressure + 0.1),
        ),
    )


def test_it_reads_weekends_and_the_morning_of_now_as_no_working_days() -> None:
    spec = Spec(hosts=20, days=21)
    now = spec.now + 8 * 3600  # Monday 08:00, the data end at Monday 00:00
    data = build(spec)
    cells = build_cells(daily_of(data), now=now, horizon_days=20)

    working = working_days(cells, FleetParameters().working_day_share)
    weekday = ((cells.day0 - MONDAY) // DAY + np.arange(cells.days)) % 7
    assert working.tolist() == [*(weekday < 5).tolist()[:-1], False]


@pytest.mark.parametrize("weekday_of_now", [0, 5, 6])
def test_it_flags_no_weekend_dip_when_weekends_are_slower_and_idle(weekday_of_now: int) -> None:
    spec = Spec(hosts=40, seed=11, weekend_share=0.05)
    data = _with_weekends_idle_and_slower(build(spec), slower=1.6)
    now = spec.now - 7 * DAY + weekday_of_now * DAY + 8 * 3600

    assert analyse(data, now=now) == []


def test_it_tests_a_pressure_on_the_hosts_where_it_alone_rose() -> None:
    # Memory pressure slows every app on low-RAM hosts; cpu pressure rises in finance, on
    # low-RAM hosts too, and slows nothing: no cpu finding may borrow the memory slowdown.
    spec = Spec(hosts=80, low_ram_share=0.5, memory=MemoryPressure(effect=0.5), seed=6)
    data = build(spec)
    finance = np.array([d == "finance" for d in data.launches.hosts.department])
    day = (data.pressure.day - MONDAY) // DAY
    rise = 0.1 * np.clip((day - 20) / 20, 0, 1) * finance[data.pressure.host]
    data = replace(
        data, pressure=replace(data.pressure, cpu_pressure=data.pressure.cpu_pressure + rise)
    )
    findings = analyse(data, now=spec.now)

    assert {f.scope.get("pressure") for f in findings if f.kind == "pressure"} == {"memory"}
    assert all(f.cause == "memory" for f in findings)


def test_it_keeps_a_slow_drift_and_its_start_as_more_data_arrives() -> None:
    spec = Spec(hosts=40, apps=1, slowdown=Slowdown(effect=0.4, day=12, ramp_days=48), seed=3)
    data = build(spec)
    runs = [analyse(data, now=spec.now - back * DAY) for back in (8, 4, 0)]

    key = finding_key("trend", "app0", {"department": "finance"})
    assert all([f.key for f in run] == [key] for run in runs)
    starts = [(run[0].since - MONDAY) / DAY for run in runs]
    # Drifts hide in the noise at first: the start may be late, never before the drift.
    assert all(12 - 2 <= start <= 12 + 14 for start in starts)
    assert max(starts) - min(starts) <= 3
