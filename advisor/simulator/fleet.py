"""The fleet plan: every host and everything scripted to happen to it, decided up front.

:func:`plan_fleet` draws hosts (department, hardware tier, usage pattern, clock skew, offline
periods) and schedules the scenario's events on them, all from the seed. The plan is the
ground truth; :mod:`advisor.simulator.generate` then draws the day-to-day noise from it.
Times here are true UTC; a host's own clock reads ``t + skew_seconds``.

Textures added after the first scenarios (holidays, reinstalls, subsets of hosts under memory
pressure) draw from random streams of their own, so a scenario without them plans exactly
the fleet it always did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from advisor.simulator.calendar import DAY, HOUR, Calendar, day_number
from advisor.simulator.scenario import (
    Cause,
    DiskFill,
    MemoryPressure,
    Scenario,
    SlowTrend,
    Tier,
    headline_effect,
    start_kind_effects,
)

SWAP_BYTES = 2 * 2**30


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[start, end)``."""

    start: float
    end: float

    def __contains__(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class VersionChange:
    """``app`` on ``host_id`` moved to ``to_version`` at ``at`` (true time).

    ``inventory_at`` is the ``collected_at`` of the first inventory that shows it, on the
    host's clock: what the advisor's version history records as the change. ``effect``,
    ``cold_effect`` and ``warm_effect`` are the rollout's: the load-time change of this step,
    against ``from_version`` (what a before/after comparison on the host sees);
    ``cold_factor`` and ``warm_factor`` the new version's load time on the host against the
    app's first version (the product of the steps that brought the host there).
    """

    event_id: str
    host_id: str
    app: str
    package: str
    from_version: str
    to_version: str
    at: float
    inventory_at: float
    effect: float
    cold_effect: float
    warm_effect: float
    cold_factor: float
    warm_factor: float


class Installed(NamedTuple):
    """A version of an app on a host from ``since`` on, and its load-time factor per start
    kind (1.0: as fast as the first version)."""

    since: float
    version: str
    cold_factor: float
    warm_factor: float

    def factor(self, cold: bool) -> float:
        """The factor of a cold or a warm start."""
        return self.cold_factor if cold else self.warm_factor


@dataclass(frozen=True, slots=True)
class Ramp:
    """A load-time effect on some of a host's apps that grows linearly from ``start`` to
    ``full_at`` and then stays: ``factor(t) = 1 + effect * progress(t)``, with the effect of
    the launch's start kind."""

    event_id: str
    cause: Cause
    cold_effect: float
    warm_effect: float
    start: float
    full_at: float
    apps: frozenset[str] | None  # None: every app

    def effect(self, cold: bool) -> float:
        """The full-strength effect on a cold or a warm start."""
        return self.cold_effect if cold else self.warm_effect

    def progress(self, t: float) -> float:
        """0 before the start, 1 from ``full_at`` on, linear in between."""
        if t <= self.start:
            return 0.0
        if t >= self.full_at:
            return 1.0
        return (t - self.start) / (self.full_at - self.start)


@dataclass(slots=True)
class SimHost:
    """One simulated machine. ``versions[app]`` lists what was installed when, in order.

    A reinstalled machine sends under ``new_host_id`` from ``reinstalled_at`` on (a fresh
    agent: new identity, sequence from 1, empty caches); before that under ``host_id``.
    """

    index: int
    host_id: str
    hostname: str
    department: str
    tier: Tier
    skew_seconds: float
    always_on: bool
    on_hours: tuple[float, float]
    has_psi: bool
    disk_device: str
    disk_size_bytes: int
    disk_used_start: float
    noise_factor: float = 1.0
    agent_offline: tuple[Window, ...] = ()
    powered_off: tuple[Window, ...] = ()
    versions: dict[str, list[Installed]] = field(default_factory=dict)
    ramps: list[Ramp] = field(default_factory=list)
    reinstalled_at: float | None = None
    new_host_id: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        """Every host id the machine sends under in the run (two when reinstalled)."""
        return (self.host_id,) if self.new_host_id is None else (self.host_id, self.new_host_id)

    def host_id_at(self, t: float) -> str:
        """The host id the machine's agent uses at ``t``."""
        renewed = self.reinstalled_at is not None and t >= self.reinstalled_at
        return self.new_host_id if renewed and self.new_host_id is not None else self.host_id

    def is_on(self, t: float, calendar: Calendar) -> bool:
        """Whether the machine is running at ``t``: office machines on working days (not at
        weekends or on holidays) in their hours, always-on ones always, unless powered off."""
        if any(t in w for w in self.powered_off):
            return False
        if self.always_on:
            return True
        if calendar.is_day_off(t):
            return False
        hour = calendar.hour(t)
        return self.on_hours[0] <= hour < self.on_hours[1]

    def is_on_during(self, start: float, end: float, calendar: Calendar) -> bool:
        """Whether the machine runs at some point of ``[start, end)``, probed hourly."""
        step = min(end - start, HOUR)
        t = start + step / 2
        while t < end:
            if self.is_on(t, calendar):
                return True
            t += step
        return False

    def agent_offline_at(self, t: float) -> bool:
        """Whether the agent cannot reach the advisor at ``t`` (it spools meanwhile)."""
        return any(t in w for w in self.agent_offline)

    def version_at(self, app: str, t: float) -> Installed:
        """What of ``app`` is installed at ``t``."""
        current = self.versions[app][0]
        for entry in self.versions[app]:
            if entry.since > t:
                break
            current = entry
        return current


@dataclass(frozen=True, slots=True)
class Fleet:
    """The plan of a run: ``slots`` intervals of ``interval`` seconds from ``start``.

    ``holidays`` maps each holiday in the run to its local day number; ``reinstalls`` each
    reinstall event to the indices of the hosts it reinstalled.
    """

    scenario: Scenario
    seed: int
    start: float
    end: float
    interval: float
    hosts: tuple[SimHost, ...]
    version_changes: tuple[VersionChange, ...]
    outages: dict[str, Window]
    delivery_outages: dict[str, Window]
    noisy: dict[str, tuple[str, ...]]
    calendar: Calendar = field(default_factory=Calendar)
    holidays: dict[str, int] = field(default_factory=dict)
    reinstalls: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def slots(self) -> int:
        """The number of intervals in the run."""
        return math.ceil((self.end - self.start) / self.interval)

    def at(self, fraction: float) -> float:
        """The time ``fraction`` of the way through the run."""
        return self.start + fraction * (self.end - self.start)

    def identities(self) -> list[tuple[str, SimHost]]:
        """Every host id of the run and its machine: each host's, then the new ids of
        reinstalled machines (what a sink enrols)."""
        ids = [(h.host_id, h) for h in self.hosts]
        ids += [(h.new_host_id, h) for h in self.hosts if h.new_host_id is not None]
        return ids


def host_id_for(seed: int, index: int, incarnation: int = 0) -> str:
    """A stable 32-hex host id: the same for a seed and index, different across seeds; a
    reinstall (``incarnation`` 1) gets a new one."""
    text = f"fleetsight-sim:{seed}:{index}" + (f":{incarnation}" if incarnation else "")
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def plan_fleet(
    scenario: Scenario, *, hosts: int, days: float, seed: int, start: float, interval: float
) -> Fleet:
    """Draw ``hosts`` hosts and schedule the scenario's events on them, from ``seed``."""
    if hosts < 1 or days <= 0 or interval <= 0:
        raise ValueError("a fleet needs at least one host, a positive duration and interval")
    rng = np.random.default_rng([seed, 0])
    end = start + days * DAY
    real = scenario.realism
    if real.time_zone:
        base = Calendar.of_zone(real.time_zone, start, end)
    else:
        base = Calendar.fixed(real.utc_offset_hours)
    holidays = _holidays(scenario, base, start, end)
    calendar = base.with_holidays(frozenset(holidays.values()))
    dept_names = [d.name for d in scenario.departments]
    depts = rng.choice(
        len(dept_names), size=hosts, p=_shares([d.share for d in scenario.departments])
    )
    tiers = rng.choice(
        len(scenario.tiers), size=hosts, p=_shares([t.share for t in scenario.tiers])
    )
    planned: list[SimHost] = []
    for index in range(hosts):
        tier = scenario.tiers[int(tiers[index])]
        department = dept_names[int(depts[index])]
        skew = 0.0
        if rng.random() < real.skewed_clock_share:
            skew = float(rng.normal(0.0, real.skew_sigma_seconds))
        if rng.random() < real.badly_skewed_share:
            skew = float(rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 3.0) * HOUR)
        arrive = float(rng.integers(6, 9))
        leave = float(rng.integers(17, 20))
        host = SimHost(
            index=index,
            host_id=host_id_for(seed, index),
            hostname=f"{department[:3]}-ws-{index:05d}",
            department=department,
            tier=tier,
            skew_seconds=round(skew, 3),
            always_on=bool(rng.random() < real.always_on_share),
            on_hours=(arrive, leave),
            has_psi=bool(rng.random() >= real.no_psi_share),
            disk_device="sda" if tier.disk == "hdd" else "nvme0n1",
            disk_size_bytes=int(rng.choice([256, 512, 1024])) * 10**9,
            disk_used_start=float(rng.uniform(0.3, 0.7)),
        )
        host.agent_offline = _windows(
            rng, real.agent_offline_share, real.agent_offline_days, start, end
        )
        host.powered_off = _windows(rng, real.powered_off_share, real.powered_off_days, start, end)
        host.versions = {
            app.name: [Installed(-math.inf, app.version, 1.0, 1.0)] for app in scenario.apps
        }
        planned.append(host)
    fleet = Fleet(
        scenario=scenario,
        seed=seed,
        start=start,
        end=end,
        interval=interval,
        hosts=tuple(planned),
        version_changes=(),
        outages={},
        delivery_outages={},
        noisy={},
        calendar=calendar,
        holidays=holidays,
    )
    return _schedule_events(fleet, rng)


