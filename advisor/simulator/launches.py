"""Application launches of one host over a span of time: when, cold or warm, how long.

Load time = the median of :mod:`advisor.simulator.loadtime` (base x hardware x version x
scripted ramps: memory, disk, CPU trend) x log-normal noise whose tail is Student-t (df 4), so
a few launches take many times the median, as real ones do. The first launch of an app each
day is cold; later ones are warm unless the cache was evicted, which low-RAM machines suffer
more often; after a reinstall the caches are empty, so the first launch of each app is cold
again. Versions and ramps may slow cold and warm starts differently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from advisor.simulator.calendar import Calendar
from advisor.simulator.fleet import Fleet, SimHost, Window
from advisor.simulator.loadtime import median_load_seconds
from agent.shared.wire import LaunchOutcome, StartKind

# Cache evicted between launches: more often when there is little RAM to keep it in.
EVICTION_CHANCE = {4: 0.35, 8: 0.2}
DEFAULT_EVICTION_CHANCE = 0.1
TIMEOUT_SECONDS = 60.0
T_DF = 4.0
T_SCALE = 1 / math.sqrt(T_DF / (T_DF - 2))  # unit variance, so sigma keeps its meaning
SPIKE_CHANCE = 0.05


@dataclass(frozen=True, slots=True)
class Launch:
    """One simulated launch, at true time ``t``."""

    t: float
    app: str
    version: str
    start_kind: StartKind
    outcome: LaunchOutcome
    duration: float
    detail: str | None


def launches_between(
    fleet: Fleet, host: SimHost, start: float, end: float, usage: float, rng: np.random.Generator
) -> list[Launch]:
    """Every launch on ``host`` in ``[start, end)``, in time order.

    ``usage`` scales the apps' launches per day for this host (some people use more).
    """
    real = fleet.scenario.realism
    calendar = fleet.calendar
    planned: list[tuple[float, str]] = []
    for day in range(calendar.day(start), calendar.day(end - 1e-6) + 1):
        window = _work_window(host, day, calendar, real.work_hours)
        begin, finish = max(window.start, start, fleet.start), min(window.end, end, fleet.end)
        if finish <= begin:
            continue
        day_off = not calendar.is_workday(day)
        if day_off and not host.always_on:
            continue
        share = (finish - begin) / (window.end - window.start)
        scale = usage * share * (real.weekend_usage if day_off else 1.0)
        for app in fleet.scenario.apps:
            count = int(rng.poisson(app.launches_per_day * scale))
            for t in (begin + rng.random(count) * (finish - begin)).tolist():
                if not any(t in w for w in host.powered_off):
                    planned.append((t, app.name))
    planned.sort()
    return _time_launches(fleet, host, planned, rng)


def _work_window(host: SimHost, day: int, calendar: Calendar, hours: tuple[float, float]) -> Window:
    first, last = hours
    if not host.always_on:
        first, last = max(first, host.on_hours[0]), min(last, host.on_hours[1])
    return Window(calendar.at(day, first), calendar.at(day, max(first, last)))


def _time_launches(
    fleet: Fleet, host: SimHost, planned: list[tuple[float, str]], rng: np.random.Generator
) -> list[Launch]:
    if not planned:
        return []
    scenario = fleet.scenario
    real = scenario.realism
    n = len(planned)
    z = (rng.standard_t(T_DF, size=n) * T_SCALE).tolist()
    u = rng.random((n, 4)).tolist()
    eviction = EVICTION_CHANCE.get(host.tier.memory_gb, DEFAULT_EVICTION_CHANCE)
    reinstalled = host.reinstalled_at if host.reinstalled_at is not None else math.inf
    seen_today: set[tuple[int, bool, str]] = set()
    result = []
    for (t, name), zi, (u_cold, u_fail, u_spike, u_spike_size) in zip(planned, z, u, strict=True):
        app = scenario.app(name)
        day_key = (fleet.calendar.day(t), t >= reinstalled, name)
        cold = day_key not in seen_today or u_cold < eviction
        seen_today.add(day_key)
        installed = host.version_at(name, t)
        median = median_load_seconds(app, host.tier, installed.factor(cold), host.ramps, cold, t)
        duration = median * math.exp(app.sigma * host.noise_factor * zi)
        if host.noise_factor > 1.0 and u_spike < SPIKE_CHANCE:
            duration *= 3.0 + 5.0 * u_spike_size
        outcome: LaunchOutcome = "ok"
        detail = None
        for outage_id, window in fleet.outages.items():
            outage = next(o for o in scenario.outages if o.id == outage_id)
            if (
                t in window
                and outage.app == name
                and (not outage.departments or host.department in outage.departments)
            ):
                duration *= outage.slowdown
                if u_spike_size < outage.timeout_share:
                    outcome, detail = "timeout", f"not ready within {TIMEOUT_SECONDS:.0f} s"
        if outcome == "ok" and duration > TIMEOUT_SECONDS:
            outcome, detail = "timeout", f"not ready within {TIMEOUT_SECONDS:.0f} s"
        if outcome == "timeout":
            duration = TIMEOUT_SECONDS
        elif u_fail < real.failed_launch_rate:
            outcome, detail = "failed", "exited before ready"
            duration *= 0.3
        result.append(
            Launch(
                t=t,
                app=name,
                version=installed.version,
                start_kind="cold" if cold else "warm",
                outcome=outcome,
                duration=round(duration, 3),
                detail=detail,
            )
        )
    return result
