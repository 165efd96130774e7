"""The textures of issue 13 really happen in the generated data, and the truth says so.

One scenario has them all (a holiday, Berlin's end of summer time, reinstalled hosts, old
machines that are HDD + 4 GB + slow CPU at once, a cold-start-only rollout that a pilot
department takes first, memory pressure on a chosen number of hosts slowing one app). Most
checks read the columnar path (fast, a bigger fleet); the last ones check that the batch path
draws the same fleet and agrees with it statistically.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from advisor.simulator import (
    Delivery,
    Fleet,
    ground_truth,
    load_scenario,
    plan_fleet,
    simulate,
    write_truth,
)
from advisor.simulator.calendar import DAY, HOUR, day_number
from advisor.simulator.columnar import FleetColumns, fleet_columns
from advisor.simulator.scenario import (
    DEFAULT_APPS,
    Department,
    Holiday,
    MemoryPressure,
    Realism,
    Reinstall,
    Scenario,
    Tier,
    VersionRollout,
)

from .fleets import (
    OUTSIDE_FLEET,
    OUTSIDE_START,
    batch_durations,
    compare_medians,
    frame_durations,
)

START = 1_760_313_600.0  # 2025-10-13 00:00 UTC, a Monday
END_OF_SUMMER_TIME = 1_761_440_400.0  # 2025-10-26 01:00 UTC
HOLIDAY = "2025-10-29"  # a Wednesday
NEW_VERSION = "4:7.5.9-1~bpo12+1"

TEXTURES = Scenario(
    name="textures",
    apps=DEFAULT_APPS,
    departments=(Department("pilot", 0.2), Department("finance", 0.4), Department("sales", 0.4)),
    tiers=(
        Tier("old-hdd-4g-slow", 0.3, "hdd", 4, "low", cohort="old"),
        Tier("office-ssd-8g", 0.5, "ssd", 8, "mid"),
        Tier("power-ssd-16g", 0.2, "ssd", 16, "high"),
    ),
    rollouts=(
        VersionRollout(
            "libreoffice-cold-only",
            app="libreoffice",
            to_version=NEW_VERSION,
            start=0.3,
            ramp=0.05,
            cold_effect=0.35,
            warm_effect=0.0,
            share=0.8,
            pilot_departments=("pilot",),
            rest_start=0.5,
        ),
    ),
    memory_pressure=(
        MemoryPressure(
            "firefox-memory",
            start=0.35,
            ramp=0.05,
            effect=0.5,
            apps=("firefox",),
            hosts=7,
            max_memory_gb=8,
        ),
    ),
    holidays=(Holiday("holiday", HOLIDAY),),
    reinstalls=(Reinstall("reinstalled", at=0.5, count=2),),
    realism=Realism(time_zone="Europe/Berlin"),
)


def textured(hosts: int = 150, days: float = 21.0, seed: int = 5) -> Fleet:
    return plan_fleet(TEXTURES, hosts=hosts, days=days, seed=seed, start=START, interval=HOUR)


@functools.cache
def columns() -> FleetColumns:
    return fleet_columns(textured())


@functools.cache
def truth() -> dict[str, Any]:
    return ground_truth(textured())


def event(event_id: str, app: str | None = None) -> dict[str, Any]:
    return next(
        e for e in truth()["events"] if e["id"] == event_id and (app is None or e["app"] == app)
    )


def machine_of_launches(fleet: Fleet, cols: FleetColumns) -> npt.NDArray[np.int64]:
    """Each launch's machine (plan index), whichever of its ids it came under."""
    index = {host_id: h.index for host_id, h in fleet.identities()}
    code_to_machine = np.array([index[h] for h in cols.launches.hosts.host_id])
    result: npt.NDArray[np.int64] = code_to_machine[cols.launches.host]
    return result


