"""The counterfactual median: the launches' own median, and what each change takes away."""

from __future__ import annotations

import functools
import re
import statistics
from collections.abc import Callable

import numpy as np
import pytest

from advisor.simulator import Change, Fleet, SimHost, median_seconds, true_saving
from advisor.simulator.columnar import fleet_columns
from advisor.simulator.counterfactual import version_factors
from advisor.simulator.launches import Launch, launches_between
from advisor.simulator.loadtime import CPU_FACTOR, ram_factor

from .fleets import FIX, LIBREOFFICE, THUNDERBIRD, chain_fleet


@functools.cache
def noisy_fleet() -> Fleet:
    return chain_fleet()


def host_where(fleet: Fleet, *, tier: str, **versions_at_end: str) -> SimHost:
    """The first host of ``tier`` that ends the run with the given app versions."""
    return next(
        h
        for h in fleet.hosts
        if h.tier.name == tier
        and all(h.version_at(app, fleet.end).version == v for app, v in versions_at_end.items())
    )


def all_launches(fleet: Fleet, host: SimHost, usage: float, seed: int) -> list[Launch]:
    rng = np.random.default_rng(seed)
    return launches_between(fleet, host, fleet.start, fleet.end, usage, rng)


def test_every_launch_without_noise_takes_exactly_the_counterfactual_median() -> None:
    # sigma 0: a launch's duration is its median, so any drift between the two is visible.
    fleet = chain_fleet(noise=False)
    checked = 0
    for host in fleet.hosts:
        for launch in all_launches(fleet, host, usage=1.0, seed=host.index):
            cold = launch.start_kind == "cold"
            expected = median_seconds(fleet, host, launch.app, cold, launch.t)
            assert launch.duration == round(expected, 3)
            checked += 1
    assert checked > 10_000


def test_the_columnar_launches_without_noise_take_the_counterfactual_median_too() -> None:
    fleet = chain_fleet(noise=False)
    drawn = fleet_columns(fleet)
    frame = drawn.launches
    machines = dict(fleet.identities())
    hosts = [machines[host_id] for host_id in frame.hosts.host_id]
    columns = zip(
        frame.host.tolist(),
        frame.app.tolist(),
        frame.cold.tolist(),
        drawn.true_time.tolist(),
        frame.duration.tolist(),
        strict=True,
    )
    worst = max(
        abs(duration - median_seconds(fleet, hosts[h], frame.apps[a], cold, t))
        for h, a, cold, t, duration in columns
    )
    assert len(frame) > 10_000
    assert worst <= 0.0006  # the rounding to milliseconds, nothing more


@pytest.mark.parametrize(("app", "cold"), [("libreoffice", True), ("firefox", False)])
def test_the_median_of_many_noisy_launches_is_the_noise_free_median(app: str, cold: bool) -> None:
    fleet = noisy_fleet()
    # An old machine: a chained upgrade, a filling disk and memory pressure all move it.
    host = host_where(fleet, tier="old-hdd-4g", libreoffice=LIBREOFFICE[2])
    launches = [
        x
        for x in all_launches(fleet, host, usage=6.0, seed=5)
        if x.app == app and (x.start_kind == "cold") == cold
    ]
    ratios = [x.duration / median_seconds(fleet, host, app, cold, x.t) for x in launches]
    assert len(ratios) > 400
    assert statistics.median(ratios) == pytest.approx(1.0, abs=0.04)
    # Over a quiet stretch (every event done) the plain median is the model's median.
    rng = np.random.default_rng(6)
    quiet = [
        x.duration
        for x in launches_between(fleet, host, fleet.at(0.8), fleet.end, 20.0, rng)
        if x.app == app and (x.start_kind == "cold") == cold
    ]
    assert len(quiet) > 200
    expected = median_seconds(fleet, host, app, cold, fleet.end)
    assert statistics.median(quiet) == pytest.approx(expected, rel=0.06)


