"""The columnar path: the batch path's model as analysis frames, cut at any time."""

from __future__ import annotations

import functools
import statistics
from collections import Counter

import numpy as np

from advisor.analysis.frames import FleetData
from advisor.simulator import Delivery, Fleet, default_scenario, plan_fleet, simulate
from advisor.simulator.calendar import DAY
from advisor.simulator.columnar import fleet_columns, fleet_data
from advisor.simulator.scenario import scale_scenario

from .fleets import MONDAY, batch_durations, compare_medians, frame_durations


def fleet(hosts: int = 40, days: float = 14.0, seed: int = 3) -> Fleet:
    return plan_fleet(
        default_scenario(), hosts=hosts, days=days, seed=seed, start=MONDAY, interval=3600.0
    )


@functools.cache
def batch_run() -> tuple[Delivery, ...]:
    return tuple(simulate(fleet()))


@functools.cache
def columnar_run() -> FleetData:
    return fleet_data(fleet())


def test_launch_counts_per_host_and_app_agree_with_the_batches_within_poisson_noise() -> None:
    plan = fleet()
    index = {h.host_id: h.index for h in plan.hosts}
    batch: Counter[tuple[int, str]] = Counter(
        (index[d.host_id], launch.app)
        for d in batch_run()
        for launch in d.batch.launches
        if launch.outcome == "ok"
    )
    frame = columnar_run().launches
    columnar = Counter(zip(frame.host.tolist(), [frame.apps[a] for a in frame.app], strict=True))
    keys = sorted(set(batch) | set(columnar))
    assert len(keys) > 150
    z = np.array([(batch[k] - columnar[k]) / np.sqrt(batch[k] + columnar[k] + 1) for k in keys])
    # Each difference of two Poisson counts with the same mean: z about N(0, 1).
    assert abs(z.mean()) < 0.25
    assert 0.7 < z.std() < 1.3
    assert np.abs(z).max() < 4.5
    total_batch, total_columnar = sum(batch.values()), sum(columnar.values())
    assert abs(total_batch - total_columnar) < 4 * np.sqrt(total_batch + total_columnar)


def test_median_load_times_per_version_and_start_kind_agree_with_the_batches() -> None:
    batch = batch_durations(batch_run())
    columnar = frame_durations(columnar_run().launches)
    compared = compare_medians(batch, columnar, min_launches=150)
    assert compared >= 8
    # The rollout's new version is slower, in both paths.
    old, new = "4:7.4.7-1+deb12u8", "4:7.5.9-1~bpo12+1"
    slower = statistics.median(columnar[("libreoffice", new, False)]) / statistics.median(
        columnar[("libreoffice", old, False)]
    )
    assert 1.2 < slower < 1.5


def test_version_changes_are_dated_by_the_same_inventory_as_in_the_batches() -> None:
    first_seen: dict[tuple[str, str, str], float] = {}
    for d in batch_run():
        if d.batch.inventory is not None:
            for package in d.batch.inventory.software:
                if package.app:
                    key = (d.host_id, package.app, package.version)
                    first_seen.setdefault(key, d.batch.inventory.collected_at)
    data = columnar_run()
    changes, frame = data.changes, data.launches
    assert len(changes) > 30
    for host, app, at, to_version in zip(
        changes.host, changes.app, changes.at, changes.to_version, strict=True
    ):
        key = (frame.hosts.host_id[host], frame.apps[app], frame.versions[to_version])
        assert first_seen[key] == at


def test_launch_versions_follow_the_truths_change_times_on_the_hosts_clock() -> None:
    plan = fleet()
    data = columnar_run()
    frame = data.launches
    change_at = {(c.host_id, c.app): c for c in plan.version_changes}
    skew = np.array([h.skew_seconds for h in plan.hosts])
    checked = 0
    for host, app, version, started in zip(
        frame.host, frame.app, frame.version, frame.started_at, strict=True
    ):
        change = change_at.get((frame.hosts.host_id[host], frame.apps[app]))
        if change is None:
            continue
        true_time = started - skew[host]
        expected = change.to_version if true_time >= change.at else change.from_version
        assert frame.versions[version] == expected
        checked += 1
    assert checked > 500


def test_nothing_comes_from_a_powered_off_machine_or_outside_its_working_hours() -> None:
    plan = fleet(hosts=120, days=21.0, seed=8)
    columns = fleet_columns(plan)
    frame = columns.launches
    for i, host in enumerate(plan.hosts):
        times = columns.true_time[frame.host == i]
        for window in host.powered_off:
            assert not ((times >= window.start) & (times < window.end)).any()
        hours = (times % DAY) / 3600
        assert ((hours >= 8.0) & (hours < 17.5)).all()


def test_a_cut_holds_only_what_had_arrived_and_offline_agents_arrive_late() -> None:
    plan = fleet(hosts=120, days=21.0, seed=8)
    columns = fleet_columns(plan)
    until = plan.at(0.5)
    cut = columns.at(until)
    full = columns.at(None)
    assert 0 < len(cut.launches) < len(full.launches)
    assert (columns.true_time[columns.delivered_at <= until] < until).all()
    assert len(cut.changes) < len(full.changes)
    assert cut.pressure.day.max() <= until
    late = 0
    for host in plan.hosts:
        for window in host.agent_offline:
            inside = (
                (columns.launches.host == host.index)
                & (columns.true_time >= window.start)
                & (columns.true_time < window.end - 3600)
            )
            assert (columns.delivered_at[inside] >= window.end).all()
            late += int(inside.sum())
    assert late > 0


def test_pressure_grows_on_low_ram_hosts_and_psi_is_missing_where_the_kernel_lacks_it() -> None:
    plan = fleet(hosts=120, days=21.0, seed=8)
    pressure = fleet_data(plan).pressure
    low_ram = np.array([h.tier.memory_gb <= 4 for h in plan.hosts])
    no_psi = np.array([not h.has_psi for h in plan.hosts])
    early = pressure.day < plan.at(0.25)
    late = pressure.day >= plan.at(0.75)
    rows = low_ram[pressure.host] & ~no_psi[pressure.host]
    before = np.median(pressure.memory_pressure[rows & early])
    after = np.median(pressure.memory_pressure[rows & late])
    assert after > 5 * before
    assert np.isnan(pressure.memory_pressure[no_psi[pressure.host]]).all()
    assert not np.isnan(pressure.swap_in_bytes_per_second).any()


def test_the_same_seed_gives_the_same_frames() -> None:
    first, second = fleet_data(fleet(hosts=30, days=5.0)), fleet_data(fleet(hosts=30, days=5.0))
    assert np.array_equal(first.launches.duration, second.launches.duration)
    assert np.array_equal(first.pressure.io_pressure, second.pressure.io_pressure, equal_nan=True)


def test_the_scale_scenario_has_twenty_apps_and_the_default_events() -> None:
    scenario = scale_scenario()
    default = default_scenario()
    assert len({a.name for a in scenario.apps}) == 20
    assert scenario.rollouts == default.rollouts
    assert scenario.outages == default.outages
    plan = plan_fleet(scenario, hosts=20, days=7.0, seed=2, start=MONDAY, interval=3600.0)
    frame = fleet_data(plan).launches
    assert len(set(frame.app.tolist())) == 20