def centred_shift(
    fleet: Fleet,
    cols: FleetColumns,
    app: str,
    kinds: tuple[bool, ...],
    before: dict[int, float],
    after: dict[int, float],
) -> float:
    """The relative shift of ``app``'s load times (the start ``kinds`` given: cold True) on
    each machine between its launches before ``before[m]`` and after ``after[m]``, each
    machine and kind centred on its own median before: ``exp(median centred log after) - 1``."""
    frame = cols.launches
    machine = machine_of_launches(fleet, cols)
    shifted: list[float] = []
    for cold in kinds:
        chosen = (frame.app == frame.apps.index(app)) & (frame.cold == cold)
        for m in set(before) & set(after):
            mine = chosen & (machine == m)
            logs, t = np.log(frame.duration[mine]), cols.true_time[mine]
            early, late = logs[t < before[m]], logs[t >= after[m]]
            if len(early) >= 3 and len(late) >= 1:
                shifted += (late - np.median(early)).tolist()
    assert len(shifted) > 100
    return math.exp(statistics.median(shifted)) - 1


# --- holidays -----------------------------------------------------------------------------


def test_a_holiday_has_weekend_like_launch_counts_and_is_a_must_not_flag_event() -> None:
    fleet = textured()
    days = fleet.calendar.days(columns().true_time).astype(int)
    per_day = Counter(days.tolist())
    holiday = day_number(dt.date.fromisoformat(HOLIDAY))
    working = [n for d, n in per_day.items() if fleet.calendar.is_workday(d)]
    weekend = [n for d, n in per_day.items() if (d + 3) % 7 >= 5]
    assert per_day[holiday] < 0.2 * statistics.median(working)
    assert per_day[holiday] <= 2 * max(weekend)
    entry = event("holiday")
    assert entry["kind"] == "holiday"
    assert entry["all_hosts"]
    assert not entry["expect_finding"]
    assert entry["date"] == HOLIDAY
    assert entry["start"] == fleet.calendar.at(holiday, 0.0)  # local midnight
    assert entry["end"] - entry["start"] == DAY


def test_a_holiday_as_a_fraction_of_the_run_falls_on_the_next_working_day() -> None:
    saturday = 5.5 / 21  # day 5 of a run from a Monday
    scenario = Scenario(
        name="h",
        apps=DEFAULT_APPS,
        departments=TEXTURES.departments,
        tiers=TEXTURES.tiers,
        holidays=(Holiday("moved", saturday),),
    )
    fleet = plan_fleet(scenario, hosts=3, days=21, seed=1, start=START, interval=HOUR)
    assert fleet.holidays == {"moved": day_number(dt.date(2025, 10, 20))}


# --- daylight saving ----------------------------------------------------------------------


def test_launch_times_move_an_hour_later_in_utc_when_summer_time_ends() -> None:
    fleet = textured()
    t = columns().true_time
    utc_hour = (t % DAY) / HOUR
    before, after = t < END_OF_SUMMER_TIME, t >= END_OF_SUMMER_TIME
    # Work hours are 8:00-17:30 local: 6:00-15:30 UTC in summer time, 7:00-16:30 after.
    assert 6.0 <= utc_hour[before].min() < 6.5
    assert utc_hour[before].max() < 15.5
    assert 7.0 <= utc_hour[after].min() < 7.5
    assert 16.0 < utc_hour[after].max() < 16.5
    local = fleet.calendar.hours(t)
    assert (local >= 8.0).all()
    assert (local < 17.5).all()
    change = next(e for e in truth()["events"] if e["kind"] == "dst_change")
    assert change["start"] == END_OF_SUMMER_TIME
    assert (change["offset_before_hours"], change["offset_after_hours"]) == (2.0, 1.0)
    assert change["all_hosts"]
    assert not change["expect_finding"]


# --- reinstalls ---------------------------------------------------------------------------