def test_an_ssd_halves_cold_starts_on_an_hdd_host_and_ends_its_filling_disk() -> None:
    fleet = noisy_fleet()
    host = host_where(fleet, tier="old-hdd-4g")
    ssd = Change(disk="ssd")
    early, late = fleet.at(0.01), fleet.end  # before the disk starts filling; full
    for cold, disk in ((True, 2.0), (False, 1.05)):
        now = median_seconds(fleet, host, "evince", cold, early)
        assert now / median_seconds(fleet, host, "evince", cold, early, ssd) == pytest.approx(disk)
        now = median_seconds(fleet, host, "evince", cold, late)
        after = median_seconds(fleet, host, "evince", cold, late, ssd)
        assert now / after == pytest.approx(disk * 1.4)  # the full disk's 40 % goes too
    same = median_seconds(fleet, host, "evince", True, late, Change(disk="hdd"))
    assert same == median_seconds(fleet, host, "evince", True, late)


def test_ram_above_the_pressure_limit_ends_the_memory_pressure() -> None:
    fleet = noisy_fleet()
    host = host_where(fleet, tier="old-hdd-4g")  # 4 GB, under the 8 GB event on Firefox
    now = median_seconds(fleet, host, "firefox", False, fleet.end)
    at_limit = median_seconds(fleet, host, "firefox", False, fleet.end, Change(memory_gb=8))
    above = median_seconds(fleet, host, "firefox", False, fleet.end, Change(memory_gb=16))
    assert now / at_limit == pytest.approx(ram_factor(4) / ram_factor(8))  # pressure stays
    assert now / above == pytest.approx(ram_factor(4) / ram_factor(16) * 1.5)
    office = median_seconds(fleet, host, "libreoffice", False, fleet.end)
    office_above = median_seconds(
        fleet, host, "libreoffice", False, fleet.end, Change(memory_gb=16)
    )
    assert office / office_above == pytest.approx(ram_factor(4))  # it never slowed LibreOffice


def test_a_faster_cpu_speeds_up_launches_but_keeps_the_slow_trend() -> None:
    fleet = noisy_fleet()
    host = host_where(fleet, tier="old-hdd-4g")
    early = median_seconds(fleet, host, "evince", False, fleet.at(0.01))
    now = median_seconds(fleet, host, "evince", False, fleet.end)
    faster = median_seconds(fleet, host, "evince", False, fleet.end, Change(cpu="high"))
    assert now / early > 1.5  # the trend's 30 % and the filling disk's 40 %
    assert now / faster == pytest.approx(CPU_FACTOR["low"] / CPU_FACTOR["high"])


def test_going_back_to_the_first_version_matches_the_hosts_that_never_upgraded() -> None:
    fleet = noisy_fleet()
    t = fleet.at(0.6)  # the chain's middle: most hosts on 26.2.3, a pilot few on 26.2.5
    tier = "office-ssd-8g"
    never = [h for h in fleet.hosts if h.tier.name == tier and len(h.versions["libreoffice"]) == 1]
    moved = [h for h in fleet.hosts if h.tier.name == tier and len(h.versions["libreoffice"]) > 1]
    assert never
    assert moved
    back = Change(version=LIBREOFFICE[0])
    reference = median_seconds(fleet, never[0], "libreoffice", False, t)
    for host in moved:
        assert median_seconds(fleet, host, "libreoffice", False, t, back) == pytest.approx(
            reference, rel=1e-12
        )
    observed = [
        x.duration
        for i, h in enumerate(never)
        for x in all_launches(fleet, h, usage=3.0, seed=100 + i)
        if x.app == "libreoffice" and x.start_kind == "warm" and x.t >= fleet.at(0.2)
    ]
    assert len(observed) > 500
    assert statistics.median(observed) == pytest.approx(reference, rel=0.05)


def test_the_true_saving_of_the_fix_is_the_regression_it_undoes() -> None:
    fleet = noisy_fleet()
    t = fleet.at(0.6)
    slow = [h for h in fleet.hosts if h.version_at("libreoffice", t).version == LIBREOFFICE[1]]
    ids = [h.host_id_at(t) for h in slow]
    saving = true_saving(fleet, ids, "libreoffice", True, t, Change(version=LIBREOFFICE[2]))
    assert list(saving) == ids
    for host_id, host in zip(ids, slow, strict=True):
        now = median_seconds(fleet, host, "libreoffice", True, t)
        assert saving[host_id] == pytest.approx(now * (1 - 1 / 1.35))
    fixed = [h for h in fleet.hosts if h.version_at("libreoffice", t).version == LIBREOFFICE[2]]
    nothing = true_saving(
        fleet, [fixed[0].host_id], "libreoffice", True, t, Change(version=LIBREOFFICE[2])
    )
    assert nothing == {fixed[0].host_id: 0.0}


