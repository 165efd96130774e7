"""What the engine knows about each host and each app it launches: the fleet's facts, now.

Built purely from what the analysis reads (:class:`~advisor.analysis.frames.FleetData`: its
daily launch rows, hosts and pressure) by :func:`fleet_facts`, as of ``now``:

- per **host** (:class:`HostFacts`): hostname and department, RAM, disk kind and cores from
  the inventory, and its **recent pressure**: the mean of each pressure series (memory and
  io PSI, swap-in, cpu PSI) over its last ``recent_days`` days;
- per **host, app and start kind** (:class:`UsageFacts`, one row each): the app's
  **current version** on the host (that of its latest daily row in those days; a host that
  has not launched the app in them does not use it), its **level** (the median
  log load time over the recent days, launches of the current version only, each day's
  median weighted by its launches: a host that moved version last week is measured on the
  new one), how many days that is, the day-to-day **noise** around the level (a robust
  variance: the pilot's power calculation reads it) and **launches a day** of that kind;
- per **host and app**, the launch rates as :mod:`advisor.recommend.impact` reads them
  (:class:`~advisor.recommend.impact.LaunchRate`): the launches over the host's reporting
  span in the recent days, as the store's ``launch_rates`` counts them. A store that gives
  its own rates passes them and they are used instead (each kind keeps its share).

Cold and warm starts stay apart throughout: the analysis compares them separately, and a
disk or a version can move one and not the other.

**In parts**: every figure is per host and app but a host's reporting span (the days from its
first to its last launch of *any* app), so the facts of a fleet loaded a few apps at a time
(one part of the store's daily rows each) are those of each part, put together by
:func:`combine_facts` with the hosts' spans over every part (:func:`reporting_days` of each,
merged): they are the whole fleet's facts, and only one part's daily rows are ever in memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from advisor.analysis.daily import DAY_SECONDS, DailyLaunches, daily_of
from advisor.analysis.frames import FleetData
from advisor.analysis.groupby import group_medians, group_weighted_medians
from advisor.recommend.impact import LaunchRate
from advisor.recommend.parameters import RecommendParameters

__all__ = [
    "FleetFacts",
    "HostFacts",
    "MachineInfo",
    "UsageFacts",
    "combine_facts",
    "fleet_facts",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
GIB = 2.0**30
MAD_TO_SD = 1.4826


@dataclass(frozen=True, slots=True)
class MachineInfo:
    """What the inventory may add about one machine (None: unknown, the defaults apply):
    its RAM module type (``DDR4``, a key of costs.toml ``[[hardware.ram]]``), its class in
    the price list (``office-laptop``) and its system disk's size in GB."""

    ram_type: str | None = None
    machine_class: str | None = None
    disk_gb: float | None = None


@dataclass(frozen=True)
class HostFacts:
    """One row per host (a host's code is its index, as in the fleet's HostTable); unknown
    numbers are NaN. Pressure is the recent mean: PSI shares, swap-in in MB/s."""

    host_id: tuple[str, ...]
    hostname: tuple[str, ...]
    department: tuple[str, ...]
    ram_gib: FloatArray
    hdd: BoolArray
    cores: FloatArray
    memory_pressure: FloatArray
    swap_in_mb: FloatArray
    io_pressure: FloatArray
    cpu_pressure: FloatArray
    machines: Mapping[str, MachineInfo] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.host_id)

    @cached_property
    def department_array(self) -> npt.NDArray[np.str_]:
        """The departments as an array, for indexing by host codes."""
        return np.asarray(self.department, dtype=str)

    def machine(self, host: int) -> MachineInfo:
        """The inventory's extras of host code ``host`` (empty when none)."""
        return self.machines.get(self.host_id[host], MachineInfo())


@dataclass(frozen=True)
class UsageFacts:
    """One row per (host, app, start kind) with launches in the recent days.

    ``version`` is the current version's code (of the host and app, both kinds alike);
    ``level`` the median log load time on it (NaN with fewer than ``min_level_days`` days),
    ``days`` those days, ``noise`` the robust variance of their medians about the level
    (NaN below two days), ``launches_per_day`` the kind's launches a day (any version).
    """

    host: IntArray
    app: IntArray
    cold: BoolArray
    version: IntArray
    level: FloatArray
    days: IntArray
    noise: FloatArray
    launches_per_day: FloatArray

    def __len__(self) -> int:
        return len(self.host)


@dataclass(frozen=True)
class FleetFacts:
    """The fleet as the engine reads it (module docstring); codes index ``apps`` and
    ``versions`` (``versions[0] == ""``, unknown) and the hosts' rows."""

    hosts: HostFacts
    apps: tuple[str, ...]
    versions: tuple[str, ...]
    usage: UsageFacts
    rates: Mapping[tuple[str, str], LaunchRate]
    recent_days: int
    now: float

    def departments(self) -> dict[str, str]:
        """Host id -> department."""
        return dict(zip(self.hosts.host_id, self.hosts.department, strict=True))


