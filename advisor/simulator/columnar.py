"""The fleet's measurements straight from the plan, as analysis frames, without batches.

:func:`fleet_data` gives what the advisor's store would hand the fleet analysis
(:class:`advisor.analysis.frames.FleetData`) for a simulated fleet, generated with numpy a few
hundred hosts at a time: 10,000 hosts x 20 apps x 90 days (about 20 million launches) in
seconds, where the batch path (:mod:`advisor.simulator.generate`) would take hours. The model
is the batch path's, vectorised: the same plan (hosts, tiers, versions and their change times,
ramps, outages, noisy hosts, offline periods, reinstalls), the same calendar (time zone,
holidays), the same launch-time and resource functions and constants, the same usage factor
per host. Only the random draws differ, so the two paths
agree statistically, not launch by launch; the ground truth (:mod:`advisor.simulator.truth`)
comes from the plan and describes both.

As the advisor sees it: timestamps on each host's clock (true time + skew), version changes
dated by the first inventory showing them, only successful launches, no launches of intervals
lost to a sequence gap, nothing from powered-off machines, a reinstalled machine's launches
and pressure from its reinstall on under its new host id (an extra row of the host table,
after the others), and with ``until`` only what had
reached the advisor by then (agents offline spool until they are back; a delivery outage
holds everybody's batches). A batch is taken to arrive half the maximum shipping delay after
its interval closes.

    columns = fleet_columns(fleet)            # draw once
    for now in nows:
        data = columns.at(now)                # the same launches, cut at each time
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from advisor.analysis.frames import (
    METHODS,
    UNKNOWN_VERSION,
    BoolArray,
    FleetData,
    FloatArray,
    HostTable,
    IntArray,
    LaunchFrame,
    PressureFrame,
    VersionChanges,
)
from advisor.simulator.calendar import DAY, HOUR
from advisor.simulator.fleet import Fleet, Ramp, SimHost
from advisor.simulator.generate import SHIP_DELAY_SECONDS, host_usage
from advisor.simulator.inventory import CPU_MODELS
from advisor.simulator.launches import (
    DEFAULT_EVICTION_CHANCE,
    EVICTION_CHANCE,
    SPIKE_CHANCE,
    T_DF,
    T_SCALE,
    TIMEOUT_SECONDS,
)
from advisor.simulator.loadtime import hardware_factor
from advisor.simulator.resources import HostParams, activity, host_params, noisy, series_means

CHUNK_HOSTS = 256
"""Hosts drawn together. Fixed: the random streams are per chunk, so it is part of the seed."""

_PASSIVE = METHODS.index("passive")
_ARRIVAL_DELAY = SHIP_DELAY_SECONDS / 2
_PRESSURE_SERIES = (
    "pressure_memory_some_ratio",
    "swap_in_bytes_per_second",
    "pressure_io_some_ratio",
    "pressure_cpu_some_ratio",
    "disk_used_ratio",
)
_PSI_COLUMNS = (0, 2, 3)  # of _PRESSURE_SERIES: absent on hosts without PSI


@dataclass(frozen=True)
class FleetColumns:
    """A whole run's launches and version changes, with when each reached the advisor.

    :meth:`at` cuts them at a time and adds that time's pressure frame; the launches are
    drawn once, so successive cut-offs see the same launches (a growing prefix of them).
    ``true_time`` is when each launch happened (true UTC, not the host's clock).
    """

    fleet: Fleet
    launches: LaunchFrame
    true_time: FloatArray
    delivered_at: FloatArray
    changes: VersionChanges
    changes_delivered_at: FloatArray

    def at(self, until: float | None = None) -> FleetData:
        """What the advisor holds at ``until`` (true time; None: after the run, everything)."""
        fleet = self.fleet
        launches, changes = self.launches, self.changes
        if until is not None:
            keep = self.delivered_at <= until
            if not keep.all():
                launches = _take_launches(launches, keep)
            keep_changes = self.changes_delivered_at <= until
            changes = VersionChanges(
                host=changes.host[keep_changes],
                app=changes.app[keep_changes],
                at=changes.at[keep_changes],
                from_version=changes.from_version[keep_changes],
                to_version=changes.to_version[keep_changes],
            )
        notes = [
            "simulated columnar data: timestamps on each host's clock, successful launches only",
        ]
        if until is not None:
            notes.append(f"cut at {until:.0f} (true time): data delivered by then")
        return FleetData(
            launches=launches,
            pressure=pressure_frame(fleet, until=until),
            changes=changes,
            notes=notes,
        )


def fleet_data(fleet: Fleet, *, until: float | None = None) -> FleetData:
    """The analysis frames of ``fleet`` as the advisor would hold them at ``until``."""
    return fleet_columns(fleet).at(until)


def fleet_columns(fleet: Fleet) -> FleetColumns:
    """Draw every launch of the run (see the module docstring for the model)."""
    plan = _Plan.of(fleet)
    parts = [_chunk_launches(plan, chunk) for chunk in _chunks(fleet)]
    host = _concat([p["host"] for p in parts], np.int32)
    launches = LaunchFrame(
        hosts=plan.table,
        apps=plan.apps,
        versions=plan.versions,
        host=host,
        app=_concat([p["app"] for p in parts], np.int32),
        version=_concat([p["version"] for p in parts], np.int32),
        method=np.full(len(host), _PASSIVE, dtype=np.int32),
        started_at=_concat([p["started_at"] for p in parts], np.float64),
        duration=_concat([p["duration"] for p in parts], np.float64),
        cold=_concat([p["cold"] for p in parts], np.bool_),
    )
    changes, changes_delivered = _version_changes(plan)
    return FleetColumns(
        fleet=fleet,
        launches=launches,
        true_time=_concat([p["true_time"] for p in parts], np.float64),
        delivered_at=_concat([p["delivered_at"] for p in parts], np.float64),
        changes=changes,
        changes_delivered_at=changes_delivered,
    )


def pressure_frame(fleet: Fleet, *, until: float | None = None) -> PressureFrame:
    """Daily resource pressure per host (host-clock UTC days) from the intervals delivered
    by ``until``; the same draws whatever ``until`` is."""
    plan = _Plan.of(fleet)
    parts = [_chunk_pressure(plan, chunk, until) for chunk in _chunks(fleet)]
    cols = [_concat([p[i] for p in parts], np.float64) for i in range(len(_PRESSURE_SERIES) + 2)]
    if len(plan.table) > len(fleet.hosts):  # new ids of reinstalled hosts: order by host, day
        order = np.lexsort((cols[1], cols[0]))
        cols = [c[order] for c in cols]
    return PressureFrame(
        host=cols[0].astype(np.int32),
        day=cols[1],
        memory_pressure=cols[2],
        swap_in_bytes_per_second=cols[3],
        io_pressure=cols[4],
        cpu_pressure=cols[5],
        disk_used_ratio=cols[6],
    )


# --- the plan as arrays -------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Per-host and per-app numbers of the fleet plan, as columns."""

    fleet: Fleet
    table: HostTable
    apps: list[str]
    versions: list[str]
    skew: FloatArray
    usage: FloatArray
    always_on: BoolArray
    arrive: FloatArray
    leave: FloatArray
    off_start: FloatArray  # powered off (NaN: never)
    off_end: FloatArray
    noise: FloatArray
    eviction: FloatArray
    hw_cold: FloatArray
    hw_warm: FloatArray
    has_psi: BoolArray
    department: IntArray
    departments: list[str]
    # Version entries: [rank, host, app] -> since (inf: none), version code, load factors.
    since: FloatArray
    version_code: IntArray
    version_cold: FloatArray
    version_warm: FloatArray
    ramps: list[tuple[Ramp, BoolArray]]  # each distinct ramp and the hosts it runs on
    reinstalled_at: FloatArray  # inf: never
    new_code: IntArray  # the host-table row of the new id (the host's own row if none)
    code_of: dict[str, int]  # host id -> host-table row

    @staticmethod
    def of(fleet: Fleet) -> _Plan:
        scenario = fleet.scenario
        hosts = fleet.hosts
        apps = [a.name for a in scenario.apps]
        versions = [""]
        for app in scenario.apps:
            if app.version not in versions:
                versions.append(app.version)
        for rollout in scenario.rollouts:
            if rollout.to_version not in versions:
                versions.append(rollout.to_version)
        code = {v: i for i, v in enumerate(versions)}
        ranks = max(len(entries) for h in hosts for entries in h.versions.values())
        since = np.full((ranks, len(hosts), len(apps)), np.inf)
        version_code = np.zeros((ranks, len(hosts), len(apps)), dtype=np.int32)
        version_cold = np.ones((ranks, len(hosts), len(apps)))
        version_warm = np.ones((ranks, len(hosts), len(apps)))
        for h in hosts:
            for a, name in enumerate(apps):
                for r, entry in enumerate(h.versions[name]):
                    since[r, h.index, a] = entry.since
                    version_code[r, h.index, a] = code[entry.version]
                    version_cold[r, h.index, a] = entry.cold_factor
                    version_warm[r, h.index, a] = entry.warm_factor
        ramp_hosts: dict[Ramp, BoolArray] = {}
        for h in hosts:
            for ramp in h.ramps:
                mask = ramp_hosts.setdefault(ramp, np.zeros(len(hosts), dtype=np.bool_))
                mask[h.index] = True
        departments = [d.name for d in scenario.departments]
        rows = fleet.identities()  # every host, then the new ids of reinstalled ones
        code_of = {host_id: i for i, (host_id, _) in enumerate(rows)}
        machines = [h for _, h in rows]
        return _Plan(
            fleet=fleet,
            table=HostTable(
                host_id=[host_id for host_id, _ in rows],
                department=[h.department for h in machines],
                ram_bytes=np.array([h.tier.memory_gb * 2.0**30 for h in machines]),
                disk_rotational=np.array([h.tier.disk == "hdd" for h in machines]),
                cpu_cores=np.array([float(CPU_MODELS[h.tier.cpu][1]) for h in machines]),
            ),
            apps=apps,
            versions=versions,
            skew=np.array([h.skew_seconds for h in hosts]),
            usage=np.array([host_usage(fleet, h) for h in hosts]),
            always_on=np.array([h.always_on for h in hosts]),
            arrive=np.array([h.on_hours[0] for h in hosts]),
            leave=np.array([h.on_hours[1] for h in hosts]),
            off_start=np.array(
                [h.powered_off[0].start if h.powered_off else np.nan for h in hosts]
            ),
            off_end=np.array([h.powered_off[0].end if h.powered_off else np.nan for h in hosts]),
            noise=np.array([h.noise_factor for h in hosts]),
            eviction=np.array(
                [EVICTION_CHANCE.get(h.tier.memory_gb, DEFAULT_EVICTION_CHANCE) for h in hosts]
            ),
            hw_cold=np.array([hardware_factor(h, True) for h in hosts]),
            hw_warm=np.array([hardware_factor(h, False) for h in hosts]),
            has_psi=np.array([h.has_psi for h in hosts]),
            department=np.array([departments.index(h.department) for h in hosts], np.int32),
            departments=departments,
            since=since,
            version_code=version_code,
            version_cold=version_cold,
            version_warm=version_warm,
            ramps=list(ramp_hosts.items()),
            reinstalled_at=np.array(
                [h.reinstalled_at if h.reinstalled_at is not None else np.inf for h in hosts]
            ),
            new_code=np.array([code_of[h.ids[-1]] for h in hosts], dtype=np.int32),
            code_of=code_of,
        )

    def codes(self, host: IntArray, t: FloatArray) -> IntArray:
        """The host-table rows of launches or intervals of ``host`` (plan index) at ``t``:
        a reinstalled host's new id from its reinstall on."""
        if len(self.table) == len(self.fleet.hosts):
            return host
        result: IntArray = np.where(t >= self.reinstalled_at[host], self.new_code[host], host)
        return result.astype(np.int32)


def _chunks(fleet: Fleet) -> Iterator[range]:
    for first in range(0, len(fleet.hosts), CHUNK_HOSTS):
        yield range(first, min(first + CHUNK_HOSTS, len(fleet.hosts)))


def _concat(parts: list[npt.NDArray[Any]], dtype: type[np.generic]) -> npt.NDArray[Any]:
    if not parts:
        return np.empty(0, dtype=dtype)
    return np.concatenate(parts).astype(dtype, copy=False)


def _take_launches(frame: LaunchFrame, keep: BoolArray) -> LaunchFrame:
    return LaunchFrame(
        hosts=frame.hosts,
        apps=frame.apps,
        versions=frame.versions,
        host=frame.host[keep],
        app=frame.app[keep],
        version=frame.version[keep],
        method=frame.method[keep],
        started_at=frame.started_at[keep],
        duration=frame.duration[keep],
        cold=frame.cold[keep],
    )


# --- the interval grid: when hosts run, which intervals are lost, when batches arrive ---------


@dataclass(frozen=True)
class _Grid:
    """Per host of a chunk (rows) and interval (columns)."""

    starts: npt.NDArray[Any]  # interval starts (true time), shape (slots,)
    on: BoolArray  # the machine runs during the interval: the agent sends a batch
    lost: BoolArray  # the batch is lost (sequence gap)
    delivered: FloatArray  # when the batch reaches the advisor (true time)


def _grid(plan: _Plan, chunk: range) -> _Grid:
    fleet = plan.fleet
    real = fleet.scenario.realism
    slots = fleet.slots
    starts = fleet.start + np.arange(slots) * fleet.interval
    ends = np.minimum(starts + fleet.interval, fleet.end)
    step = min(fleet.interval, HOUR)
    probes = math.ceil(fleet.interval / step - 0.5)
    on = np.zeros((len(chunk), slots), dtype=np.bool_)
    for k in range(probes):
        t = starts + step / 2 + k * step
        on |= _is_on(plan, chunk, t) & (t < ends)[None, :]
    rng = np.random.default_rng([fleet.seed, 7, chunk.start])
    # An interval that carries an inventory (the day's first, or one with an upgrade) is
    # always sent, as in the batch path.
    day = np.floor((starts - fleet.start) / DAY)
    first_of_day = on & (np.cumsum(on, axis=1) - _cumsum_before_day(on, day) == 1)
    upgraded = np.zeros_like(on)
    for r in range(1, plan.since.shape[0]):
        for a in range(len(plan.apps)):
            at = plan.since[r, chunk.start : chunk.stop, a]
            rows = np.flatnonzero(np.isfinite(at))
            cols = np.floor((at[rows] - fleet.start) / fleet.interval).astype(np.int64)
            upgraded[rows, cols] = True
    # A reinstalled host's new agent sends its inventory in its first interval.
    reinstalled = plan.reinstalled_at[chunk.start : chunk.stop]
    rows = np.flatnonzero(np.isfinite(reinstalled))
    cols = np.floor((reinstalled[rows] - fleet.start) / fleet.interval).astype(np.int64)
    upgraded[rows, cols] = True
    lost = on & (rng.random(on.shape) < real.missing_interval_rate) & ~first_of_day & ~upgraded
    delivered = np.broadcast_to(ends + _ARRIVAL_DELAY, on.shape).copy()
    for row, index in enumerate(chunk):
        host = fleet.hosts[index]
        for window in host.agent_offline:
            waiting = (delivered[row] >= window.start) & (delivered[row] < window.end)
            delivered[row, waiting] = _back_online(fleet, host, window.end)
    for row, index in enumerate(chunk):
        for window in fleet.delivery_outages.values():
            held = (delivered[row] >= window.start) & (delivered[row] < window.end)
            delivered[row, held] = window.end + SHIP_DELAY_SECONDS * (index % 97) / 97
    return _Grid(starts=starts, on=on, lost=lost, delivered=delivered)


def _cumsum_before_day(on: BoolArray, day: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Per cell, how many intervals the host ran before the start of the cell's day."""
    total = np.cumsum(on, axis=1)
    first = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])  # first slot of each day
    before = np.zeros_like(total)
    for i, start in enumerate(first):
        stop = first[i + 1] if i + 1 < len(first) else on.shape[1]
        if start > 0:
            before[:, start:stop] = total[:, start - 1 : start]
    return before


