"""The fleet's facts: current version, recent level, launches a day and pressure per host."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.analysis.frames import FleetData, HostTable, LaunchFrame, PressureFrame, VersionChanges
from advisor.recommend.facts import MachineInfo, fleet_facts
from advisor.recommend.impact import LaunchRate
from advisor.recommend.parameters import RecommendParameters

DAY = 86400.0
START = 1_756_684_800.0  # a UTC midnight


def one_host_fleet() -> tuple[FleetData, float]:
    """Host ``a`` launches gimp warm on days 0-19: 2 s on 1.0 until day 14, then 3 s on 2.0
    (days 14-19), three launches a day; one cold start on days 18 and 19 (6 s); memory PSI
    0.1 on the last 14 days, 0.0 before."""
    hosts = HostTable(["a"], ["it"], np.array([8.0 * 2**30]), np.array([True]), np.array([4.0]))
    days = np.repeat(np.arange(20), 3)
    version = np.where(days >= 14, 2, 1)
    duration = np.where(days >= 14, 3.0, 2.0) * np.tile([0.9, 1.0, 1.2], 20)
    cold_days = np.array([18, 19])
    started = START + np.r_[days, cold_days] * DAY + 3600.0
    frame = LaunchFrame(
        hosts,
        ["gimp"],
        ["", "1.0", "2.0"],
        np.zeros(62, np.int32),
        np.zeros(62, np.int32),
        np.r_[version, [2, 2]].astype(np.int32),
        np.zeros(62, np.int32),
        started,
        np.r_[duration, [6.0, 6.0]],
        np.r_[np.zeros(60, bool), [True, True]],
    )
    pressure_days = np.arange(20)
    pressure = PressureFrame(
        host=np.zeros(20, np.int32),
        day=np.asarray(START + pressure_days * DAY, dtype=np.float64),
        memory_pressure=np.where(pressure_days >= 6, 0.1, 0.0),
        swap_in_bytes_per_second=np.full(20, 2e6),
        io_pressure=np.full(20, np.nan),
        cpu_pressure=np.full(20, 0.05),
        disk_used_ratio=np.full(20, 0.5),
    )
    changes = VersionChanges(
        np.empty(0, np.int32),
        np.empty(0, np.int32),
        np.empty(0),
        np.empty(0, np.int32),
        np.empty(0, np.int32),
    )
    return FleetData(frame, pressure, changes), START + 19 * DAY + 7200.0


def test_a_hosts_level_is_read_on_its_current_version_cold_and_warm_apart() -> None:
    data, now = one_host_fleet()

    facts = fleet_facts(data, now=now, hostnames={"a": "ws-a"})

    usage = facts.usage
    assert facts.hosts.hostname == ("ws-a",)
    assert facts.hosts.ram_gib[0] == 8.0
    warm, cold = np.flatnonzero(~usage.cold)[0], np.flatnonzero(usage.cold)[0]
    assert facts.versions[usage.version[warm]] == "2.0"
    # Only the six days on 2.0 count: their median is 3 s.
    assert math.exp(usage.level[warm]) == pytest.approx(3.0)
    assert usage.days[warm] == 6
    assert usage.noise[warm] == pytest.approx(0.0)
    # Two cold days: fewer than min_level_days (3), so no level.
    assert usage.days[cold] == 2
    assert math.isnan(usage.level[cold])


def test_launches_a_day_are_counted_over_the_hosts_reporting_days() -> None:
    data, now = one_host_fleet()

    facts = fleet_facts(data, now=now)

    usage = facts.usage
    # The last 14 days (6 to 19): 42 warm and 2 cold launches over 14 days of reporting.
    warm, cold = np.flatnonzero(~usage.cold)[0], np.flatnonzero(usage.cold)[0]
    assert usage.launches_per_day[warm] == pytest.approx(42 / 14)
    assert usage.launches_per_day[cold] == pytest.approx(2 / 14)
    assert facts.rates[("a", "gimp")] == LaunchRate(44, 14.0)


def test_the_stores_rates_replace_the_counted_ones_each_kind_keeping_its_share() -> None:
    data, now = one_host_fleet()

    facts = fleet_facts(data, now=now, rates={("a", "gimp"): LaunchRate(100, 10.0)})

    usage = facts.usage
    assert facts.rates == {("a", "gimp"): LaunchRate(100, 10.0)}
    assert usage.launches_per_day[~usage.cold][0] == pytest.approx(10 * 42 / 44)
    assert usage.launches_per_day[usage.cold][0] == pytest.approx(10 * 2 / 44)


def test_pressure_is_each_series_mean_over_the_recent_days_unknown_left_unknown() -> None:
    data, now = one_host_fleet()

    facts = fleet_facts(data, now=now, params=RecommendParameters(recent_days=20))

    hosts = facts.hosts
    assert hosts.memory_pressure[0] == pytest.approx(0.1 * 14 / 20)
    assert hosts.swap_in_mb[0] == pytest.approx(2.0)
    assert math.isnan(hosts.io_pressure[0])


def test_the_inventorys_extras_are_kept_by_host() -> None:
    data, now = one_host_fleet()

    facts = fleet_facts(data, now=now, machines={"a": MachineInfo(ram_type="DDR5")})

    assert facts.hosts.machine(0).ram_type == "DDR5"
    assert facts.hosts.machine(0).machine_class is None