def _holidays(scenario: Scenario, calendar: Calendar, start: float, end: float) -> dict[str, int]:
    """Each holiday's local day: an ISO date as it is (left out when outside the run), a
    fraction of the run on the first working day at or after it."""
    days: dict[str, int] = {}
    first, last = calendar.day(start), calendar.day(end - 1e-6)
    for holiday in scenario.holidays:
        if isinstance(holiday.date, str):
            day = day_number(dt.date.fromisoformat(holiday.date))
            if first <= day <= last:
                days[holiday.id] = day
            continue
        day = calendar.day(start + holiday.date * (end - start))
        taken = calendar.with_holidays(frozenset(days.values()))
        while not taken.is_workday(day) and day <= last:
            day += 1
        if day <= last:
            days[holiday.id] = day
    return days


def _shares(values: list[float]) -> np.ndarray:
    total = sum(values)
    return np.asarray([v / total for v in values])


def _windows(
    rng: np.random.Generator, share: float, days: tuple[float, float], start: float, end: float
) -> tuple[Window, ...]:
    """At most one period, kept a day clear of both ends so its effects are observable."""
    drawn = rng.random() < share
    length = float(rng.uniform(*days)) * DAY
    where = float(rng.random())
    room = (end - DAY) - (start + DAY)
    if not drawn or room < DAY / 4:
        return ()
    length = min(length, room)
    begin = start + DAY + where * (room - length)
    return (Window(begin, begin + length),)


