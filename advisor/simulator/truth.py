"""The ground truth of a run: what was scripted to happen, to whom, when and how much.

Written as JSON next to the data, for the detection evaluation to score findings against.
Per event and app: the affected hosts, start (and when the effect is full), effect size
(relative load-time change at full strength, and per start kind: ``cold_effect``,
``warm_effect``), cause category and whether a finding is expected. Must-not-flag events (an
outage, noisy hosts, weekends, holidays, a daylight-saving change, a reinstall, a delivery
outage) have ``expect_finding: false`` and no cause; fleet-wide ones say ``all_hosts: true``.
Times are true UTC; the advisor sees each host's timestamps shifted by its ``skew_seconds``.
A reinstalled machine has two host ids: events list both.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from advisor.simulator.calendar import DAY, iso_day, weekday
from advisor.simulator.fleet import Fleet, SimHost
from advisor.simulator.loadtime import (
    CPU_FACTOR,
    DISK_COLD_FACTOR,
    DISK_WARM_FACTOR,
    ram_factor,
    tier_factor,
)
from advisor.simulator.scenario import LoadEvent, Tier, headline_effect, start_kind_effects

TRUTH_FORMAT = "fleetsight.simulator.truth"
TRUTH_VERSION = 1


def ground_truth(fleet: Fleet) -> dict[str, Any]:
    """The ground truth of ``fleet`` as JSON-ready data (see docs/simulator.md)."""
    scenario = fleet.scenario
    events: list[dict[str, Any]] = []
    events += _rollouts(fleet)
    ramped: tuple[tuple[str, str, tuple[LoadEvent, ...]], ...] = (
        ("memory_pressure", "memory", scenario.memory_pressure),
        ("disk_fill", "disk_io", scenario.disk_fills),
        ("slow_trend", "cpu", scenario.trends),
    )
    for kind, cause, items in ramped:
        for item in items:
            events += _ramp_events(fleet, kind, cause, item)
    events += _hardware_tiers(fleet)
    events += _must_not_flag(fleet)
    return {
        "format": TRUTH_FORMAT,
        "version": TRUTH_VERSION,
        "scenario": scenario.name,
        "seed": fleet.seed,
        "start": fleet.start,
        "end": fleet.end,
        "interval_seconds": fleet.interval,
        "apps": [asdict(app) for app in scenario.apps],
        "hosts": [_host(host, host_id) for host_id, host in fleet.identities()],
        "events": events,
        "version_changes": [asdict(change) for change in fleet.version_changes],
    }


def write_truth(truth: dict[str, Any], path: Path) -> None:
    """Write ``truth`` to ``path`` atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(truth, out, indent=1, allow_nan=False)
            out.write("\n")
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _host(host: SimHost, host_id: str) -> dict[str, Any]:
    renewed = host_id != host.host_id
    return {
        "host_id": host_id,
        "hostname": host.hostname,
        "department": host.department,
        "tier": host.tier.name,
        "disk": host.tier.disk,
        "memory_gb": host.tier.memory_gb,
        "cpu_class": host.tier.cpu,
        "skew_seconds": host.skew_seconds,
        "always_on": host.always_on,
        "has_psi": host.has_psi,
        "noisy": host.noise_factor > 1.0,
        "agent_offline": [[w.start, w.end] for w in host.agent_offline],
        "powered_off": [[w.start, w.end] for w in host.powered_off],
        "reinstalled_at": host.reinstalled_at,
        "new_host_id": None if renewed else host.new_host_id,
        "reinstall_of": host.host_id if renewed else None,
    }


def _ids_from(host: SimHost, t: float) -> list[str]:
    """The host ids the machine sends launches under from ``t`` on."""
    if host.new_host_id is None or host.reinstalled_at is None or t >= host.reinstalled_at:
        return [host.host_id_at(t)]
    return [host.host_id, host.new_host_id]


