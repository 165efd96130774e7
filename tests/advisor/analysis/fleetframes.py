"""Small hand-built FleetData for the fleet analysis tests: seeded, vectorised, with events.

Hosts work weekdays 08:00-17:00 (``weekend_share`` of the launches at weekends), launch each
app a Poisson number of times a day; the first launch of an app each day is cold. A load
time is the app's base x (HDD factor on cold starts) x (old hardware factor) x version x
memory pressure x log-normal noise with a Student-t(3) tail. Every event is optional and off
by default; an event that draws random numbers draws them only when it is on, so adding one
does not change the fleets of the seeds that do without it.

The textures of issue 13: a rollout that slows cold starts only (``Rollout.cold_only``), a
pilot department that upgrades weeks before the rest (``Rollout.pilot``), memory pressure on
a few hosts of one department (``MemoryPressure.department``), and old machines that are HDD,
4 GB and 2 cores at once (``Spec.old_share``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from advisor.analysis.daily import daily_launches
from advisor.analysis.frames import (
    FleetData,
    HostTable,
    LaunchFrame,
    PressureFrame,
    VersionChanges,
)

DAY = 86400.0
MONDAY = 1_704_067_200.0  # 2024-01-01T00:00:00Z


@dataclass(frozen=True)
class Rollout:
    """``app`` moves from 1.0 to 2.0 on ``share`` of the hosts around ``day``; the hosts of
    the ``pilot`` department move around ``pilot_day`` instead. ``cold_only``: the new version
    changes cold starts only (warm ones as before)."""

    app: int = 0
    effect: float = 0.3
    share: float = 0.5
    day: float = 30.0
    spread_days: float = 4.0
    cold_only: bool = False
    pilot: str | None = None
    pilot_day: float = 10.0


@dataclass(frozen=True)
class MemoryPressure:
    """Hosts with ``ram_gb`` RAM (or, with ``department``, its first ``hosts`` hosts): memory
    PSI and swap-in rise from ``day`` over ``ramp_days``, every app slows by ``effect`` at
    full pressure."""

    effect: float = 0.4
    day: float = 25.0
    ramp_days: float = 10.0
    ram_gb: float = 4.0
    department: str | None = None
    hosts: int = 0

    def hit(self, ram_gb: np.ndarray, departments: list[str]) -> np.ndarray:
        """Which hosts the pressure rises on."""
        if self.department is None:
            return np.asarray(ram_gb <= self.ram_gb)
        mine = np.flatnonzero(np.array([d == self.department for d in departments]))
        hit = np.zeros(ram_gb.size, dtype=bool)
        hit[mine[: self.hosts]] = True
        return hit


@dataclass(frozen=True)
class Slowdown:
    """Every app in ``department`` slows by ``effect`` from ``day``, reached over ``ramp_days``
    (0: a step), with no version change and no pressure behind it."""

    department: str = "finance"
    effect: float = 0.3
    day: float = 30.0
    ramp_days: float = 0.0


@dataclass(frozen=True)
class Spec:
    """A fleet of ``hosts`` x ``apps`` over ``days`` days ending at ``now``."""

    hosts: int = 40
    apps: int = 2
    days: int = 60
    seed: int = 0
    launches_per_day: float = 4.0
    weekend_share: float = 0.1
    sigma: float = 0.25
    departments: tuple[str, ...] = ("finance", "sales")
    hdd_share: float = 0.0
    hdd_cold_factor: float = 1.0
    low_ram_share: float = 0.0
    # Old machines: HDD, 4 GB and 2 cores at once, their load times x these factors.
    old_share: float = 0.0
    old_cold_factor: float = 2.0 * 1.3 * 1.12
    old_warm_factor: float = 1.05 * 1.3 * 1.12
    rollouts: tuple[Rollout, ...] = ()
    memory: MemoryPressure | None = None
    slowdown: Slowdown | None = None
    noisy_hosts: int = 0
    noisy_factor: float = 4.0
    outage: tuple[float, float] | None = None  # (day, hours): no data at all in that span
    # Hosts whose kernel reports no PSI: memory, io and cpu pressure missing (swap-in stays).
    no_psi_share: float = 0.0
    hdd_io: float = 0.0  # io PSI that HDD hosts carry all the time (their disks wait more)
    # Every host's cpu PSI rises by ``fleet_cpu[1]`` from day ``fleet_cpu[0]`` over 10 days
    # (an update's background work everywhere), and every launch slows by ``fleet_cpu[2]``.
    fleet_cpu: tuple[float, float, float] | None = None
    host_ids: tuple[str, ...] = field(default_factory=tuple)

    @property
    def now(self) -> float:
        return MONDAY + self.days * DAY


def build(spec: Spec) -> FleetData:
    """The FleetData of ``spec`` (deterministic for ``spec.seed``)."""
    rng = np.random.default_rng(spec.seed)
    h, a, d = spec.hosts, spec.apps, spec.days
    ram_gb = np.where(rng.random(h) < spec.low_ram_share, 4.0, 16.0)
    hdd = rng.random(h) < spec.hdd_share
    old = rng.random(h) < spec.old_share if spec.old_share > 0 else np.zeros(h, dtype=bool)
    hosts = HostTable(
        host_id=list(spec.host_ids) or [f"host-{i:04d}" for i in range(h)],
        department=[spec.departments[i % len(spec.departments)] for i in range(h)],
        ram_bytes=np.where(old, 4.0, ram_gb) * 2.0**30,
        disk_rotational=hdd | old,
        cpu_cores=np.where(old, 2.0, 4.0),
    )
    ram_gb = np.where(old, 4.0, ram_gb)
    day_index = np.arange(d)
    weekend = (day_index % 7) >= 5
    rate = spec.launches_per_day * np.where(weekend, spec.weekend_share, 1.0)
    counts = rng.poisson(np.broadcast_to(rate, (h, a, d)))
    host = np.repeat(np.repeat(np.arange(h), a * d), counts.reshape(-1))
    app = np.repeat(np.tile(np.repeat(np.arange(a), d), h), counts.reshape(-1))
    day = np.repeat(np.tile(day_index, h * a), counts.reshape(-1))
    t = MONDAY + day * DAY + (8 + 9 * rng.random(host.size)) * 3600
    if spec.outage is not None:
        start = MONDAY + spec.outage[0] * DAY
        gone = (t >= start) & (t < start + spec.outage[1] * 3600)
        host, app, day, t = host[~gone], app[~gone], day[~gone], t[~gone]
    order = np.lexsort((t, app, host))
    host, app, day, t = host[order], app[order], day[order], t[order]
    first = np.r_[True, (host[1:] != host[:-1]) | (app[1:] != app[:-1]) | (day[1:] != day[:-1])]
    cold = first
    base = (1.0 + 0.5 * np.arange(a))[app]
    value = base * np.where(cold, 2.0, 1.0) * np.where(cold & hdd[host], spec.hdd_cold_factor, 1.0)
    value *= np.where(old[host], np.where(cold, spec.old_cold_factor, spec.old_warm_factor), 1.0)

    versions = ["", "1.0", "2.0"]
    version = np.ones(host.size, dtype=np.int32)
    ch_host: list[np.ndarray] = []
    ch_app: list[np.ndarray] = []
    ch_at: list[np.ndarray] = []
    for rollout in spec.rollouts:
        moved = np.flatnonzero(rng.random(h) < rollout.share)
        at = MONDAY + (rollout.day + rollout.spread_days * rng.random(moved.size)) * DAY
        if rollout.pilot is not None:
            pilot = np.array([hosts.department[i] == rollout.pilot for i in moved.tolist()])
            at = np.where(pilot, at + (rollout.pilot_day - rollout.day) * DAY, at)
        change_at = np.full(h, np.inf)
        change_at[moved] = at
        after = (app == rollout.app) & (t >= change_at[host])
        value[after & (cold | (not rollout.cold_only))] *= 1 + rollout.effect
        version[after] = 2
        ch_host.append(moved)
        ch_app.append(np.full(moved.size, rollout.app))
        ch_at.append(at)

    pressure_days = np.tile(MONDAY + day_index * DAY, h)
    pressure_host = np.repeat(np.arange(h), d)
    memory = 0.002 + 0.002 * rng.random(h * d)
    swap = 2e3 * (1 + rng.random(h * d))
    if spec.memory is not None:
        m = spec.memory
        progress_day = np.clip((day_index - m.day) / m.ramp_days, 0, 1)
        hit = m.hit(ram_gb, hosts.department)
        progress = np.where(hit[pressure_host], np.tile(progress_day, h), 0.0)
        memory = memory + 0.3 * progress
        swap = swap + 4e6 * progress**2
        launch_progress = np.clip((t - MONDAY - m.day * DAY) / (m.ramp_days * DAY), 0, 1)
        value *= 1 + m.effect * np.where(hit[host], launch_progress, 0.0)
    if spec.fleet_cpu is not None:
        cpu_day, _, cpu_effect = spec.fleet_cpu
        value *= 1 + cpu_effect * np.clip((t - MONDAY - cpu_day * DAY) / (10 * DAY), 0, 1)
    if spec.slowdown is not None:
        sd = spec.slowdown
        hit = np.array([name == sd.department for name in hosts.department])
        progress = (t - MONDAY - sd.day * DAY) / (max(sd.ramp_days, 1e-9) * DAY)
        value *= 1 + sd.effect * np.where(hit[host], np.clip(progress, 0, 1), 0.0)
    noise = spec.sigma * rng.standard_t(3, size=host.size) / np.sqrt(3.0)
    noisy = np.zeros(h, dtype=bool)
    noisy[: spec.noisy_hosts] = True
    noise = np.where(noisy[host], noise * spec.noisy_factor, noise)
    value *= np.exp(noise)

    launches = LaunchFrame(
        hosts=hosts,
        apps=[f"app{i}" for i in range(a)],
        versions=versions,
        host=host.astype(np.int32),
        app=app.astype(np.int32),
        version=version,
        method=np.zeros(host.size, dtype=np.int32),
        started_at=t,
        duration=np.minimum(value, 60.0),
        cold=cold,
    )
    rows = h * d
    io = np.full(rows, 0.01) + 0.005 * rng.random(rows) + spec.hdd_io * hdd[pressure_host]
    cpu = np.full(rows, 0.05) + 0.01 * rng.random(rows)
    if spec.fleet_cpu is not None:
        cpu_day, cpu_rise, _ = spec.fleet_cpu
        cpu = cpu + cpu_rise * np.tile(np.clip((day_index - cpu_day) / 10, 0, 1), h)
    if spec.no_psi_share > 0:
        no_psi = (rng.random(h) < spec.no_psi_share)[pressure_host]
        memory, io, cpu = (np.where(no_psi, np.nan, column) for column in (memory, io, cpu))
    pressure = PressureFrame(
        host=pressure_host.astype(np.int32),
        day=pressure_days,
        memory_pressure=memory,
        swap_in_bytes_per_second=swap,
        io_pressure=io,
        cpu_pressure=cpu,
        disk_used_ratio=np.full(rows, 0.5),
    )
    n_changes = sum(x.size for x in ch_host)
    changes = VersionChanges(
        host=np.concatenate(ch_host).astype(np.int32) if ch_host else np.empty(0, np.int32),
        app=np.concatenate(ch_app).astype(np.int32) if ch_app else np.empty(0, np.int32),
        at=np.concatenate(ch_at) if ch_at else np.empty(0),
        from_version=np.ones(n_changes, dtype=np.int32),
        to_version=np.full(n_changes, 2, dtype=np.int32),
    )
    return FleetData(launches=launches, pressure=pressure, changes=changes)


def daily_only(data: FleetData) -> FleetData:
    """``data`` as the store gives it: daily rows, and launches without rows (hosts, apps and
    versions still set)."""
    frame = data.launches
    none = np.empty(0, dtype=np.int32)
    empty = LaunchFrame(
        hosts=frame.hosts,
        apps=frame.apps,
        versions=frame.versions,
        host=none,
        app=none,
        version=none,
        method=none,
        started_at=np.empty(0),
        duration=np.empty(0),
        cold=np.empty(0, dtype=bool),
    )
    return replace(data, launches=empty, daily=daily_launches(frame))