def _schedule_events(fleet: Fleet, rng: np.random.Generator) -> Fleet:
    scenario = fleet.scenario
    hosts = fleet.hosts
    reinstalls = _schedule_reinstalls(fleet)
    changes = _upgrade(fleet, _rollout_turns(fleet, rng))
    for i, pressure in enumerate(scenario.memory_pressure):
        candidates = [h for h in hosts if h.tier.memory_gb <= pressure.max_memory_gb]
        for host in _subset(fleet, candidates, pressure.hosts, pressure.share, stream=i):
            host.ramps.append(
                _ramp(fleet, pressure, "memory", pressure.start, pressure.ramp, pressure.apps)
            )
    for fill in scenario.disk_fills:
        candidates = [h for h in hosts if h.tier.disk == fill.disk]
        picked = [h for h in candidates if rng.random() < fill.share]
        if not picked and candidates:
            picked = [candidates[int(rng.integers(len(candidates)))]]
        for host in picked:
            host.ramps.append(_ramp(fleet, fill, "disk_io", fill.start, fill.ramp, fill.apps))
    for trend in scenario.trends:
        for host in hosts:
            if not trend.departments or host.department in trend.departments:
                ramp = 1.0 - trend.start
                host.ramps.append(_ramp(fleet, trend, "cpu", trend.start, ramp, (trend.app,)))
    outages = {o.id: _working_window(fleet, o.start, o.minutes * 60) for o in scenario.outages}
    delivery = {
        o.id: Window(fleet.at(o.start), fleet.at(o.start) + o.hours * HOUR)
        for o in scenario.delivery_outages
    }
    noisy: dict[str, tuple[str, ...]] = {}
    for group in scenario.noisy_hosts:
        count = min(group.count, len(hosts))
        picked_idx = sorted(int(i) for i in rng.choice(len(hosts), size=count, replace=False))
        for i in picked_idx:
            hosts[i].noise_factor = group.sigma_factor
        noisy[group.id] = tuple(host_id for i in picked_idx for host_id in hosts[i].ids)
    changes.sort(key=lambda c: (c.at, c.host_id, c.app))
    return Fleet(
        scenario=fleet.scenario,
        seed=fleet.seed,
        start=fleet.start,
        end=fleet.end,
        interval=fleet.interval,
        hosts=hosts,
        version_changes=tuple(changes),
        outages=outages,
        delivery_outages=delivery,
        noisy=noisy,
        calendar=fleet.calendar,
        holidays=fleet.holidays,
        reinstalls=reinstalls,
    )