def _event(
    event_id: str,
    kind: str,
    *,
    app: str | None,
    hosts: list[str],
    start: float,
    end: float | None,
    cause: str | None,
    expect_finding: bool,
    effect: float | None = None,
    **more: Any,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "kind": kind,
        "app": app,
        "cause": cause,
        "expect_finding": expect_finding,
        "start": start,
        "end": end,
        "effect": effect,
        "hosts": sorted(hosts),
        "all_hosts": False,
        **more,
    }


def _rollouts(fleet: Fleet) -> list[dict[str, Any]]:
    machine = dict(fleet.identities())
    events = []
    for rollout in fleet.scenario.rollouts:
        changes = [c for c in fleet.version_changes if c.event_id == rollout.id]
        if not changes:
            continue
        starts = {host_id: c.at for c in changes for host_id in _ids_from(machine[c.host_id], c.at)}
        events.append(
            _event(
                rollout.id,
                "version_rollout",
                app=rollout.app,
                hosts=list(starts),
                start=min(c.at for c in changes),
                end=None,
                cause="version",
                expect_finding=True,
                full_at=max(c.at for c in changes),
                version_from=sorted({c.from_version for c in changes}),
                version_to=rollout.to_version,
                from_version=rollout.from_version,
                host_starts=starts,
                pilot_departments=list(rollout.pilot_departments),
                **_effects(rollout),
            )
        )
    return events


def _effects(event: LoadEvent) -> dict[str, Any]:
    cold, warm = start_kind_effects(event)
    return {
        "effect": headline_effect(event),
        "cold_effect": cold,
        "warm_effect": warm,
        "start_kind": "any" if cold == warm else ("cold" if abs(cold) >= abs(warm) else "warm"),
    }


def _ramp_events(fleet: Fleet, kind: str, cause: str, event: LoadEvent) -> list[dict[str, Any]]:
    """One entry per app a ramp event touches (a finding is per app)."""
    per_app: dict[str, list[str]] = {}
    first = None
    for host in fleet.hosts:
        for ramp in host.ramps:
            if ramp.event_id != event.id:
                continue
            first = ramp
            for app in fleet.scenario.apps:
                if ramp.apps is None or app.name in ramp.apps:
                    per_app.setdefault(app.name, []).extend(host.ids)
    if first is None:
        return []
    return [
        _event(
            event.id,
            kind,
            app=app,
            hosts=hosts,
            start=first.start,
            end=None,
            cause=cause,
            expect_finding=True,
            full_at=first.full_at,
            **_effects(event),
        )
        for app, hosts in sorted(per_app.items())
    ]


_Cohort = tuple[str, list[SimHost], float, float, str]  # name, hosts, cold, warm, reference


def _hardware_tiers(fleet: Fleet) -> list[dict[str, Any]]:
    """Standing differences between hardware cohorts (no change point: a cohort finding).

    Each factor alone (HDD against SSD; each CPU class and each RAM size against the most
    common one), as a regression with one term per factor reports it; and each named cohort
    of tiers (``Tier.cohort``) as the whole combination against the most common other tier.
    Cohorts with exactly the same hosts cannot be told apart (the high CPU class only on the
    32 GB machines, HDD only on the old ones): they are one event, whose effect is the
    combination's and whose ``aliases`` name the others.
    """
    groups: dict[frozenset[int], list[_Cohort]] = {}
    for cohort in _named_cohorts(fleet) + _factor_cohorts(fleet.hosts):
        groups.setdefault(frozenset(h.index for h in cohort[1]), []).append(cohort)
    events = []
    for group in groups.values():
        name, members, cold, warm, reference = group[0]
        if len(group) > 1 and not _is_named(fleet, name):
            # Factors alone, each against its own reference level: their product.
            cold = math.prod(1 + c[2] for c in group) - 1
            warm = math.prod(1 + c[3] for c in group) - 1
            reference = " + ".join(c[4] for c in group)
        aliases = [c[0] for c in group[1:]]
        events += _tier_events(fleet, name, members, cold, warm, reference, aliases)
    return events