def _is_on(plan: _Plan, chunk: range, t: npt.NDArray[Any]) -> BoolArray:
    """Vectorised :meth:`SimHost.is_on` for the chunk's hosts (rows) at times ``t``."""
    calendar = plan.fleet.calendar
    rows = slice(chunk.start, chunk.stop)
    hour = calendar.hours(t)
    workday = calendar.workdays(calendar.days(t))
    office = (
        workday[None, :]
        & (plan.arrive[rows, None] <= hour[None, :])
        & (hour[None, :] < plan.leave[rows, None])
    )
    on = plan.always_on[rows, None] | office
    with np.errstate(invalid="ignore"):
        off = (plan.off_start[rows, None] <= t[None, :]) & (t[None, :] < plan.off_end[rows, None])
    return on & ~off


def _back_online(fleet: Fleet, host: SimHost, back: float) -> float:
    """When a spool held until ``back`` goes out: as the first interval closes after it in
    which the machine runs (after the run: an hour after its end)."""
    t = fleet.start + math.floor((back - fleet.start) / fleet.interval) * fleet.interval
    while t < fleet.end:
        end = min(t + fleet.interval, fleet.end)
        if end + _ARRIVAL_DELAY >= back and host.is_on_during(t, end, fleet.calendar):
            return end + _ARRIVAL_DELAY
        t += fleet.interval
    return fleet.end + HOUR