class _Turn(NamedTuple):
    """A host's turn in a rollout: when the package manager would upgrade it."""

    at: float
    rollout: int  # index into the scenario's rollouts
    host: int


def _rollout_turns(fleet: Fleet, rng: np.random.Generator) -> list[_Turn]:
    """Each rollout's chosen hosts and their times, drawn rollout by rollout in scenario
    order (the draws are the same whatever ``from_version`` says: a seed's fleet is too)."""
    turns = []
    for index, rollout in enumerate(fleet.scenario.rollouts):
        begin, ramp = fleet.at(rollout.start), rollout.ramp * (fleet.end - fleet.start)
        rest = rollout.start + rollout.ramp if rollout.rest_start is None else rollout.rest_start
        for host in fleet.hosts:
            chosen = rng.random() < rollout.share
            when = begin + float(rng.random()) * ramp
            if rollout.pilot_departments:
                if host.department in rollout.pilot_departments:
                    chosen = True  # a pilot department upgrades as a whole
                else:
                    when += fleet.at(rest) - begin
            if not chosen or (rollout.departments and host.department not in rollout.departments):
                continue
            at = _first_on_slot(fleet, host, when)
            if at is not None:
                turns.append(_Turn(at, index, host.index))
    return turns


def _upgrade(fleet: Fleet, turns: list[_Turn]) -> list[VersionChange]:
    """Install each turn's version, in time order: whether a host is on a rollout's
    ``from_version``, and how fast what it replaces is, depend on the rollouts before."""
    scenario = fleet.scenario
    changes = []
    for at, index, host_index in sorted(turns):
        rollout = scenario.rollouts[index]
        host = fleet.hosts[host_index]
        app = scenario.app(rollout.app)
        previous = host.version_at(app.name, at)
        if previous.version == rollout.to_version or (
            rollout.from_version is not None and previous.version != rollout.from_version
        ):
            continue
        cold, warm = start_kind_effects(rollout)
        entry = Installed(
            at,
            rollout.to_version,
            previous.cold_factor * (1 + cold),
            previous.warm_factor * (1 + warm),
        )
        host.versions[app.name].append(entry)
        host.versions[app.name].sort(key=lambda installed: installed.since)
        changes.append(
            VersionChange(
                event_id=rollout.id,
                host_id=host.host_id_at(at),
                app=app.name,
                package=app.package,
                from_version=previous.version,
                to_version=rollout.to_version,
                at=at,
                inventory_at=inventory_time(at, host),
                effect=headline_effect(rollout),
                cold_effect=cold,
                warm_effect=warm,
                cold_factor=entry.cold_factor,
                warm_factor=entry.warm_factor,
            )
        )
    return changes


