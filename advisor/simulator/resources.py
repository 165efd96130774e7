"""Resource summaries of one host, named like the agent's series (agent/collectors/metricdefs).

The mean of every series in every interval is computed for a whole span at once (numpy), from
the host's hardware, how busy it is (working hours) and the scripted ramps, so the metrics
move with the events: memory pressure raises PSI memory, swap and major faults; a filling
disk raises its used ratio, I/O latency and PSI I/O; a CPU trend raises CPU use and pressure.
Quantiles follow from the mean with a per-series spread, so min <= p50 <= p90 <= p99 <= max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.simulator.fleet import SWAP_BYTES, Fleet, SimHost
from agent.shared.wire import MetricSummary

SAMPLE_SECONDS = 5.0  # the agent's default sampling period: `count` of an interval


@dataclass(frozen=True, slots=True)
class Series:
    """One series: its name, label key (``""`` for none), spread within an interval, noise
    between intervals, and whether it is a ratio (capped at 1)."""

    name: str
    label: str
    spread: float
    noise: float
    ratio: bool


SERIES: tuple[Series, ...] = (
    Series("cpu_utilization_ratio", "", 0.5, 0.15, True),
    Series("cpu_iowait_ratio", "", 0.8, 0.2, True),
    Series("cpu_steal_ratio", "", 0.5, 0.1, True),
    Series("load1", "", 0.4, 0.15, False),
    Series("load5", "", 0.2, 0.12, False),
    Series("load15", "", 0.1, 0.1, False),
    Series("memory_available_bytes", "", 0.05, 0.03, False),
    Series("memory_used_ratio", "", 0.03, 0.03, True),
    Series("swap_used_bytes", "", 0.02, 0.05, False),
    Series("swap_in_bytes_per_second", "", 1.0, 0.3, False),
    Series("swap_out_bytes_per_second", "", 1.0, 0.3, False),
    Series("major_page_faults_per_second", "", 0.9, 0.3, False),
    Series("pressure_cpu_some_ratio", "", 0.8, 0.2, True),
    Series("pressure_cpu_full_ratio", "", 0.8, 0.2, True),
    Series("pressure_memory_some_ratio", "", 0.8, 0.2, True),
    Series("pressure_memory_full_ratio", "", 0.8, 0.2, True),
    Series("pressure_io_some_ratio", "", 0.8, 0.2, True),
    Series("pressure_io_full_ratio", "", 0.8, 0.2, True),
    Series("network_receive_bytes_per_second", "", 1.0, 0.4, False),
    Series("network_transmit_bytes_per_second", "", 1.0, 0.4, False),
    Series("network_errors_per_second", "", 1.0, 0.3, False),
    Series("disk_used_ratio", "mountpoint", 0.001, 0.001, True),
    Series("disk_free_bytes", "mountpoint", 0.002, 0.001, False),
    Series("disk_io_latency_seconds", "device", 0.7, 0.2, False),
    Series("disk_io_utilization_ratio", "device", 0.8, 0.2, True),
    Series("disk_read_bytes_per_second", "device", 1.0, 0.3, False),
    Series("disk_write_bytes_per_second", "device", 1.0, 0.3, False),
)
INDEX = {s.name: i for i, s in enumerate(SERIES)}
# Quantiles as multiples of the mean, in units of the spread: min, p50, p90, p99, max.
_QUANTILE_EXPONENTS = np.array([-2.0, -0.2, 1.0, 2.0, 2.5])
_EXPONENTS = _QUANTILE_EXPONENTS.tolist()
_FACTORS = np.exp(np.outer([s.spread for s in SERIES], _QUANTILE_EXPONENTS))
_RATIO = np.array([s.ratio for s in SERIES])
_NOISE = np.array([s.noise for s in SERIES])
_PSI = [i for i, s in enumerate(SERIES) if s.name.startswith("pressure_")]

BASE_CPU = {"low": 0.25, "mid": 0.15, "high": 0.08}
CORES = {"low": 2, "mid": 6, "high": 12}
BASE_USED = {4: 0.55, 8: 0.45, 16: 0.35, 32: 0.25}


def series_for(host: SimHost) -> list[int]:
    """The series this host's agent sends: no PSI on hosts whose kernel lacks it."""
    return [i for i in range(len(SERIES)) if host.has_psi or i not in _PSI]