def _is_named(fleet: Fleet, cohort: str) -> bool:
    return any(t.cohort == cohort for t in fleet.scenario.tiers)


def _factor_cohorts(hosts: tuple[SimHost, ...]) -> list[_Cohort]:
    cpu = _most_common([h.tier.cpu for h in hosts])
    ram = _most_common([h.tier.memory_gb for h in hosts])
    cohorts: list[_Cohort] = [
        (
            "hdd",
            [h for h in hosts if h.tier.disk == "hdd"],
            DISK_COLD_FACTOR["hdd"] / DISK_COLD_FACTOR["ssd"] - 1,
            DISK_WARM_FACTOR["hdd"] / DISK_WARM_FACTOR["ssd"] - 1,
            "ssd",
        )
    ]
    for level in sorted(CPU_FACTOR):
        if level != cpu:
            effect = CPU_FACTOR[level] / CPU_FACTOR[cpu] - 1
            members = [h for h in hosts if h.tier.cpu == level]
            cohorts.append((f"{level}_cpu", members, effect, effect, f"{cpu} cpu"))
    # Some are smaller than the 20 % the recall counts, but real: a finding on them is true.
    for size in sorted({max(h.tier.memory_gb, 4) for h in hosts}):  # up to 4 GB: one level
        if ram_factor(size) != ram_factor(ram):
            effect = ram_factor(size) / ram_factor(ram) - 1
            members = [h for h in hosts if max(h.tier.memory_gb, 4) == size]
            name = "low_ram" if size <= 4 else f"ram_{size}gb"
            cohorts.append((name, members, effect, effect, f"{ram} GB"))
    return [c for c in cohorts if c[1] and len(c[1]) < len(hosts)]


def _named_cohorts(fleet: Fleet) -> list[_Cohort]:
    names = sorted({t.cohort for t in fleet.scenario.tiers if t.cohort})
    # A named cohort is listed first: the factors with exactly its hosts become its aliases.
    cohorts: list[_Cohort] = []
    for name in names:
        members = [h for h in fleet.hosts if h.tier.cohort == name]
        others = [h.tier for h in fleet.hosts if h.tier.cohort != name]
        if not members or not others:
            continue
        reference = _most_common(others)

        def relative(cold: bool, members: list[SimHost] = members, ref: Tier = reference) -> float:
            logs = [math.log(tier_factor(h.tier, cold)) for h in members]
            return math.exp(sum(logs) / len(logs)) / tier_factor(ref, cold) - 1

        cohorts.append((name, members, relative(True), relative(False), reference.name))
    return cohorts


_T = TypeVar("_T")


def _most_common(values: list[_T]) -> _T:
    """The most frequent value (the first seen on a tie)."""
    return Counter(values).most_common(1)[0][0]


def _tier_events(
    fleet: Fleet,
    cohort: str,
    members: list[SimHost],
    cold: float,
    warm: float,
    reference: str,
    aliases: list[str],
) -> list[dict[str, Any]]:
    return [
        _event(
            f"hardware-tier-{cohort}",
            "hardware_tier",
            app=app.name,
            hosts=[host_id for h in members for host_id in h.ids],
            start=fleet.start,
            end=None,
            effect=cold if abs(cold) >= abs(warm) else warm,
            cause="hardware_tier",
            expect_finding=True,
            cohort=cohort,
            aliases=aliases,
            reference=reference,
            start_kind="any" if cold == warm else "cold",
            cold_effect=cold,
            warm_effect=warm,
        )
        for app in fleet.scenario.apps
    ]