# --- launches -----------------------------------------------------------------------------


def _chunk_launches(plan: _Plan, chunk: range) -> dict[str, npt.NDArray[Any]]:
    fleet = plan.fleet
    scenario = fleet.scenario
    real = scenario.realism
    calendar = fleet.calendar
    rng = np.random.default_rng([fleet.seed, 9, chunk.start])
    rows = slice(chunk.start, chunk.stop)
    first_day, last_day = calendar.day(fleet.start), calendar.day(fleet.end - 1e-6)
    days = np.arange(first_day, last_day + 1, dtype=np.float64)

    # When each host works each local day (as launches._work_window), and how much.
    work_first, work_last = real.work_hours
    always = plan.always_on[rows, None]
    first = np.where(always, work_first, np.maximum(work_first, plan.arrive[rows, None]))
    last = np.where(always, work_last, np.minimum(work_last, plan.leave[rows, None]))
    window_start = calendar.at_many(days[None, :], first)
    window_end = calendar.at_many(days[None, :], np.maximum(first, last))
    begin = np.maximum(window_start, fleet.start)
    finish = np.minimum(window_end, fleet.end)
    day_off = ~calendar.workdays(days)
    length = window_end - window_start
    share = np.where(finish > begin, (finish - begin) / np.where(length > 0, length, 1.0), 0.0)
    share = np.where(day_off[None, :] & ~always, 0.0, share)
    scale = plan.usage[rows, None] * share * np.where(day_off, real.weekend_usage, 1.0)[None, :]
    per_day = np.array([a.launches_per_day for a in scenario.apps])
    counts = rng.poisson(scale[:, :, None] * per_day[None, None, :]).ravel()
    group = np.repeat(np.arange(len(counts)), counts)
    local_host, day_index, app = np.unravel_index(group, (len(chunk), len(days), len(per_day)))
    host = local_host + chunk.start
    span_begin = begin[local_host, day_index]
    t = span_begin + rng.random(len(group)) * (finish[local_host, day_index] - span_begin)
    with np.errstate(invalid="ignore"):
        running = ~((plan.off_start[host] <= t) & (t < plan.off_end[host]))
    group, host, app, t = group[running], host[running], app[running], t[running]

    # The first launch of an app each day is cold; later ones when the cache was evicted.
    n = len(t)
    u = rng.random((4, n))
    u_cold, u_fail, u_spike, u_size = u
    heads = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if n else np.empty(0, int)
    first_t = np.minimum.reduceat(t, heads) if n else np.empty(0)
    runs = np.diff(np.r_[heads, n])
    first_of_group = t == np.repeat(first_t, runs)
    cold = first_of_group | (u_cold < plan.eviction[host])
    after = t >= plan.reinstalled_at[host]
    if after.any():  # empty caches: the first launch of each app after a reinstall is cold
        first_after = np.minimum.reduceat(np.where(after, t, np.inf), heads)
        cold |= after & (t == np.repeat(first_after, runs))

    version = np.zeros(n, dtype=np.int32)
    factor = np.ones(n)
    for r in range(plan.since.shape[0]):
        current = t >= plan.since[r, host, app]
        version = np.where(current, plan.version_code[r, host, app], version)
        ranked = np.where(cold, plan.version_cold[r, host, app], plan.version_warm[r, host, app])
        factor = np.where(current, ranked, factor)

    base = np.array([a.base_seconds for a in scenario.apps])
    cold_factor = np.array([a.cold_factor for a in scenario.apps])
    sigma = np.array([a.sigma for a in scenario.apps])
    median = base[app] * np.where(cold, plan.hw_cold[host] * cold_factor[app], plan.hw_warm[host])
    median *= factor
    for ramp, on_host in plan.ramps:
        applies = on_host[host]
        if ramp.apps is not None:
            applies &= np.isin(app, [plan.apps.index(name) for name in ramp.apps])
        progress = np.clip((t - ramp.start) / (ramp.full_at - ramp.start), 0.0, 1.0)
        effect = np.where(cold, ramp.cold_effect, ramp.warm_effect)
        median *= np.where(applies, 1.0 + effect * progress, 1.0)
    z = rng.standard_t(T_DF, size=n) * T_SCALE
    duration = median * np.exp(sigma[app] * plan.noise[host] * z)
    spike = (plan.noise[host] > 1.0) & (u_spike < SPIKE_CHANCE)
    duration *= np.where(spike, 3.0 + 5.0 * u_size, 1.0)
    timeout = np.zeros(n, dtype=np.bool_)
    for outage in scenario.outages:
        window = fleet.outages[outage.id]
        hit = (t >= window.start) & (t < window.end) & (app == plan.apps.index(outage.app))
        if outage.departments:
            codes = [plan.departments.index(d) for d in outage.departments]
            hit &= np.isin(plan.department[host], codes)
        duration *= np.where(hit, outage.slowdown, 1.0)
        timeout |= hit & (u_size < outage.timeout_share)
    timeout |= duration > TIMEOUT_SECONDS
    ok = ~timeout & (u_fail >= real.failed_launch_rate)

    grid = _grid(plan, chunk)
    slot = np.floor((t - fleet.start) / fleet.interval).astype(np.int64)
    row = host - chunk.start
    ok &= ~grid.lost[row, slot]
    keep = np.flatnonzero(ok)
    return {
        "host": plan.codes(host[keep], t[keep]),
        "app": app[keep],
        "version": version[keep],
        "started_at": np.round(t[keep] + plan.skew[host[keep]], 3),
        "duration": np.round(duration[keep], 3),
        "cold": cold[keep],
        "true_time": t[keep],
        "delivered_at": grid.delivered[row[keep], slot[keep]],
    }


