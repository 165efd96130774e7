"""The ground truth says what happened, and the batches agree with it."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from advisor.simulator import ground_truth, write_truth
from advisor.simulator.calendar import DAY
from advisor.simulator.launches import launches_between

from .fleets import FIX, LIBREOFFICE, MONDAY, chain_fleet, deliveries, small_fleet

CAUSES = {"version", "memory", "swap", "disk_io", "cpu", "hardware_tier"}


def test_rollout_versions_change_at_the_times_the_truth_gives() -> None:
    fleet = small_fleet()
    changes = {(c.host_id, c.app): c for c in fleet.version_changes}
    assert len({c.event_id for c in changes.values()}) == 2
    checked = 0
    for delivery in deliveries():
        for launch in delivery.batch.launches:
            change = changes.get((delivery.host_id, launch.app))
            if change is None:
                continue
            true_start = launch.started_at - (delivery.sent_at - delivery.delivered_at)
            expected = change.to_version if true_start >= change.at else change.from_version
            assert launch.version == expected
            checked += 1
    assert checked > 50
    rollout = fleet.scenario.rollouts[0]
    ramp_end = fleet.at(rollout.start + rollout.ramp)
    for change in fleet.version_changes:
        if change.event_id == rollout.id:
            # Upgrades happen on running machines, so at most a weekend after the ramp.
            assert fleet.at(rollout.start) <= change.at <= ramp_end + 3 * DAY


def test_the_truth_names_app_hosts_start_effect_and_cause_of_every_expected_finding() -> None:
    truth = ground_truth(small_fleet())
    expected = [e for e in truth["events"] if e["expect_finding"]]
    kinds = {e["kind"] for e in expected}
    assert kinds == {
        "version_rollout",
        "memory_pressure",
        "disk_fill",
        "slow_trend",
        "hardware_tier",
    }
    for event in expected:
        assert event["cause"] in CAUSES
        assert event["app"] in {"libreoffice", "firefox", "thunderbird", "gimp", "evince"}
        assert event["hosts"]
        assert event["effect"] != 0
        assert truth["start"] <= event["start"] < truth["end"]
    slower = next(e for e in expected if e["id"] == "libreoffice-7.5-slower")
    assert slower["version_to"] == "4:7.5.9-1~bpo12+1"
    assert slower["effect"] == 0.35
    assert set(slower["host_starts"]) == set(slower["hosts"])


def test_must_not_flag_events_are_in_the_truth_without_a_cause() -> None:
    truth = ground_truth(small_fleet(days=7.0))
    quiet = [e for e in truth["events"] if not e["expect_finding"]]
    assert {e["kind"] for e in quiet} == {"outage", "noisy_host", "weekend", "delivery_outage"}
    assert all(e["cause"] is None for e in quiet)
    weekend = next(e for e in quiet if e["kind"] == "weekend")
    assert weekend["start"] == MONDAY + 5 * DAY
    assert weekend["all_hosts"]


def test_the_outage_slows_launches_only_inside_its_window() -> None:
    fleet = small_fleet(seed=4, hosts=80, days=3.0)
    window = next(iter(fleet.outages.values()))
    finance = {h.host_id for h in fleet.hosts if h.department == "finance"}
    inside = [
        launch
        for d in deliveries(seed=4, hosts=80, days=3.0)
        if d.host_id in finance
        for launch in d.batch.launches
        if launch.app == "libreoffice"
        and (launch.started_at - (d.sent_at - d.delivered_at)) in window
    ]
    assert inside
    assert any(launch.outcome == "timeout" for launch in inside) or all(
        launch.duration_seconds and launch.duration_seconds > 3.0 for launch in inside
    )


def test_the_truth_file_is_json_with_hosts_and_version_changes(tmp_path: Path) -> None:
    fleet = small_fleet()
    path = tmp_path / "out" / "truth.json"
    write_truth(ground_truth(fleet), path)
    loaded = json.loads(path.read_text())
    assert loaded["format"] == "fleetsight.simulator.truth"
    assert [h["host_id"] for h in loaded["hosts"]] == [h.host_id for h in fleet.hosts]
    assert len(loaded["version_changes"]) == len(fleet.version_changes)
    assert list(tmp_path.joinpath("out").iterdir()) == [path]


def test_every_expected_event_gives_its_effect_on_cold_and_on_warm_starts() -> None:
    truth = ground_truth(small_fleet(hosts=60))
    expected = [e for e in truth["events"] if e["expect_finding"]]
    for event in expected:
        assert isinstance(event["cold_effect"], float)
        assert isinstance(event["warm_effect"], float)
    slower = next(e for e in expected if e["id"] == "libreoffice-7.5-slower")
    assert (slower["cold_effect"], slower["warm_effect"], slower["start_kind"]) == (
        0.35,
        0.35,
        "any",
    )
    hdd = next(e for e in expected if e["id"] == "hardware-tier-hdd")
    assert (hdd["cold_effect"], hdd["reference"]) == (1.0, "ssd")
    assert hdd["warm_effect"] == pytest.approx(0.05)
    assert hdd["start_kind"] == "cold"
    # Against the most common level of each factor: 8 GB of RAM, the mid CPU class.
    low_ram = next(e for e in expected if e["id"] == "hardware-tier-low_ram")
    assert low_ram["reference"] == "8 GB"
    assert low_ram["cold_effect"] == low_ram["warm_effect"] == pytest.approx(1.12 / 1.03 - 1)
    low_cpu = next(e for e in expected if e["id"] == "hardware-tier-low_cpu")
    assert low_cpu["cold_effect"] == pytest.approx(0.3)


def test_every_host_id_is_listed_once_and_nobody_is_reinstalled_by_default() -> None:
    truth = ground_truth(small_fleet())
    ids = [h["host_id"] for h in truth["hosts"]]
    assert len(ids) == len(set(ids)) == 20
    assert all(h["reinstalled_at"] is None and h["reinstall_of"] is None for h in truth["hosts"])


def test_cohorts_with_the_same_hosts_are_one_event_with_the_combined_effect() -> None:
    # The default scenario's only high-CPU tier is its only 32 GB tier.
    truth = ground_truth(small_fleet(hosts=60))
    high = next(e for e in truth["events"] if e["id"] == "hardware-tier-high_cpu")
    assert high["aliases"] == ["ram_32gb"]
    assert high["cold_effect"] == pytest.approx(0.85 / 1.03 - 1)  # against mid CPU and 8 GB
    assert not any(e["id"] == "hardware-tier-ram_32gb" for e in truth["events"])
    ram16 = next(e for e in truth["events"] if e["id"] == "hardware-tier-ram_16gb")
    assert ram16["aliases"] == []
    assert ram16["warm_effect"] == pytest.approx(1 / 1.03 - 1)


def test_a_chained_rollout_moves_only_the_hosts_on_its_from_version() -> None:
    fleet = chain_fleet()
    chain = [c for c in fleet.version_changes if c.app == "libreoffice"]
    fixes = [c for c in chain if c.to_version == LIBREOFFICE[2]]
    assert {c.event_id for c in fixes} == {"libreoffice-26.2.5-pilot", "libreoffice-26.2.5"}
    assert {c.from_version for c in fixes} == {LIBREOFFICE[1]}
    at_end = Counter(h.version_at("libreoffice", fleet.end).version for h in fleet.hosts)
    assert set(at_end) == {LIBREOFFICE[0], LIBREOFFICE[2]}  # 26.2.2 hosts never moved
    first = {c.host_id for c in chain if c.to_version == LIBREOFFICE[1]}
    assert first == {c.host_id for c in fixes}  # every 26.2.3 host got the fix, once
    assert len(fixes) == len({c.host_id for c in fixes})


def test_the_truth_gives_each_step_of_a_chain_and_where_it_left_the_host() -> None:
    fleet = chain_fleet()
    truth = ground_truth(fleet)
    fix = next(e for e in truth["events"] if e["id"] == "libreoffice-26.2.5-pilot")
    assert (fix["effect"], fix["from_version"]) == (FIX, LIBREOFFICE[1])  # 26 % faster
    assert fix["version_from"] == [LIBREOFFICE[1]]
    assert next(e for e in truth["events"] if e["id"] == "libreoffice-26.2.3")["effect"] == 0.35
    steps = {c["to_version"]: c for c in truth["version_changes"] if c["app"] == "libreoffice"}
    assert (steps[LIBREOFFICE[1]]["cold_effect"], steps[LIBREOFFICE[1]]["cold_factor"]) == (
        0.35,
        1.35,
    )
    assert steps[LIBREOFFICE[2]]["cold_effect"] == FIX
    assert steps[LIBREOFFICE[2]]["cold_factor"] == pytest.approx(1.0)  # as fast as 26.2.2


def test_a_bad_rollout_is_fine_on_the_pilot_and_slower_on_the_hosts_that_get_it_later() -> None:
    fleet = chain_fleet()
    truth = ground_truth(fleet)
    events = {e["id"]: e for e in truth["events"]}
    assert events["thunderbird-140.4-pilot"]["effect"] == 0.0
    assert events["thunderbird-140.4"]["effect"] == 0.3
    changes = [c for c in truth["version_changes"] if c["app"] == "thunderbird"]
    department = {h["host_id"]: h["department"] for h in truth["hosts"]}
    for change in changes:
        pilot = department[change["host_id"]] == "pilot"
        assert change["effect"] == (0.0 if pilot else 0.3)
        assert change["warm_factor"] == (1.0 if pilot else 1.3)
    # The launches agree: a later host's Thunderbird slows by 30 % at its upgrade, a pilot's
    # not at all (both SSD machines, which no ramp touches).
    for pilot in (True, False):
        host = next(
            h
            for h in fleet.hosts
            if (h.department == "pilot") == pilot
            and h.tier.disk == "ssd"
            and len(h.versions["thunderbird"]) > 1
        )
        since = host.versions["thunderbird"][1].since
        rng = np.random.default_rng(host.index)
        warm = [
            x
            for x in launches_between(fleet, host, fleet.start, fleet.end, 8.0, rng)
            if x.app == "thunderbird" and x.start_kind == "warm"
        ]
        before = statistics.median(x.duration for x in warm if x.t < since)
        after = statistics.median(x.duration for x in warm if x.t >= since)
        assert after / before == pytest.approx(1.0 if pilot else 1.3, abs=0.08)