def _must_not_flag(fleet: Fleet) -> list[dict[str, Any]]:
    scenario = fleet.scenario
    events = []
    for outage in scenario.outages:
        window = fleet.outages[outage.id]
        hosts = [
            host_id
            for h in fleet.hosts
            if not outage.departments or h.department in outage.departments
            for host_id in h.ids
        ]
        events.append(
            _event(
                outage.id,
                "outage",
                app=outage.app,
                hosts=hosts,
                start=window.start,
                end=window.end,
                effect=outage.slowdown - 1,
                cause=None,
                expect_finding=False,
            )
        )
    for group_id, host_ids in fleet.noisy.items():
        events.append(
            _event(
                group_id,
                "noisy_host",
                app=None,
                hosts=list(host_ids),
                start=fleet.start,
                end=fleet.end,
                effect=None,
                cause=None,
                expect_finding=False,
            )
        )
    for outage_id, window in fleet.delivery_outages.items():
        events.append(
            _event(
                outage_id,
                "delivery_outage",
                app=None,
                hosts=[],
                all_hosts=True,
                start=window.start,
                end=window.end,
                effect=None,
                cause=None,
                expect_finding=False,
            )
        )
    calendar = fleet.calendar
    day = calendar.day(fleet.start)
    while calendar.at(day, 0.0) < fleet.end:
        if weekday(day) == 5:
            begin = max(calendar.at(day, 0.0), fleet.start)
            finish = min(calendar.at(day + 2, 0.0), fleet.end)
            if finish > begin:
                events.append(
                    _event(
                        f"weekend-{day}",
                        "weekend",
                        app=None,
                        hosts=[],
                        all_hosts=True,
                        start=begin,
                        end=finish,
                        effect=None,
                        cause=None,
                        expect_finding=False,
                    )
                )
        day += 1
    return events + _holidays(fleet) + _dst_changes(fleet) + _reinstalls(fleet)


def _quiet(event_id: str, kind: str, start: float, end: float, **more: Any) -> dict[str, Any]:
    """A fleet-wide must-not-flag event."""
    more.setdefault("all_hosts", True)
    hosts = more.pop("hosts", [])
    return _event(
        event_id,
        kind,
        app=None,
        hosts=hosts,
        start=start,
        end=end,
        cause=None,
        expect_finding=False,
        **more,
    )


def _holidays(fleet: Fleet) -> list[dict[str, Any]]:
    """A holiday is a local day: office machines off, always-on ones idle."""
    calendar = fleet.calendar
    return [
        _quiet(
            holiday_id,
            "holiday",
            max(calendar.at(day, 0.0), fleet.start),
            min(calendar.at(day + 1, 0.0), fleet.end),
            date=iso_day(day * DAY),
        )
        for holiday_id, day in fleet.holidays.items()
    ]


def _dst_changes(fleet: Fleet) -> list[dict[str, Any]]:
    """Each daylight-saving change in the run: working hours move by its size in UTC; the two
    days after it (the first working day's data) are its window."""
    return [
        _quiet(
            f"dst-{iso_day(at)}",
            "dst_change",
            at,
            min(at + 2 * DAY, fleet.end),
            time_zone=fleet.scenario.realism.time_zone,
            offset_before_hours=before / 3600,
            offset_after_hours=after / 3600,
        )
        for at, before, after in fleet.calendar.transitions()
        if fleet.start <= at < fleet.end
    ]


def _reinstalls(fleet: Fleet) -> list[dict[str, Any]]:
    """Each reinstall: both ids of every machine, and when; its window runs three days on
    (the new id's first working day may be after a weekend)."""
    events = []
    for reinstall_id, indices in fleet.reinstalls.items():
        machines = [fleet.hosts[i] for i in indices]
        times = [h.reinstalled_at for h in machines if h.reinstalled_at is not None]
        if not times:
            continue
        events.append(
            _quiet(
                reinstall_id,
                "reinstall",
                min(times),
                min(max(times) + 3 * DAY, fleet.end),
                all_hosts=False,
                hosts=[host_id for h in machines for host_id in h.ids],
                reinstalls=[
                    {
                        "hostname": h.hostname,
                        "old_host_id": h.host_id,
                        "new_host_id": h.new_host_id,
                        "at": h.reinstalled_at,
                    }
                    for h in machines
                ],
            )
        )
    return events