def _version_changes(plan: _Plan) -> tuple[VersionChanges, FloatArray]:
    fleet = plan.fleet
    index = {host_id: h.index for host_id, h in fleet.identities()}
    code = {v: i for i, v in enumerate(plan.versions)}
    changes = fleet.version_changes
    hosts = np.array([index[c.host_id] for c in changes], dtype=np.int32)
    delivered = np.empty(len(changes))
    grids: dict[int, _Grid] = {}
    for i, change in enumerate(changes):
        first = hosts[i] - hosts[i] % CHUNK_HOSTS
        chunk = range(first, min(first + CHUNK_HOSTS, len(fleet.hosts)))
        grid = grids.get(first)
        if grid is None:
            grid = grids[first] = _grid(plan, chunk)
        slot = math.floor((change.at - fleet.start) / fleet.interval)
        delivered[i] = grid.delivered[hosts[i] - first, slot]
    frame = VersionChanges(
        host=np.array([plan.code_of[c.host_id] for c in changes], dtype=np.int32),
        app=np.array([plan.apps.index(c.app) for c in changes], dtype=np.int32),
        at=np.array([c.inventory_at for c in changes], dtype=np.float64),
        from_version=np.array(
            [code.get(c.from_version, UNKNOWN_VERSION) for c in changes], dtype=np.int32
        ),
        to_version=np.array([code[c.to_version] for c in changes], dtype=np.int32),
    )
    return frame, delivered


