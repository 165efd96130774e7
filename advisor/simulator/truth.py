"""The ground truth of a run: what was scripted to happen, to whom, when and how much.

Written as JSON next to the data, for the detection evaluation to score findings against.
Per event and app: the affected hosts, start (and when the effect is full), effect size
(relative load-time change at full strength), cause category and whether a finding is
expected. Must-not-flag events (an outage, noisy hosts, weekends, a delivery outage) have
``expect_finding: false`` and no cause; fleet-wide ones say ``all_hosts: true``. Times are
true UTC; the advisor sees each host's timestamps shifted by its ``skew_seconds``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from advisor.simulator.calendar import DAY, at_local, local_day, weekday
from advisor.simulator.fleet import Fleet, SimHost
from advisor.simulator.launches import (
    CPU_FACTOR,
    DISK_COLD_FACTOR,
    DISK_WARM_FACTOR,
    ram_factor,
)

TRUTH_FORMAT = "fleetsight.simulator.truth"
TRUTH_VERSION = 1


def ground_truth(fleet: Fleet) -> dict[str, Any]:
    """The ground truth of ``fleet`` as JSON-ready data (see docs/simulator.md)."""
    scenario = fleet.scenario
    events: list[dict[str, Any]] = []
    events += _rollouts(fleet)
    for kind, cause, items in (
        ("memory_pressure", "memory", scenario.memory_pressure),
        ("disk_fill", "disk_io", scenario.disk_fills),
        ("slow_trend", "cpu", scenario.trends),
    ):
        for item in items:
            events += _ramp_events(fleet, kind, cause, item.id)
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
        "hosts": [_host(fleet, host) for host in fleet.hosts],
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


def _host(fleet: Fleet, host: SimHost) -> dict[str, Any]:
    return {
        "host_id": host.host_id,
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
    }


def _event(
    event_id: str,
    kind: str,
    *,
    app: str | None,
    hosts: list[str],
    start: float,
    end: float | None,
    effect: float | None,
    cause: str | None,
    expect_finding: bool,
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
    events = []
    for rollout in fleet.scenario.rollouts:
        changes = [c for c in fleet.version_changes if c.event_id == rollout.id]
        if not changes:
            continue
        events.append(
            _event(
                rollout.id,
                "version_rollout",
                app=rollout.app,
                hosts=[c.host_id for c in changes],
                start=min(c.at for c in changes),
                end=None,
                effect=rollout.effect,
                cause="version",
                expect_finding=True,
                full_at=max(c.at for c in changes),
                version_from=sorted({c.from_version for c in changes}),
                version_to=rollout.to_version,
                host_starts={c.host_id: c.at for c in changes},
            )
        )
    return events


def _ramp_events(fleet: Fleet, kind: str, cause: str, event_id: str) -> list[dict[str, Any]]:
    """One entry per app a ramp event touches (a finding is per app)."""
    per_app: dict[str, list[str]] = {}
    first = None
    for host in fleet.hosts:
        for ramp in host.ramps:
            if ramp.event_id != event_id:
                continue
            first = ramp
            for app in fleet.scenario.apps:
                if ramp.apps is None or app.name in ramp.apps:
                    per_app.setdefault(app.name, []).append(host.host_id)
    if first is None:
        return []
    return [
        _event(
            event_id,
            kind,
            app=app,
            hosts=hosts,
            start=first.start,
            end=None,
            effect=first.effect,
            cause=cause,
            expect_finding=True,
            full_at=first.full_at,
        )
        for app, hosts in sorted(per_app.items())
    ]


def _hardware_tiers(fleet: Fleet) -> list[dict[str, Any]]:
    """Standing differences between hardware cohorts (no change point: a cohort finding)."""
    cohorts = (
        (
            "hdd",
            [h for h in fleet.hosts if h.tier.disk == "hdd"],
            DISK_COLD_FACTOR["hdd"] - 1,
            DISK_WARM_FACTOR["hdd"] - 1,
        ),
        ("low_cpu", [h for h in fleet.hosts if h.tier.cpu == "low"], CPU_FACTOR["low"] - 1, None),
        # Smaller than the 20 % the recall counts, but real: a finding on them is not false.
        (
            "low_ram",
            [h for h in fleet.hosts if h.tier.memory_gb <= 4],
            ram_factor(4) - 1,
            None,
        ),
        (
            "high_cpu",
            [h for h in fleet.hosts if h.tier.cpu == "high"],
            CPU_FACTOR["high"] - 1,
            None,
        ),
    )
    events = []
    for cohort, hosts, effect, warm in cohorts:
        if not hosts or len(hosts) == len(fleet.hosts):
            continue
        for app in fleet.scenario.apps:
            events.append(
                _event(
                    f"hardware-tier-{cohort}",
                    "hardware_tier",
                    app=app.name,
                    hosts=[h.host_id for h in hosts],
                    start=fleet.start,
                    end=None,
                    effect=effect,
                    cause="hardware_tier",
                    expect_finding=True,
                    cohort=cohort,
                    start_kind="cold" if warm is not None else "any",
                    warm_effect=warm if warm is not None else effect,
                )
            )
    return events


def _must_not_flag(fleet: Fleet) -> list[dict[str, Any]]:
    scenario = fleet.scenario
    events = []
    for outage in scenario.outages:
        window = fleet.outages[outage.id]
        hosts = [
            h.host_id
            for h in fleet.hosts
            if not outage.departments or h.department in outage.departments
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
    offset = scenario.realism.utc_offset_hours
    day = local_day(fleet.start, offset)
    while at_local(day, 0.0, offset) < fleet.end:
        if weekday(day) == 5:
            begin = max(at_local(day, 0.0, offset), fleet.start)
            finish = min(at_local(day, 0.0, offset) + 2 * DAY, fleet.end)
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
    return events