def test_a_version_a_host_never_had_composes_the_steps_that_would_bring_it_there() -> None:
    fleet = noisy_fleet()
    t = fleet.at(0.9)
    stayed = next(h for h in fleet.hosts if len(h.versions["libreoffice"]) == 1)
    # 26.2.5 goes only to 26.2.3 hosts: +35 % (26.2.3 as it reaches every host), then -25.9 %.
    fix = version_factors(fleet, stayed, "libreoffice", LIBREOFFICE[2], t)
    assert fix == pytest.approx((1.35 * (1 + FIX), 1.35 * (1 + FIX)))
    assert fix == pytest.approx((1.0, 1.0))
    regression = version_factors(fleet, stayed, "libreoffice", LIBREOFFICE[1], t)
    assert regression == (1.35, 1.35)


def test_a_bad_rollouts_version_is_slow_on_a_host_that_has_not_had_it_yet() -> None:
    fleet = noisy_fleet()
    t = fleet.at(0.4)  # the pilot has upgraded, the rest not yet
    pilot = next(h for h in fleet.hosts if h.department == "pilot")
    later = next(h for h in fleet.hosts if len(h.versions["thunderbird"]) > 1 and h is not pilot)
    never = next(h for h in fleet.hosts if len(h.versions["thunderbird"]) == 1)
    assert pilot.version_at("thunderbird", t).version == THUNDERBIRD[1]
    assert later.department != "pilot"
    assert version_factors(fleet, pilot, "thunderbird", THUNDERBIRD[1], t) == (1.0, 1.0)
    assert version_factors(fleet, later, "thunderbird", THUNDERBIRD[1], t) == (1.3, 1.3)
    assert version_factors(fleet, never, "thunderbird", THUNDERBIRD[1], t) == (1.3, 1.3)
    upgrade = Change(version=THUNDERBIRD[1])
    saving = true_saving(fleet, [never.host_id], "thunderbird", False, t, upgrade)
    now = median_seconds(fleet, never, "thunderbird", False, t)
    assert saving[never.host_id] == pytest.approx(-0.3 * now)  # slower: a negative saving
    # After the upgrade, going back to 140.2 saves the 30 % on the later host.
    end = fleet.end
    back = true_saving(fleet, [later.host_id], "thunderbird", True, end, Change(THUNDERBIRD[0]))
    slow = median_seconds(fleet, later, "thunderbird", True, end)
    assert back[later.host_id] == pytest.approx(slow * (1 - 1 / 1.3))


def test_either_id_of_a_reinstalled_machine_names_it() -> None:
    fleet = noisy_fleet()
    machine = next(h for h in fleet.hosts if h.new_host_id is not None)
    saving = true_saving(fleet, machine.ids, "evince", True, fleet.end, Change(cpu="high"))
    assert set(saving) == set(machine.ids)
    assert len(set(saving.values())) == 1
    assert saving[machine.host_id] > 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda f: median_seconds(f, f.hosts[0], "libreoffice", True, f.end, Change("9.9")),
            "libreoffice has no version '9.9' in scenario 'chains'; versions: 4:26.2.2-1",
        ),
        (lambda f: median_seconds(f, f.hosts[0], "gimp", True, f.end), "no app 'gimp'"),
        (lambda f: true_saving(f, ["nope"], "evince", True, f.end, Change()), "no host 'nope'"),
    ],
    ids=["version", "app", "host"],
)
def test_what_the_scenario_does_not_have_is_a_value_error(
    call: Callable[[Fleet], object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call(noisy_fleet())


def test_a_change_to_impossible_hardware_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="memory_gb must be more than 0"):
        Change(memory_gb=0)
    with pytest.raises(ValueError, match="disk must be 'ssd' or 'hdd'"):
        Change(disk="nvme")  # type: ignore[arg-type]