# --- pressure -----------------------------------------------------------------------------


def _chunk_pressure(plan: _Plan, chunk: range, until: float | None) -> list[npt.NDArray[Any]]:
    fleet = plan.fleet
    grid = _grid(plan, chunk)
    rows = slice(chunk.start, chunk.stop)
    mids = grid.starts + fleet.interval / 2
    shape = grid.on.shape
    progress = {cause: np.zeros(shape) for cause in ("memory", "disk_io", "cpu")}
    for ramp, on_host in plan.ramps:
        if ramp.cause in progress:
            where = np.flatnonzero(on_host[rows])
            ramp_progress = np.clip((mids - ramp.start) / (ramp.full_at - ramp.start), 0.0, 1.0)
            progress[ramp.cause][where] = np.maximum(progress[ramp.cause][where], ramp_progress)
    params = [host_params(fleet.hosts[i]) for i in chunk]
    columns = {
        field: np.array([float(getattr(p, field)) for p in params])[:, None]
        for field in (
            "base_cpu",
            "cores",
            "hdd",
            "ram",
            "base_used",
            "disk_used_start",
            "disk_size",
        )
    }
    means = series_means(
        HostParams(**columns),
        active=activity(fleet, mids)[None, :],
        memory=progress["memory"],
        disk=progress["disk_io"],
        cpu=progress["cpu"],
        elapsed_days=((mids - fleet.start) / DAY)[None, :],
    )
    rng = np.random.default_rng([fleet.seed, 8, chunk.start])
    values = [noisy(name, np.broadcast_to(means[name], shape), rng) for name in _PRESSURE_SERIES]
    reported = grid.on & ~grid.lost
    if until is not None:
        reported &= grid.delivered <= until
    local_host, slot = np.nonzero(reported)
    host = local_host + chunk.start
    day = np.floor((grid.starts[slot] + plan.skew[host]) / DAY)
    day0 = math.floor((fleet.start - 4 * HOUR) / DAY)  # skews are at most 3 h
    days = math.ceil((fleet.end + 4 * HOUR) / DAY) - day0
    # A reinstalled host's intervals from its reinstall on are its new id's.
    renewed = (grid.starts[slot] >= plan.reinstalled_at[host]).astype(np.int64)
    # Row-major nonzero: cells come sorted by host, then day (a reinstall day splits in
    # two, old id then new), so each cell is one run.
    cell = ((local_host * 2 + renewed) * days) + (day - day0).astype(np.int64)
    heads = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]]) if len(cell) else cell
    cells = cell[heads]
    count = np.diff(np.r_[heads, len(cell)])
    cell_host = cells // days // 2 + chunk.start
    cell_code = np.where(cells // days % 2 == 1, plan.new_code[cell_host], cell_host)
    result = [cell_code.astype(np.float64), (cells % days + day0) * DAY]
    for i, value in enumerate(values):
        v = value[local_host, slot]
        if not len(v):
            daily = np.empty(0)
        elif i == len(values) - 1:  # disk_used_ratio: the day's maximum
            daily = np.maximum.reduceat(v, heads)
        else:
            daily = np.add.reduceat(v, heads) / count
        if i in _PSI_COLUMNS:
            daily = np.where(plan.has_psi[cell_host], daily, np.nan)
        result.append(daily)
    return result