def _schedule_reinstalls(fleet: Fleet) -> dict[str, tuple[int, ...]]:
    """Pick each reinstall's machines (not one twice) and when each is reinstalled: the first
    interval at or after ``at`` in which it runs. Their agents never go offline: a spool
    that a reinstall would wipe is a texture of its own, not modelled."""
    done: dict[str, tuple[int, ...]] = {}
    taken: set[int] = set()
    for i, reinstall in enumerate(fleet.scenario.reinstalls):
        rng = np.random.default_rng([fleet.seed, 13, i])
        free = [h.index for h in fleet.hosts if h.index not in taken]
        count = min(reinstall.count, len(free))
        picked = sorted(int(j) for j in rng.choice(free, size=count, replace=False))
        chosen = []
        for index in picked:
            host = fleet.hosts[index]
            at = _first_on_slot(fleet, host, fleet.at(reinstall.at))
            if at is None:
                continue
            host.reinstalled_at = at
            host.new_host_id = host_id_for(fleet.seed, index, incarnation=1)
            host.agent_offline = ()
            taken.add(index)
            chosen.append(index)
        done[reinstall.id] = tuple(chosen)
    return done


def _subset(
    fleet: Fleet, candidates: list[SimHost], count: int, share: float, *, stream: int
) -> list[SimHost]:
    """``count`` of the candidates (when > 0), else each with probability ``share`` (all
    at 1.0), drawn from the event's own stream."""
    if count <= 0 and share >= 1.0:
        return candidates
    rng = np.random.default_rng([fleet.seed, 12, stream])
    if count > 0:
        picked = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
        return [candidates[int(i)] for i in sorted(picked)]
    return [h for h in candidates if rng.random() < share]


def _ramp(
    fleet: Fleet,
    event: MemoryPressure | DiskFill | SlowTrend,
    cause: Cause,
    start: float,
    ramp: float,
    apps: tuple[str, ...],
) -> Ramp:
    begin = fleet.at(start)
    # A zero ramp would divide by zero in progress(); a second is a step for any purpose.
    full = max(fleet.at(start + ramp), begin + 1.0)
    cold, warm = start_kind_effects(event)
    return Ramp(event.id, cause, cold, warm, begin, full, frozenset(apps) if apps else None)


def inventory_time(at: float, host: SimHost) -> float:
    """When the host's agent reads the inventory after a change at ``at``: on its own clock,
    a second later (the package manager's hook has run)."""
    return at + 1.0 + host.skew_seconds


def slot_start(fleet: Fleet, t: float) -> float:
    """The start of the interval that contains ``t``."""
    return fleet.start + math.floor((t - fleet.start) / fleet.interval) * fleet.interval


def _first_on_slot(fleet: Fleet, host: SimHost, when: float) -> float | None:
    """The start of the first interval at or after ``when`` in which the host runs: a
    package manager only upgrades a running machine. None if that is after the run."""
    t = slot_start(fleet, when)
    if t < when:
        t += fleet.interval
    while t < fleet.end:
        if host.is_on_during(t, t + fleet.interval, fleet.calendar):
            return t
        t += fleet.interval
    return None


def _working_window(fleet: Fleet, fraction: float, seconds: float) -> Window:
    """``seconds`` from 10:00 local on the working day at or after ``fraction`` of the run."""
    calendar = fleet.calendar
    day = calendar.day(fleet.at(fraction))
    while not calendar.is_workday(day):
        day += 1
    begin = calendar.at(day, 10.0)
    return Window(begin, begin + seconds)