def test_a_reinstalled_host_comes_back_under_a_new_id_with_cold_first_launches() -> None:
    fleet = textured()
    cols = columns()
    frame = cols.launches
    entry = event("reinstalled")
    assert entry["kind"] == "reinstall"
    assert not entry["expect_finding"]
    assert len(entry["reinstalls"]) == 2
    hosts = {h["host_id"]: h for h in truth()["hosts"]}
    for item in entry["reinstalls"]:
        old, new, at = item["old_host_id"], item["new_host_id"], item["at"]
        assert {old, new} <= set(entry["hosts"])
        assert hosts[new]["reinstall_of"] == old
        assert hosts[old]["new_host_id"] == new
        assert hosts[new]["hostname"] == hosts[old]["hostname"] == item["hostname"]
        assert hosts[new]["tier"] == hosts[old]["tier"]
        old_code, new_code = frame.hosts.host_id.index(old), frame.hosts.host_id.index(new)
        assert frame.hosts.ram_bytes[new_code] == frame.hosts.ram_bytes[old_code]
        assert (cols.true_time[frame.host == old_code] < at).all()
        new_times = cols.true_time[frame.host == new_code]
        assert len(new_times) > 10
        assert (new_times >= at).all()
        for app in range(len(frame.apps)):
            mine = np.flatnonzero((frame.host == new_code) & (frame.app == app))
            if len(mine):
                assert frame.cold[mine[np.argmin(cols.true_time[mine])]]  # empty cache
        assert at >= fleet.at(0.5)
    pressure = cols.at(None).pressure
    renewed = [frame.hosts.host_id.index(i["new_host_id"]) for i in entry["reinstalls"]]
    assert set(renewed) <= set(pressure.host.tolist())


# --- correlated old hardware --------------------------------------------------------------


def test_old_machines_are_hdd_and_4_gb_and_slow_at_once_and_the_truth_gives_the_combination() -> (
    None
):
    fleet = textured()
    frame = columns().launches
    old = [i for i, h in enumerate(frame.hosts.host_id) if _tier(fleet, h).cohort == "old"]
    assert len(old) > 20
    assert frame.hosts.disk_rotational[old].all()
    assert (frame.hosts.ram_bytes[old] == 4 * 2**30).all()
    assert (frame.hosts.cpu_cores[old] == 2).all()
    others = [i for i in range(len(frame.hosts)) if i not in old]
    assert not frame.hosts.disk_rotational[others].any()
    entry = event("hardware-tier-old", "evince")
    assert entry["cohort"] == "old"
    assert entry["cause"] == "hardware_tier"
    assert set(entry["aliases"]) == {"hdd", "low_cpu", "low_ram"}
    assert entry["reference"] == "office-ssd-8g"
    assert not any(e["id"] == "hardware-tier-hdd" for e in truth()["events"])
    # The data: old machines' evince medians against the reference tier's, per start kind.
    reference = [
        i for i, h in enumerate(frame.hosts.host_id) if _tier(fleet, h).name == entry["reference"]
    ]
    evince = frame.app == frame.apps.index("evince")
    for cold, key in ((True, "cold_effect"), (False, "warm_effect")):
        chosen = evince & (frame.cold == cold)
        ratio = np.median(frame.duration[chosen & np.isin(frame.host, old)]) / np.median(
            frame.duration[chosen & np.isin(frame.host, reference)]
        )
        assert abs(ratio / (1 + entry[key]) - 1) < 0.1, (key, ratio, entry[key])
    assert entry["cold_effect"] > 1.5
    assert 0.3 < entry["warm_effect"] < 0.7


def _tier(fleet: Fleet, host_id: str) -> Tier:
    return next(h for i, h in fleet.identities() if i == host_id).tier


# --- start-kind effects and the pilot department ------------------------------------------


def test_a_cold_only_rollout_slows_cold_starts_by_35_percent_and_leaves_warm_ones() -> None:
    fleet = textured()
    machines = {host_id: h.index for host_id, h in fleet.identities()}
    changes = {machines[c.host_id]: c.at for c in fleet.version_changes}
    assert len(changes) > 80
    cold = centred_shift(fleet, columns(), "libreoffice", (True,), changes, changes)
    warm = centred_shift(fleet, columns(), "libreoffice", (False,), changes, changes)
    assert abs(cold - 0.35) < 0.06, cold
    assert abs(warm) < 0.04, warm
    entry = event("libreoffice-cold-only")
    assert (entry["cold_effect"], entry["warm_effect"], entry["effect"]) == (0.35, 0.0, 0.35)
    assert entry["start_kind"] == "cold"
    assert all(c.cold_effect == 0.35 and c.warm_effect == 0.0 for c in fleet.version_changes)