def fleet_facts(
    data: FleetData,
    *,
    now: float,
    hostnames: Mapping[str, str] | None = None,
    rates: Mapping[tuple[str, str], LaunchRate] | None = None,
    machines: Mapping[str, MachineInfo] | None = None,
    params: RecommendParameters | None = None,
) -> FleetFacts:
    """The facts of ``data`` as of ``now`` (module docstring). ``hostnames`` maps host ids
    to names (a host it lacks is named by its id); ``rates`` are the store's launch rates
    by (host id, app), used instead of the daily rows' when given."""
    params = params or RecommendParameters()
    daily = daily_of(data)
    table = daily.hosts
    n_hosts, n_apps = len(table), max(len(daily.apps), 1)
    today = math.floor(now / DAY_SECONDS)
    first = today - params.recent_days + 1
    names = hostnames or {}
    hosts = HostFacts(
        host_id=tuple(table.host_id),
        hostname=tuple(names.get(h, h) for h in table.host_id),
        department=tuple(table.department),
        ram_gib=np.asarray(table.ram_bytes, dtype=np.float64) / GIB,
        hdd=np.asarray(table.disk_rotational, dtype=bool),
        cores=np.asarray(table.cpu_cores, dtype=np.float64),
        **_recent_pressure(data, n_hosts, first * DAY_SECONDS, (today + 1) * DAY_SECONDS),
        machines=dict(machines or {}),
    )
    # Only the recent days count (a pair without them is not in use); later days are a
    # skewed clock's.
    recent = np.flatnonzero((daily.day >= first) & (daily.day <= today))
    pair = daily.host[recent].astype(np.int64) * n_apps + daily.app[recent]
    current = _current_versions(pair, daily.day[recent], daily.count[recent], daily.version[recent])
    usage, shares = _usage(daily, recent, current, n_apps, params)
    if rates is None:
        rates = _rates(daily, recent, n_hosts, n_apps)
    else:
        per_day = np.array(
            [
                rates[key].per_day if key in rates else 0.0
                for key in zip(
                    [table.host_id[h] for h in usage.host.tolist()],
                    [daily.apps[a] for a in usage.app.tolist()],
                    strict=True,
                )
            ]
        )
        usage = _with_launches(usage, per_day * shares)
    return FleetFacts(
        hosts=hosts,
        apps=tuple(daily.apps),
        versions=tuple(daily.versions),
        usage=usage,
        rates=rates,
        recent_days=params.recent_days,
        now=now,
    )


def _recent_pressure(
    data: FleetData, n_hosts: int, start: float, end: float
) -> dict[str, FloatArray]:
    """Per host, the mean of each pressure series on the days in ``[start, end)``."""
    p = data.pressure
    keep = (p.day >= start) & (p.day < end)
    host = p.host[keep].astype(np.int64)
    columns = {
        "memory_pressure": p.memory_pressure,
        "swap_in_mb": p.swap_in_bytes_per_second / 1e6,
        "io_pressure": p.io_pressure,
        "cpu_pressure": p.cpu_pressure,
    }
    result = {}
    for name, column in columns.items():
        values = np.asarray(column, dtype=np.float64)[keep]
        finite = np.isfinite(values)
        sums = np.bincount(host[finite], weights=values[finite], minlength=n_hosts)
        counts = np.bincount(host[finite], minlength=n_hosts)
        with np.errstate(invalid="ignore", divide="ignore"):
            result[name] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return result


def _current_versions(
    pair: IntArray, day: IntArray, count: IntArray, version: IntArray
) -> IntArray:
    """Per (host, app) pair code, the version of its latest day (most launches that day);
    -1 for pairs without rows. Indexable by pair code."""
    size = int(pair.max()) + 1 if pair.size else 0
    current = np.full(size, -1, dtype=np.int64)
    if pair.size == 0:
        return current
    order = np.lexsort((count, day, pair))
    last = np.r_[pair[order][1:] != pair[order][:-1], True]
    current[pair[order][last]] = version[order][last]
    return current