def labels_for(host: SimHost) -> list[dict[str, str]]:
    """Each series' labels on this host (its root mount point and its disk)."""
    values = {"": None, "mountpoint": "/", "device": host.disk_device}
    return [{s.label: v} if (v := values[s.label]) is not None else {} for s in SERIES]


@dataclass(frozen=True, slots=True)
class HostParams:
    """What the resource model needs of a host's hardware, as numbers.

    Fields are floats for one host, or columns (shape ``(hosts, 1)``) to compute many hosts
    at once: the formulas in :func:`series_means` broadcast either way.
    """

    base_cpu: Any
    cores: Any
    hdd: Any
    ram: Any
    base_used: Any
    disk_used_start: Any
    disk_size: Any


def host_params(host: SimHost) -> HostParams:
    """The resource model's view of ``host``."""
    tier = host.tier
    return HostParams(
        base_cpu=BASE_CPU[tier.cpu],
        cores=CORES[tier.cpu],
        hdd=1.0 if tier.disk == "hdd" else 0.0,
        ram=tier.memory_gb * 2.0**30,
        base_used=BASE_USED.get(tier.memory_gb, 0.4),
        disk_used_start=host.disk_used_start,
        disk_size=float(host.disk_size_bytes),
    )


def interval_means(
    fleet: Fleet, host: SimHost, starts: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The mean of every series (columns, as :data:`SERIES`) in each interval (rows)."""
    mids = starts + fleet.interval / 2
    active = activity(fleet, mids)
    means = series_means(
        host_params(host),
        active=active,
        memory=_progress(host, mids, "memory"),
        disk=_progress(host, mids, "disk_io"),
        cpu=_progress(host, mids, "cpu"),
        elapsed_days=(mids - fleet.start) / 86400.0,
    )
    m = np.empty((len(starts), len(SERIES)))
    for i, series in enumerate(SERIES):
        m[:, i] = means[series.name]
    m *= np.exp(rng.normal(0.0, 1.0, m.shape) * _NOISE)
    np.minimum(m, np.where(_RATIO, 0.99, np.inf), out=m)
    return m


def series_means(
    h: HostParams,
    *,
    active: np.ndarray,
    memory: np.ndarray,
    disk: np.ndarray,
    cpu: np.ndarray,
    elapsed_days: np.ndarray,
) -> dict[str, np.ndarray]:
    """Each series' mean before noise, from the host and the drivers at each time: how busy
    the machine is (``active``) and the progress (0..1) of memory, disk and CPU ramps."""
    m: dict[str, Any] = {}
    hdd = h.hdd
    util = h.base_cpu * active + 0.02 + 0.15 * cpu * active
    iowait = 0.01 + (0.05 * hdd + 0.005) * active + 0.08 * disk + 0.05 * memory
    m["cpu_utilization_ratio"] = util
    m["cpu_iowait_ratio"] = iowait
    m["cpu_steal_ratio"] = 0.001
    load = h.cores * util * 1.2 + iowait * 4
    m["load1"] = load
    m["load5"] = load * 0.95
    m["load15"] = load * 0.9
    used = np.minimum(h.base_used * (0.7 + 0.3 * active) + 0.4 * memory, 0.97)
    m["memory_used_ratio"] = used
    m["memory_available_bytes"] = h.ram * (1 - used)
    m["swap_used_bytes"] = SWAP_BYTES * (0.05 + 0.6 * memory)
    m["swap_in_bytes_per_second"] = 2e3 + 4e6 * memory**2 * active
    m["swap_out_bytes_per_second"] = 1e3 + 3e6 * memory**2 * active
    m["major_page_faults_per_second"] = 2 + 30 * hdd * active + 800 * memory * active
    cpu_some = 0.01 + 0.3 * np.maximum(util - 0.1, 0) + 0.1 * cpu
    mem_some = 0.002 + 0.3 * memory * (0.5 + 0.5 * active)
    io_some = 0.005 + 0.03 * hdd * active + 0.25 * disk * active + 0.08 * memory
    m["pressure_cpu_some_ratio"] = cpu_some
    m["pressure_cpu_full_ratio"] = cpu_some * 0.3
    m["pressure_memory_some_ratio"] = mem_some
    m["pressure_memory_full_ratio"] = mem_some * 0.4
    m["pressure_io_some_ratio"] = io_some
    m["pressure_io_full_ratio"] = io_some * 0.5
    m["network_receive_bytes_per_second"] = 1e4 + 2e5 * active
    m["network_transmit_bytes_per_second"] = 5e3 + 5e4 * active
    m["network_errors_per_second"] = 0.001
    disk_used = h.disk_used_start + 0.0005 * elapsed_days
    disk_used = np.minimum(disk_used + (0.975 - disk_used) * disk, 0.985)
    m["disk_used_ratio"] = disk_used
    m["disk_free_bytes"] = h.disk_size * (1 - disk_used) * 0.95
    base_latency = np.where(hdd > 0, 0.008, 0.0004)
    m["disk_io_latency_seconds"] = (
        base_latency * (1 + 0.5 * active) * (1 + 6 * disk) * (1 + 2 * memory)
    )
    m["disk_io_utilization_ratio"] = (0.05 * hdd + 0.01) * active + (
        0.5 * disk * active + 0.2 * memory
    )
    m["disk_read_bytes_per_second"] = 1e5 + 1e6 * active + 5e6 * memory
    m["disk_write_bytes_per_second"] = 5e4 + 4e5 * active
    return m


def noisy(series: str, means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``means`` of ``series`` with the noise between intervals, ratios capped, as
    :func:`interval_means` applies it."""
    spec = SERIES[INDEX[series]]
    result: np.ndarray = means * np.exp(rng.normal(0.0, 1.0, means.shape) * spec.noise)
    return np.minimum(result, 0.99) if spec.ratio else result


def summaries(
    host_series: list[int], labels: list[dict[str, str]], means: np.ndarray, seconds: float
) -> list[MetricSummary]:
    """One interval's summaries from its row of means."""
    count = max(1, round(seconds / SAMPLE_SECONDS))
    q = means[:, None] * _FACTORS
    np.minimum(q, np.where(_RATIO, 1.0, np.inf)[:, None], out=q)
    rows = q.tolist()
    values = means.tolist()
    return [
        MetricSummary(
            SERIES[i].name,
            labels[i],  # shared between batches: nothing mutates a built batch
            count,
            values[i] * count,
            rows[i][0],
            rows[i][4],
            rows[i][1],
            rows[i][2],
            rows[i][3],
        )
        for i in host_series
    ]


def app_summaries(app: str, cold: bool, trend: float, seconds: float) -> list[MetricSummary]:
    """The per-app series of an app that ran in the interval (it was launched in it).

    ``trend`` is the progress of a CPU trend on this app: its background work grows.
    """
    count = max(1, round(seconds / SAMPLE_SECONDS))
    cpu = min(0.9, (0.25 if cold else 0.12) * (1 + 2 * trend))
    rss = 350e6 if cold else 300e6
    procs = 4.0
    return [
        _flat("app_cpu_utilization_ratio", app, cpu, 0.6, count),
        _flat("app_rss_bytes", app, rss, 0.1, count),
        _flat("app_processes", app, procs, 0.2, count),
    ]


def _flat(name: str, app: str, mean: float, spread: float, count: int) -> MetricSummary:
    lo, p50, p90, p99, hi = (mean * math.exp(spread * e) for e in _EXPONENTS)
    return MetricSummary(name, {"app": app}, count, mean * count, lo, hi, p50, p90, p99)


def activity(fleet: Fleet, mids: np.ndarray) -> np.ndarray:
    """How busy a machine is at each time: 1 in working hours on a working day (local time,
    holidays off), 0.15 otherwise (the same for every host)."""
    first, last = fleet.scenario.realism.work_hours
    calendar = fleet.calendar
    hour = calendar.hours(mids)
    working = calendar.workdays(calendar.days(mids)) & (hour >= first) & (hour < last)
    return np.where(working, 1.0, 0.15)


def _progress(host: SimHost, mids: np.ndarray, cause: str) -> np.ndarray:
    """The strongest ramp of ``cause`` on this host at each time, 0..1."""
    result = np.zeros(len(mids))
    for ramp in host.ramps:
        if ramp.cause == cause:
            span = ramp.full_at - ramp.start
            result = np.maximum(result, np.clip((mids - ramp.start) / span, 0.0, 1.0))
    return result