def test_the_pilot_department_upgrades_whole_and_first_the_others_from_rest_start() -> None:
    fleet = textured()
    by_host = {c.host_id: c.at for c in fleet.version_changes}
    pilot = [h for h in fleet.hosts if h.department == "pilot"]
    assert len(pilot) > 15
    assert all(h.host_id_at(fleet.at(0.3)) in by_host for h in pilot)  # every pilot host
    for host in fleet.hosts:
        at = by_host.get(host.host_id)
        if at is None:
            continue
        if host.department == "pilot":
            assert at >= fleet.at(0.3)
            # Only a running machine upgrades: one powered off for days may miss the pilot.
            assert at < fleet.at(0.5) or host.powered_off
        else:
            assert at >= fleet.at(0.5)
    others = [h for h in fleet.hosts if h.department != "pilot"]
    upgraded = sum(h.host_id in by_host for h in others)
    assert 0.6 < upgraded / len(others) < 0.95  # share 0.8 of the rest
    assert event("libreoffice-cold-only")["pilot_departments"] == ["pilot"]


# --- memory pressure on a chosen number of hosts ------------------------------------------


def test_memory_pressure_on_seven_chosen_hosts_slows_only_the_named_app_there() -> None:
    fleet = textured()
    hit = [h for h in fleet.hosts if any(r.event_id == "firefox-memory" for r in h.ramps)]
    assert len(hit) == 7
    assert all(h.tier.memory_gb <= 8 for h in hit)
    entry = event("firefox-memory")
    assert entry["app"] == "firefox"
    assert entry["cause"] == "memory"
    assert {i for h in hit for i in h.ids} == set(entry["hosts"])
    assert [e["app"] for e in truth()["events"] if e["id"] == "firefox-memory"] == ["firefox"]
    ramp = next(r for r in hit[0].ramps if r.event_id == "firefox-memory")
    before = {h.index: ramp.start for h in hit}
    after = {h.index: ramp.full_at for h in hit}
    # Seven hosts, each centred on a week of launches: noisier than the rollout's hundred.
    firefox = centred_shift(fleet, columns(), "firefox", (True, False), before, after)
    evince = centred_shift(fleet, columns(), "evince", (True, False), before, after)
    assert abs(firefox - 0.5) < 0.15, firefox
    assert abs(evince) < 0.08, evince
    pressure = columns().at(None).pressure
    codes = [columns().launches.hosts.host_id.index(h.host_id) for h in hit]
    late = pressure.day >= after[hit[0].index]
    chosen = np.isin(pressure.host, codes)
    assert np.nanmedian(pressure.memory_pressure[late & chosen]) > 5 * np.nanmedian(
        pressure.memory_pressure[late & ~chosen]
    )


# --- laptops and clocks in the outside fleet ----------------------------------------------


def test_the_outside_fleet_has_late_laptops_and_skewed_clocks() -> None:
    fleet = plan_fleet(
        load_scenario(OUTSIDE_FLEET), hosts=200, days=56, seed=1, start=OUTSIDE_START, interval=HOUR
    )
    offline = [h for h in fleet.hosts if h.agent_offline]
    assert len(offline) >= 10
    assert sum(h.skew_seconds != 0 for h in fleet.hosts) >= 10
    cols = fleet_columns(fleet)
    late = 0
    for host in offline:
        inside = (
            (cols.launches.host == host.index)
            & (cols.true_time >= host.agent_offline[0].start)
            & (cols.true_time < host.agent_offline[0].end - HOUR)
        )
        assert (cols.delivered_at[inside] >= host.agent_offline[0].end).all()
        late += int(inside.sum())
    assert late > 100
    kinds = Counter(e["kind"] for e in ground_truth(fleet)["events"])
    assert (kinds["holiday"], kinds["dst_change"], kinds["reinstall"]) == (1, 1, 1)


# --- the batch path draws the same fleet --------------------------------------------------


@functools.cache
def small() -> Fleet:
    return textured(hosts=40, days=21.0, seed=3)