def _usage(
    daily: DailyLaunches,
    rows: IntArray,
    current: IntArray,
    n_apps: int,
    params: RecommendParameters,
) -> tuple[UsageFacts, FloatArray]:
    """The usage rows of the recent daily ``rows``, and each row's share of its pair's
    launches (its kind's)."""
    host = daily.host[rows].astype(np.int64)
    pair = host * n_apps + daily.app[rows]
    code = pair * 2 + daily.cold[rows]
    codes, inverse = np.unique(code, return_inverse=True)
    inverse = inverse.reshape(-1)
    launches = np.bincount(inverse, weights=daily.count[rows], minlength=codes.size)
    pair_of = codes // 2
    on_current = daily.version[rows] == current[pair]
    level = np.full(codes.size, np.nan)
    days = np.zeros(codes.size, dtype=np.int64)
    noise = np.full(codes.size, np.nan)
    if on_current.any():
        mine = inverse[on_current]
        medians = daily.median[rows][on_current]
        weighted = group_weighted_medians(mine, medians, daily.count[rows][on_current])
        days_found = np.bincount(mine, minlength=codes.size)
        enough = days_found[weighted.group] >= params.min_level_days
        level[weighted.group[enough]] = weighted.median[enough]
        days = days_found
        spread = group_medians(mine, np.abs(medians - level[mine]))
        two = days_found[spread.group] >= 2
        noise[spread.group[two]] = (MAD_TO_SD * spread.median[two]) ** 2
    _, pair_index = np.unique(pair_of, return_inverse=True)
    pair_index = pair_index.reshape(-1)
    share = launches / np.bincount(pair_index, weights=launches)[pair_index]
    span = _spans(daily, rows)
    usage = UsageFacts(
        host=pair_of // n_apps,
        app=pair_of % n_apps,
        cold=(codes % 2).astype(bool),
        version=current[pair_of],
        level=level,
        days=days,
        noise=noise,
        launches_per_day=launches / span[pair_of // n_apps],
    )
    return usage, share


def _spans(daily: DailyLaunches, rows: IntArray) -> FloatArray:
    """Per host code, its reporting span in days over ``rows`` (first to last day with a
    row of any app, both included; 1 for a host without rows, whose launches are 0)."""
    n_hosts = len(daily.hosts)
    first = np.full(n_hosts, np.iinfo(np.int64).max)
    last = np.full(n_hosts, np.iinfo(np.int64).min)
    host = daily.host[rows].astype(np.int64)
    np.minimum.at(first, host, daily.day[rows])
    np.maximum.at(last, host, daily.day[rows])
    return np.where(last >= first, last - first + 1, 1).astype(np.float64)


def _rates(
    daily: DailyLaunches, rows: IntArray, n_hosts: int, n_apps: int
) -> dict[tuple[str, str], LaunchRate]:
    """(host id, app) -> launches over the host's reporting span, as the store counts them."""
    pair = daily.host[rows].astype(np.int64) * n_apps + daily.app[rows]
    pairs, inverse = np.unique(pair, return_inverse=True)
    launches = np.bincount(inverse.reshape(-1), weights=daily.count[rows], minlength=pairs.size)
    span = _spans(daily, rows)
    ids, apps = daily.hosts.host_id, daily.apps
    return {
        (ids[p // n_apps], apps[p % n_apps]): LaunchRate(int(n), float(span[p // n_apps]))
        for p, n in zip(pairs.tolist(), launches.tolist(), strict=True)
    }


def _with_launches(usage: UsageFacts, per_day: FloatArray) -> UsageFacts:
    return UsageFacts(
        host=usage.host,
        app=usage.app,
        cold=usage.cold,
        version=usage.version,
        level=usage.level,
        days=usage.days,
        noise=usage.noise,
        launches_per_day=per_day,
    )


def reporting_days(
    data: FleetData, *, now: float, params: RecommendParameters | None = None
) -> dict[str, tuple[int, int]]:
    """Per host id, the first and last UTC day of the recent days on which it launched any
    of ``data``'s apps (hosts without such a day left out): what :func:`combine_facts`
    merges over the parts."""
    params = params or RecommendParameters()
    daily = daily_of(data)
    today = math.floor(now / DAY_SECONDS)
    rows = np.flatnonzero((daily.day >= today - params.recent_days + 1) & (daily.day <= today))
    if rows.size == 0:
        return {}
    n_hosts = len(daily.hosts)
    host = daily.host[rows].astype(np.int64)
    first = np.full(n_hosts, np.iinfo(np.int64).max)
    last = np.full(n_hosts, np.iinfo(np.int64).min)
    np.minimum.at(first, host, daily.day[rows])
    np.maximum.at(last, host, daily.day[rows])
    ids = daily.hosts.host_id
    return {ids[h]: (int(first[h]), int(last[h])) for h in np.flatnonzero(last >= first).tolist()}


def combine_facts(
    parts: Sequence[FleetFacts], spans: Mapping[str, tuple[int, int]] | None = None
) -> FleetFacts:
    """The facts of a fleet from those of its parts (each of other apps, the same ``now``
    and recent days): the hosts of all of them (in order of first sight), the apps sorted,
    the versions named once (``""`` first, the rest sorted), the usage rows of every part
    in the order :func:`fleet_facts` gives them, the launch rates merged.

    ``spans`` are the hosts' first and last days over every part (:func:`reporting_days`
    merged): each part counted a host's launches a day over its own days, which become the
    host's days over every app. Without them the parts' launches a day are kept (right when
    each part's were given the store's launch rates).

    Raises ValueError for no parts, parts at different times, or an app in two parts.
    """
    apps = [app for part in parts for app in part.apps]
    if not parts or len(set(apps)) < len(apps):
        raise ValueError("no parts to combine, or an app in two parts")
    if len({(part.now, part.recent_days) for part in parts}) > 1:
        raise ValueError("parts of different times or recent days cannot be combined")
    host_code: dict[str, int] = {}
    rows: list[tuple[HostFacts, int]] = []
    for part in parts:
        for i, host_id in enumerate(part.hosts.host_id):
            if host_id not in host_code:
                host_code[host_id] = len(host_code)
                rows.append((part.hosts, i))
    hosts = _hosts_of(rows, parts)
    app_names = sorted(apps)
    app_code = {name: i for i, name in enumerate(app_names)}
    version_names = ["", *sorted({v for part in parts for v in part.versions} - {""})]
    version_code = {name: i for i, name in enumerate(version_names)}
    columns: dict[str, list[npt.NDArray[np.generic]]] = {}
    rates: dict[tuple[str, str], LaunchRate] = {}
    for part in parts:
        u = part.usage
        launches_per_day = u.launches_per_day
        if spans is None:
            rates.update(part.rates)
        else:
            days = {h: _span_days(spans[h]) for h in part.hosts.host_id if h in spans}
            own: dict[str, float] = {}
            for (host_id, app), rate in part.rates.items():
                own[host_id] = rate.days
                rates[host_id, app] = LaunchRate(rate.launches, days.get(host_id, rate.days))
            ratio = np.array(
                [own.get(h, 1.0) / days.get(h, own.get(h, 1.0)) for h in part.hosts.host_id]
            )
            if u.host.size:
                launches_per_day = launches_per_day * ratio[u.host]
        host_map = np.array([host_code[h] for h in part.hosts.host_id], dtype=np.int64)
        app_map = np.array([app_code[a] for a in part.apps], dtype=np.int64)
        version_map = np.array([version_code[v] for v in part.versions], dtype=np.int64)
        mapped = {
            "host": host_map[u.host] if u.host.size else u.host,
            "app": app_map[u.app] if u.app.size else u.app,
            "cold": u.cold,
            "version": np.where(u.version >= 0, version_map[np.maximum(u.version, 0)], -1)
            if u.version.size
            else u.version,
            "level": u.level,
            "days": u.days,
            "noise": u.noise,
            "launches_per_day": launches_per_day,
        }
        for name, column in mapped.items():
            columns.setdefault(name, []).append(column)
    joined = {name: np.concatenate(values) for name, values in columns.items()}
    n_apps = max(len(app_names), 1)
    order = np.argsort(
        (joined["host"] * n_apps + joined["app"]) * 2 + joined["cold"], kind="stable"
    )
    usage = UsageFacts(
        host=joined["host"][order].astype(np.int64),
        app=joined["app"][order].astype(np.int64),
        cold=joined["cold"][order].astype(bool),
        version=joined["version"][order].astype(np.int64),
        level=joined["level"][order].astype(np.float64),
        days=joined["days"][order].astype(np.int64),
        noise=joined["noise"][order].astype(np.float64),
        launches_per_day=joined["launches_per_day"][order].astype(np.float64),
    )
    return FleetFacts(
        hosts=hosts,
        apps=tuple(app_names),
        versions=tuple(version_names),
        usage=usage,
        rates=rates,
        recent_days=parts[0].recent_days,
        now=parts[0].now,
    )


def _span_days(span: tuple[int, int]) -> float:
    first, last = span
    return float(last - first + 1)


def _hosts_of(rows: list[tuple[HostFacts, int]], parts: Sequence[FleetFacts]) -> HostFacts:
    """The host rows picked (a part's facts and the host's code in it), as one table."""

    def column(name: str) -> FloatArray:
        return np.array([getattr(facts, name)[i] for facts, i in rows], dtype=np.float64)

    machines: dict[str, MachineInfo] = {}
    for part in parts:
        machines.update(part.hosts.machines)
    return HostFacts(
        host_id=tuple(facts.host_id[i] for facts, i in rows),
        hostname=tuple(facts.hostname[i] for facts, i in rows),
        department=tuple(facts.department[i] for facts, i in rows),
        ram_gib=column("ram_gib"),
        hdd=np.array([facts.hdd[i] for facts, i in rows], dtype=bool),
        cores=column("cores"),
        memory_pressure=column("memory_pressure"),
        swap_in_mb=column("swap_in_mb"),
        io_pressure=column("io_pressure"),
        cpu_pressure=column("cpu_pressure"),
        machines=machines,
    )