@functools.cache
def batch_run() -> tuple[Delivery, ...]:
    return tuple(simulate(small()))


@functools.cache
def small_columns() -> FleetColumns:
    return fleet_columns(small())


def test_batches_and_columns_agree_on_launch_counts_per_host_id_and_app() -> None:
    batch: Counter[tuple[str, str]] = Counter(
        (d.host_id, launch.app)
        for d in batch_run()
        for launch in d.batch.launches
        if launch.outcome == "ok"
    )
    frame = small_columns().launches
    columnar = Counter(
        zip(
            [frame.hosts.host_id[h] for h in frame.host],
            [frame.apps[a] for a in frame.app],
            strict=True,
        )
    )
    keys = sorted(set(batch) | set(columnar))
    assert len(keys) > 150
    z = np.array([(batch[k] - columnar[k]) / np.sqrt(batch[k] + columnar[k] + 1) for k in keys])
    assert abs(z.mean()) < 0.25
    assert 0.7 < z.std() < 1.3
    renewed = {h.new_host_id for h in small().hosts if h.new_host_id}
    assert renewed
    assert renewed <= {k[0] for k in batch}
    assert renewed <= {k[0] for k in columnar}


def test_batches_and_columns_agree_on_medians_per_version_and_start_kind() -> None:
    batch = batch_durations(batch_run())
    columnar = frame_durations(small_columns().launches)
    compared = compare_medians(batch, columnar, min_launches=100)
    assert compared >= 10
    assert ("libreoffice", NEW_VERSION, True) in batch


def test_batches_follow_the_calendar_the_reinstalls_and_the_version_changes() -> None:
    fleet = small()
    days = Counter(
        fleet.calendar.day(
            launch.started_at - next(h for h in fleet.hosts if d.host_id in h.ids).skew_seconds
        )
        for d in batch_run()
        for launch in d.batch.launches
    )
    holiday = day_number(dt.date.fromisoformat(HOLIDAY))
    working = [n for day, n in days.items() if fleet.calendar.is_workday(day)]
    assert days[holiday] < 0.2 * statistics.median(working)
    # A reinstalled host's new agent: the same hostname, sequence from 1, only after the
    # reinstall; the old id silent from then on.
    for host in (h for h in fleet.hosts if h.new_host_id):
        assert host.reinstalled_at is not None
        new = [d for d in batch_run() if d.host_id == host.new_host_id]
        old = [d for d in batch_run() if d.host_id == host.host_id]
        assert new[0].batch.sequence == 1
        assert new[0].batch.inventory is not None
        assert all(d.batch.host.hostname == host.hostname for d in new)
        true_start = [d.batch.intervals[0].start - host.skew_seconds for d in new]
        assert min(true_start) == host.reinstalled_at
        assert all(
            d.batch.intervals[0].start - host.skew_seconds < host.reinstalled_at for d in old
        )
        ids = {d.batch.batch_id for d in new} & {d.batch.batch_id for d in old}
        assert not ids
    # Version changes are dated by the same inventory in both paths.
    first_seen: dict[tuple[str, str, str], float] = {}
    for d in batch_run():
        if d.batch.inventory is not None:
            for package in d.batch.inventory.software:
                if package.app:
                    key = (d.host_id, package.app, package.version)
                    first_seen.setdefault(key, d.batch.inventory.collected_at)
    data = small_columns().at(None)
    frame = data.launches
    assert len(data.changes) > 10
    for host, app, at, to_version in zip(
        data.changes.host, data.changes.app, data.changes.at, data.changes.to_version, strict=True
    ):
        assert (
            first_seen[(frame.hosts.host_id[host], frame.apps[app], frame.versions[to_version])]
            == at
        )


def test_the_truth_of_every_texture_is_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    write_truth(truth(), path)
    loaded = json.loads(path.read_text())
    kinds = {e["kind"] for e in loaded["events"]}
    assert {"holiday", "dst_change", "reinstall", "version_rollout", "hardware_tier"} <= kinds
    assert len(loaded["hosts"]) == 152  # 150 machines, two of them reinstalled
