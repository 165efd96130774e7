"""The store's data as the columnar frames the fleet analysis reads (advisor.analysis.frames).

No ORM object, no dict per row. The daily launch rows come as numbers only (integer codes of
dictionary tables: :mod:`advisor.store.launch_daily`, by binary COPY on PostgreSQL); other
tables stream in chunks, their strings becoming integer codes as they stream. Name lists are
sorted at the end and the codes renumbered, and rows put in a canonical order, so the same
data gives the same frames on SQLite and PostgreSQL, whatever order the database returns
rows in.

==================  ==========================================================================
frame               from
==================  ==========================================================================
hosts               ``hosts``: department; RAM, CPU cores and the system disk's kind from the
                    hardware JSON of the newest inventory (:func:`hardware_figures`); then
                    hosts unknown there that have launches, by id
daily               ``launch_daily``, the UTC days the window touches (from the day ``now -
                    days`` falls on to the day of ``now``, whole days); the host-days that
                    launches of batches not rolled up yet fall on are recomputed from their
                    raw launches instead, as the rollup will (so each launch counts once,
                    rolled up or not). Ordered by day, host, app, version, cold
launches            no rows (hosts, apps and versions set, as ``daily``'s) unless asked for
                    (``raw_launches``): then ``launches`` with outcome ``ok`` and a duration,
                    started in the last ``days`` days up to ``now``, as reported
version changes     ``version_spans`` of packages labelled with an app: a span that follows
                    another of the same package on the host is a change at its ``since``
                    (the first inventory that showed the new version); changes in the window
pressure            per host and UTC day: ``metric_rollups_daily``, plus the summaries of
                    batches not rolled up yet (each summary counts once: a rolled-up batch's
                    summaries are in the rollups, the others are not)
==================  ==========================================================================
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from advisor.analysis.daily import DailyLaunches
from advisor.analysis.frames import (
    METHODS,
    FleetData,
    HostTable,
    LaunchFrame,
    PressureFrame,
    VersionChanges,
)
from advisor.store import binary_copy, launch_daily
from advisor.store.launch_daily import DailyState, StoredRows
from advisor.store.models import BATCHES, DAILY, HOSTS, LAUNCHES, SPANS, SUMMARIES
from advisor.store.rows import canonical_labels

DAY = 86400.0
CHUNK_ROWS = 50_000
"""Rows fetched per round trip (a server-side cursor on PostgreSQL)."""

PRESSURE_SERIES: dict[str, tuple[str, str]] = {
    "memory_pressure": ("pressure_memory_some_ratio", canonical_labels({})),
    "swap_in_bytes_per_second": ("swap_in_bytes_per_second", canonical_labels({})),
    "io_pressure": ("pressure_io_some_ratio", canonical_labels({})),
    "cpu_pressure": ("pressure_cpu_some_ratio", canonical_labels({})),
    # The root filesystem: where the applications and their caches live.
    "disk_used_ratio": ("disk_used_ratio", canonical_labels({"mountpoint": "/"})),
}
"""PressureFrame column -> (series name, canonical labels), as agent/shared/metricdefs.py."""
_DISK = list(PRESSURE_SERIES).index("disk_used_ratio")


class _Codes:
    """Integer codes of strings, in order of first sight; :meth:`sorted` renumbers them."""

    def __init__(self, *first: str) -> None:
        self.index: dict[str, int] = {}
        for name in first:
            self.code(name)

    def code(self, name: str) -> int:
        found = self.index.get(name)
        if found is None:
            found = self.index[name] = len(self.index)
        return found

    def sorted(self) -> tuple[list[str], npt.NDArray[np.int32]]:
        """The names sorted, and ``remap[old code] = new code``."""
        names = sorted(self.index)
        remap = np.empty(len(names), dtype=np.int32)
        for new, name in enumerate(names):
            remap[self.index[name]] = new
        return names, remap


def hardware_figures(hardware: dict[str, Any] | None) -> tuple[float, bool, float]:
    """``(RAM bytes, system disk is rotational, CPU cores)`` from a host's hardware JSON
    (agent.shared.wire.Hardware as stored); NaN for an unknown number.

    The agent does not say which disk holds the system, so it is the first disk whose kind is
    known (the agent lists them by name: ``nvme0n1`` before ``sda``, ``sda`` before ``sdb``);
    no such disk counts as not rotational.

    >>> hardware_figures({"memory_bytes": 8589934592, "cpu_cores": 4,
    ...     "disks": [{"name": "sda", "kind": "hdd", "rotational": True}]})
    (8589934592.0, True, 4.0)
    >>> hardware_figures(None)
    (nan, False, nan)
    """
    if not hardware:
        return math.nan, False, math.nan
    rotational = False
    for disk in hardware.get("disks") or []:
        kind = disk.get("kind")
        if kind in ("hdd", "ssd"):
            rotational = kind == "hdd"
            break
    return _number(hardware.get("memory_bytes")), rotational, _number(hardware.get("cpu_cores"))


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def window_days(now: float, days: int) -> tuple[int, int]:
    """The first and last UTC day numbers the ``days`` days up to ``now`` touch.

    >>> window_days(10 * DAY + 5.0, 2)
    (8, 10)
    """
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    return math.floor((now - days * DAY) / DAY), math.floor(now / DAY)


@dataclass(frozen=True)
class SharedFrames:
    """What every part of a run at one ``now`` reads alike: the hosts (the ``hosts`` table,
    then hosts only pressure rows name) and their daily pressure. Read once and handed to
    each part's :func:`read_fleet_data` (advisor.store.analysis_data keeps it per ``now``):
    at 10,000 hosts the pressure alone is 3.5 M daily rollups."""

    now: float
    days: int
    hosts: _Hosts
    pressure: PressureFrame


def read_shared(conn: sa.Connection, *, now: float, days: int = 90) -> SharedFrames:
    """The :class:`SharedFrames` of the ``days`` days up to ``now``, on ``conn``."""
    window_days(now, days)  # checks days
    hosts = _Hosts(conn)
    start = now - days * DAY
    pressure = _load_pressure(conn, hosts, start=math.floor(start / DAY) * DAY, now=now)
    return SharedFrames(now=now, days=days, hosts=hosts, pressure=pressure)


def read_fleet_data(
    conn: sa.Connection,
    *,
    now: float,
    days: int = 90,
    state: DailyState | None = None,
    stored: StoredRows | None = None,
    raw_launches: bool = False,
    apps: Collection[str] | None = None,
    shared: SharedFrames | None = None,
) -> FleetData:
    """Everything one analysis run reads, for the ``days`` days up to ``now``, on ``conn``
    (the contract is :class:`advisor.store.analysis_data.FleetFrames`'s; the table at the top
    of this module says where each frame comes from); only the launches and version changes
    of ``apps`` when given (one part of a run: the hosts and pressure are the whole fleet's).

    ``state`` and ``stored`` are the daily launch state and rows as the caller already read
    them in this transaction (rows of any days and apps: those outside the window, before the
    retention horizon or of other apps are left out here); None reads them. ``shared`` is
    :func:`read_shared`'s for this ``now`` and ``days`` when the caller kept it; None reads
    it. ``notes`` says what was left out.
    """
    first_day, last_day = window_days(now, days)
    start = now - days * DAY
    notes: list[str] = []
    if shared is None or (shared.now, shared.days) != (now, days):
        shared = read_shared(conn, now=now, days=days)
    if state is None:
        state = launch_daily.read_state(conn)
    from_day = max(first_day, state.kept_from_day)
    host_names, app_names, version_names = launch_daily.read_names(conn)
    app_codes = None if apps is None else {c for c, name in app_names.items() if name in apps}
    if stored is None:
        stored = launch_daily.read_rows(
            conn, from_day=from_day, to_day=last_day, app_codes=app_codes
        )
    in_window = (stored.day >= from_day) & (stored.day <= last_day)
    if app_codes is not None:
        in_window &= np.isin(stored.app, np.fromiter(app_codes, np.int64, len(app_codes)))
    stored = stored.take(in_window)
    pending = launch_daily.pending_host_days(conn, from_day=from_day, to_day=last_day)
    late = {hd for hd in pending if hd[1] < state.recompute_from_day}
    if late:
        notes.append(
            f"{len(late)} host-day(s) of launches not rolled up yet are on days whose raw "
            "launches retention has started deleting: left out, as the rollup leaves them"
        )
    fresh = launch_daily.compute(conn, pending - late, apps=apps)
    stored = _without_host_days(stored, pending - late, host_names)
    hosts = shared.hosts.copy()
    names = _Names()
    stored_codes = _StoredCodes.of(stored, host_names, app_names, version_names)
    raw = (
        _load_launches(conn, start=start, now=now, notes=notes, apps=apps) if raw_launches else None
    )
    changes = _load_changes(conn, start=start, now=now, apps=apps)
    for host_id in sorted(
        {
            *stored_codes.host_ids(),
            *fresh.hosts.host_id,
            *(raw.host_ids if raw else []),
            *changes.hosts,
        }
    ):
        hosts.code(host_id)
    names.add(stored_codes.app_names(), stored_codes.version_names())
    names.add(fresh.apps, fresh.versions)
    if raw is not None:
        names.add(raw.apps, raw.versions)
    names.add(changes.apps, [*changes.from_versions, *changes.to_versions])
    table = hosts.table()
    apps_found, versions = names.sorted()
    columns = stored.columns()
    del stored  # its columns go as they are used
    daily = _daily_rows(table, apps_found, versions, first_day, columns, stored_codes, fresh, hosts)
    return FleetData(
        launches=_launch_frame(table, apps_found, versions, raw, hosts),
        pressure=shared.pressure,
        changes=_change_frame(changes, hosts, apps_found, versions),
        notes=notes,
        daily=daily,
    )


class _Names:
    """App and version names from every source; ``""`` is always a version."""

    def __init__(self) -> None:
        self.apps: set[str] = set()
        self.versions: set[str] = {""}

    def add(self, apps: Iterable[str], versions: Iterable[str]) -> None:
        self.apps.update(apps)
        self.versions.update(versions)

    def sorted(self) -> tuple[list[str], list[str]]:
        # "" sorts first: the unknown version is code 0, as LaunchFrame wants.
        return sorted(self.apps), sorted(self.versions)


def _lookup(codes: dict[int, str], used: npt.NDArray[Any]) -> dict[int, str]:
    """The names of the codes that occur in ``used`` (one pass, no sort)."""
    if used.size == 0:
        return {}
    present = np.flatnonzero(np.bincount(used))
    return {int(code): codes[int(code)] for code in present}


class _StoredCodes:
    """The dictionary codes the stored rows use, with their names."""

    def __init__(self, hosts: dict[int, str], apps: dict[int, str], versions: dict[int, str]):
        self.hosts, self.apps, self.versions = hosts, apps, versions

    @classmethod
    def of(
        cls,
        rows: StoredRows,
        hosts: dict[int, str],
        apps: dict[int, str],
        versions: dict[int, str],
    ) -> _StoredCodes:
        return cls(
            _lookup(hosts, rows.host), _lookup(apps, rows.app), _lookup(versions, rows.version)
        )

    def host_ids(self) -> list[str]:
        return list(self.hosts.values())

    def app_names(self) -> list[str]:
        return list(self.apps.values())

    def version_names(self) -> list[str]:
        return list(self.versions.values())


def _remap(codes: dict[int, str], index: dict[str, int]) -> npt.NDArray[np.int64]:
    """``remap[stored code] = frame code`` for the codes in ``codes``."""
    remap = np.zeros(max(codes, default=-1) + 1, dtype=np.int64)
    for code, name in codes.items():
        remap[code] = index[name]
    return remap


def _without_host_days(
    rows: StoredRows, host_days: set[launch_daily.HostDay], host_names: dict[int, str]
) -> StoredRows:
    """``rows`` without those of ``host_days`` (recomputed from raw launches instead)."""
    if not host_days or len(rows) == 0:
        return rows
    code_of = {name: code for code, name in host_names.items()}
    first = int(rows.day.min())
    last = int(rows.day.max())
    span = last - first + 1
    known = [(code_of[h], d) for h, d in host_days if h in code_of and first <= d <= last]
    if not known:
        return rows
    pairs = np.array(known, dtype=np.int64)
    keys = pairs[:, 0] * span + (pairs[:, 1] - first)
    row_keys = rows.host.astype(np.int64) * span + (rows.day - first)
    return rows.take(~np.isin(row_keys, keys))


def _daily_rows(
    table: HostTable,
    apps: list[str],
    versions: list[str],
    first_day: int,
    stored: dict[str, npt.NDArray[Any]],
    codes: _StoredCodes,
    fresh: DailyLaunches,
    hosts: _Hosts,
) -> DailyLaunches:
    """Stored and freshly computed rows in the frame's codes, by day, host, app, version and
    start kind (keys are unique: a host-day comes from one of the two). Takes ``stored``'s
    columns out of it as they are used: at fleet scale they are gigabytes."""
    app_index = {name: code for code, name in enumerate(apps)}
    version_index = {name: code for code, name in enumerate(versions)}
    host_index = {name: hosts.code(name) for name in (*codes.hosts.values(), *fresh.hosts.host_id)}
    # One lookup table per coded column: stored codes first, then the fresh rows' codes
    # shifted past them, so that a column of both is one array of small integers.
    tables: dict[str, tuple[npt.NDArray[np.int64], int]] = {}
    for name, stored_codes, fresh_names, index in (
        ("host", codes.hosts, fresh.hosts.host_id, host_index),
        ("app", codes.apps, fresh.apps, app_index),
        ("version", codes.versions, fresh.versions, version_index),
    ):
        stored_map = _remap(stored_codes, index)
        fresh_map = np.array([index[n] for n in fresh_names], dtype=np.int64)
        tables[name] = (np.concatenate([stored_map, fresh_map]), len(stored_map))

    def raw(name: str) -> npt.NDArray[Any]:
        """``name`` of the stored rows, then of the fresh ones; codes into ``tables``."""
        column = stored[name]
        extra = getattr(fresh, name)
        if name in tables:
            extra = extra + tables[name][1]
        if len(extra) == 0:
            return column
        return np.concatenate([column, extra.astype(column.dtype)])

    def coded(name: str) -> npt.NDArray[np.int64]:
        return tables[name][0][raw(name)] if name in tables else raw(name).astype(np.int64)

    key = coded("day") - first_day
    for name, size in (("host", len(table)), ("app", len(apps)), ("version", len(versions))):
        key *= max(size, 1)
        key += coded(name)
    key *= 2
    key += raw("cold")
    # Stable: timsort runs through rows already in order (as stored, mostly) in one pass.
    order = np.argsort(key, kind="stable")
    del key

    def ordered(name: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
        values: npt.NDArray[Any] = raw(name)[order]
        del stored[name]
        if name in tables:
            mapped: npt.NDArray[np.int64] = tables[name][0][values]
            return mapped
        return values.astype(dtype, copy=False)

    return DailyLaunches(
        hosts=table,
        apps=apps,
        versions=versions,
        host=ordered("host", np.int64),
        app=ordered("app", np.int64),
        version=ordered("version", np.int64),
        cold=ordered("cold", np.bool_),
        day=ordered("day", np.int64),
        count=ordered("count", np.int64),
        **{name: ordered(name, np.float64) for name in launch_daily.FIGURES},
    )


def _launch_frame(
    table: HostTable,
    apps: list[str],
    versions: list[str],
    raw: _Launches | None,
    hosts: _Hosts,
) -> LaunchFrame:
    """The raw launches in the frame's codes, by time, host and app; none without ``raw``."""
    if raw is None:
        empty = np.empty(0, dtype=np.int32)
        return LaunchFrame(
            table,
            apps,
            versions,
            empty,
            empty,
            empty,
            empty,
            np.empty(0),
            np.empty(0),
            np.empty(0, dtype=np.bool_),
        )
    host_map = np.array([hosts.code(h) for h in raw.host_ids], dtype=np.int32)
    app_map = _index_map(raw.apps, apps)
    version_map = _index_map(raw.versions, versions)
    host = host_map[raw.host] if len(raw.host) else raw.host
    app = app_map[raw.app] if len(raw.app) else raw.app
    order = np.lexsort((app, host, raw.started_at))
    return LaunchFrame(
        hosts=table,
        apps=apps,
        versions=versions,
        host=host[order],
        app=app[order],
        version=(version_map[raw.version] if len(raw.version) else raw.version)[order],
        method=raw.method[order],
        started_at=raw.started_at[order],
        duration=raw.duration[order],
        cold=raw.cold[order],
    )


def _index_map(local: list[str], names: list[str]) -> npt.NDArray[np.int32]:
    index = {name: code for code, name in enumerate(names)}
    return np.array([index[name] for name in local], dtype=np.int32)


def _change_frame(
    changes: _Changes, hosts: _Hosts, apps: list[str], versions: list[str]
) -> VersionChanges:
    app_index = {name: code for code, name in enumerate(apps)}
    version_index = {name: code for code, name in enumerate(versions)}
    found = sorted(
        (at, hosts.code(h), app_index[a], version_index[f], version_index[t])
        for h, a, at, f, t in zip(
            changes.hosts,
            changes.apps,
            changes.at,
            changes.from_versions,
            changes.to_versions,
            strict=True,
        )
    )
    columns = list(zip(*found, strict=True)) if found else [(), (), (), (), ()]
    return VersionChanges(
        host=np.asarray(columns[1], dtype=np.int32),
        app=np.asarray(columns[2], dtype=np.int32),
        at=np.asarray(columns[0], dtype=np.float64),
        from_version=np.asarray(columns[3], dtype=np.int32),
        to_version=np.asarray(columns[4], dtype=np.int32),
    )


class _Hosts:
    """Host codes in the order of the ``hosts`` table by id; strangers are appended."""

    def __init__(self, conn: sa.Connection) -> None:
        self.ids: list[str] = []
        self.departments: list[str] = []
        figures: list[tuple[float, bool, float]] = []
        rows = conn.execute(
            sa.select(HOSTS.c.host_id, HOSTS.c.department, HOSTS.c.hardware).order_by(
                HOSTS.c.host_id
            )
        )
        for host_id, department, hardware in rows:
            self.ids.append(host_id)
            self.departments.append(department)
            figures.append(hardware_figures(hardware))
        self.figures = figures
        self.index = {host_id: code for code, host_id in enumerate(self.ids)}

    def copy(self) -> _Hosts:
        """Another coding that starts where this one is (the original is left as it is)."""
        twin = object.__new__(_Hosts)
        twin.ids = list(self.ids)
        twin.departments = list(self.departments)
        twin.figures = list(self.figures)
        twin.index = dict(self.index)
        return twin

    def code(self, host_id: str) -> int:
        found = self.index.get(host_id)
        if found is None:
            found = self.index[host_id] = len(self.ids)
            self.ids.append(host_id)
            self.departments.append("")
            self.figures.append(hardware_figures(None))
        return found

    def table(self) -> HostTable:
        return HostTable(
            host_id=list(self.ids),
            department=list(self.departments),
            ram_bytes=np.array([f[0] for f in self.figures], dtype=np.float64),
            disk_rotational=np.array([f[1] for f in self.figures], dtype=np.bool_),
            cpu_cores=np.array([f[2] for f in self.figures], dtype=np.float64),
        )


class _Launches:
    """The raw launch columns as they stream in; host, app and version codes in order of
    first sight (``host_ids``, ``apps``, ``versions`` name them)."""

    def __init__(self) -> None:
        self.host_codes = _Codes()
        self.app_codes = _Codes()
        self.version_codes = _Codes("")
        self.host = np.empty(0, dtype=np.int32)
        self.app = np.empty(0, dtype=np.int32)
        self.version = np.empty(0, dtype=np.int32)
        self.method = np.empty(0, dtype=np.int32)
        self.started_at = np.empty(0, dtype=np.float64)
        self.duration = np.empty(0, dtype=np.float64)
        self.cold = np.empty(0, dtype=np.bool_)

    @property
    def host_ids(self) -> list[str]:
        return list(self.host_codes.index)

    @property
    def apps(self) -> list[str]:
        return list(self.app_codes.index)

    @property
    def versions(self) -> list[str]:
        return list(self.version_codes.index)


def _chunks(conn: sa.Connection, query: sa.Select[Any]) -> Iterator[list[Any]]:
    """The query's rows in lists of up to :data:`CHUNK_ROWS`, streamed from the server."""
    result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
    for partition in result.partitions(CHUNK_ROWS):
        yield list(partition)


def _load_launches(
    conn: sa.Connection,
    *,
    start: float,
    now: float,
    notes: list[str],
    apps: Collection[str] | None = None,
) -> _Launches:
    out = _Launches()
    of_apps = [] if apps is None else [LAUNCHES.c.app.in_(sorted(apps))]
    method_code = {name: code for code, name in enumerate(METHODS)}
    query = sa.select(
        LAUNCHES.c.host_id,
        LAUNCHES.c.app,
        LAUNCHES.c.version,
        LAUNCHES.c.method,
        LAUNCHES.c.start_kind,
        LAUNCHES.c.started_at,
        LAUNCHES.c.duration_seconds,
    ).where(
        LAUNCHES.c.outcome == "ok",
        LAUNCHES.c.started_at >= start,
        LAUNCHES.c.started_at <= now,
        LAUNCHES.c.duration_seconds.is_not(None),
        *of_apps,
    )
    parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name in _LAUNCH_COLUMNS}
    unknown_methods = 0
    host_code, app_code, version_code = (
        out.host_codes.code,
        out.app_codes.code,
        out.version_codes.code,
    )
    for rows in _chunks(conn, query):
        host_ids, apps, versions, methods, kinds, started, durations = zip(*rows, strict=True)
        method = np.fromiter((method_code.get(m, -1) for m in methods), np.int32, len(rows))
        keep = method >= 0
        unknown_methods += int((~keep).sum())
        parts["host"].append(np.fromiter(map(host_code, host_ids), np.int32, len(rows))[keep])
        parts["app"].append(np.fromiter(map(app_code, apps), np.int32, len(rows))[keep])
        parts["version"].append(
            np.fromiter((version_code(v or "") for v in versions), np.int32, len(rows))[keep]
        )
        parts["method"].append(method[keep])
        parts["cold"].append(np.fromiter((k == "cold" for k in kinds), np.bool_, len(rows))[keep])
        parts["started_at"].append(np.asarray(started, dtype=np.float64)[keep])
        parts["duration"].append(np.asarray(durations, dtype=np.float64)[keep])
    for name, dtype in _LAUNCH_COLUMNS.items():
        setattr(out, name, np.concatenate(parts[name]) if parts[name] else np.empty(0, dtype))
    if unknown_methods:
        notes.append(f"{unknown_methods} launch(es) with a method other than {METHODS} left out")
    return out


_LAUNCH_COLUMNS: dict[str, type[np.generic]] = {
    "host": np.int32,
    "app": np.int32,
    "version": np.int32,
    "method": np.int32,
    "cold": np.bool_,
    "started_at": np.float64,
    "duration": np.float64,
}


@dataclass(frozen=True)
class _Changes:
    """Version changes by name, in the order found."""

    hosts: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    at: list[float] = field(default_factory=list)
    from_versions: list[str] = field(default_factory=list)
    to_versions: list[str] = field(default_factory=list)


def _load_changes(
    conn: sa.Connection, *, start: float, now: float, apps: Collection[str] | None = None
) -> _Changes:
    """Version changes in the window (of ``apps`` only, when given), per package; an app
    with several packages on a host (a suite) changes once per distinct (time, from, to),
    not once per package."""
    of_apps = [] if apps is None else [SPANS.c.app.in_(sorted(apps))]
    # A change in the window follows a span that ended in it (or is still open).
    query = (
        sa.select(
            SPANS.c.host_id,
            SPANS.c.app,
            SPANS.c.source,
            SPANS.c.package,
            SPANS.c.arch,
            SPANS.c.version,
            SPANS.c.since,
        )
        .where(
            SPANS.c.app.is_not(None),
            sa.or_(SPANS.c.until.is_(None), SPANS.c.until >= start),
            SPANS.c.since <= now,
            *of_apps,
        )
        .order_by(SPANS.c.host_id, SPANS.c.source, SPANS.c.package, SPANS.c.arch, SPANS.c.since)
    )
    previous: tuple[Any, ...] | None = None
    seen: set[tuple[str, str, float, str, str]] = set()
    found = _Changes()
    for rows in _chunks(conn, query):
        for host_id, app, source, package, arch, version, since in rows:
            package_key = (host_id, source, package, arch)
            if (
                previous is not None
                and previous[0] == package_key
                and previous[1] != version
                and since >= start
            ):
                change = (host_id, app, since, previous[1], version)
                if change not in seen:
                    seen.add(change)
                    found.hosts.append(host_id)
                    found.apps.append(app)
                    found.at.append(since)
                    found.from_versions.append(previous[1])
                    found.to_versions.append(version)
            previous = (package_key, version)
    return found


def _series_filter(name: sa.ColumnElement[str], labels: sa.ColumnElement[str]) -> Any:
    return sa.or_(
        *(sa.and_(name == series, labels == label) for series, label in PRESSURE_SERIES.values())
    )


def _series_code(name: sa.ColumnElement[str], labels: sa.ColumnElement[str]) -> Any:
    """The series' position in :data:`PRESSURE_SERIES` (rows of other series are filtered)."""
    return sa.case(
        *(
            (sa.and_(name == series, labels == label), code)
            for code, (series, label) in enumerate(PRESSURE_SERIES.values())
        ),
        else_=-1,
    )


def _pressure_queries(start: float, now: float) -> list[sa.Subquery]:
    """Rows (host_id, series, at, count, sum, max) of the pressure series in the window: the
    daily rollups, and the summaries of batches not rolled up yet (each counted once)."""
    rolled = _pressure_rows(DAILY, DAILY.c.bucket_start, start, now)
    pending_batches = sa.select(BATCHES.c.host_id, BATCHES.c.batch_id).where(
        BATCHES.c.rolled_up_at.is_(None)
    )
    pending = _pressure_rows(SUMMARIES, SUMMARIES.c.interval_start, start, now).where(
        sa.tuple_(SUMMARIES.c.host_id, SUMMARIES.c.batch_id).in_(pending_batches)
    )
    return [rolled.subquery(), pending.subquery()]


def _pressure_rows(
    table: sa.Table, at: sa.ColumnElement[float], start: float, now: float
) -> sa.Select[Any]:
    """(host_id, series, at, count, sum, max) of ``table``'s pressure series with ``at`` in
    ``[start, now]``: the daily rollups and the raw summaries have these columns alike."""
    return sa.select(
        table.c.host_id,
        _series_code(table.c.name, table.c.labels).label("series"),
        at.label("at"),
        sa.cast(table.c["count"], sa.Double).label("count"),
        table.c.sum,
        table.c.max,
    ).where(_series_filter(table.c.name, table.c.labels), at >= start, at <= now)


_PRESSURE_COLUMNS = {
    "host": np.int32,
    "series": np.int32,
    "at": np.float64,
    "count": np.float64,
    "sum": np.float64,
    "max": np.float64,
}


def _load_pressure(
    conn: sa.Connection, hosts: _Hosts, *, start: float, now: float
) -> PressureFrame:
    parts: list[tuple[npt.NDArray[Any], ...]] = []
    for rows in _pressure_queries(start, now):
        if conn.dialect.name == "postgresql":
            parts.append(_copied_pressure(conn, rows, hosts))
        else:
            parts.extend(_streamed_pressure(conn, sa.select(rows), hosts))
    return _daily(parts, len(PRESSURE_SERIES))


def _copied_pressure(
    conn: sa.Connection, rows: sa.Subquery, hosts: _Hosts
) -> tuple[npt.NDArray[Any], ...]:
    """``rows`` by binary COPY, hosts as codes (the database joins the host ids, passed as
    one array literal); rows of hosts without a code, if any, streamed after."""
    codes = (
        sa.func.unnest(sa.cast(sa.literal(_array_literal(hosts.ids)), postgresql.ARRAY(sa.Text)))
        .table_valued("host_id", with_ordinality="n")
        .render_derived(name="host_codes")
    )
    query = sa.select(
        sa.cast(sa.func.coalesce(codes.c.n - 1, -1), sa.Integer).label("host"),
        sa.cast(rows.c.series, sa.Integer).label("series"),
        rows.c.at,
        rows.c["count"],
        rows.c.sum,
        rows.c.max,
    ).select_from(rows.outerjoin(codes, codes.c.host_id == rows.c.host_id))
    got = binary_copy.read_columns(conn, query, _PRESSURE_COLUMNS)
    known = got["host"] >= 0
    part = tuple(got[name][known] for name in _PRESSURE_COLUMNS)
    if known.all():
        return part
    strangers = sa.select(rows).where(rows.c.host_id.not_in(list(hosts.ids)))
    return tuple(
        np.concatenate(columns)
        for columns in zip(part, *_streamed_pressure(conn, strangers, hosts), strict=True)
    )


def _array_literal(values: list[str]) -> str:
    r"""``values`` as a PostgreSQL array literal (``{"a","b"}``), every element quoted.

    >>> print(_array_literal(['fin-1', 'a "b" \\ c']))
    {"fin-1","a \"b\" \\ c"}
    """
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


def _streamed_pressure(
    conn: sa.Connection, query: sa.Select[Any], hosts: _Hosts
) -> list[tuple[npt.NDArray[Any], ...]]:
    parts: list[tuple[npt.NDArray[Any], ...]] = []
    for rows in _chunks(conn, query):
        host_ids, series, at, counts, sums, maxima = zip(*rows, strict=True)
        parts.append(
            (
                np.fromiter(map(hosts.code, host_ids), np.int32, len(rows)),
                np.asarray(series, dtype=np.int32),
                np.asarray(at, dtype=np.float64),
                np.asarray(counts, dtype=np.float64),
                np.asarray(sums, dtype=np.float64),
                np.asarray(maxima, dtype=np.float64),
            )
        )
    return parts


def _daily(parts: list[tuple[npt.NDArray[Any], ...]], n_series: int) -> PressureFrame:
    """One row per (host, day): each series' count-weighted mean (the disk's maximum)."""
    if not parts:
        empty = np.empty(0, dtype=np.float64)
        return PressureFrame(np.empty(0, dtype=np.int32), empty, *([empty] * n_series))
    host, series, at, count, total, maximum = (np.concatenate(c) for c in zip(*parts, strict=True))
    day = np.floor(at / DAY).astype(np.int64)
    first = int(day.min()) if day.size else 0
    span = int(day.max()) - first + 1 if day.size else 1
    # By host, then day: one integer key each, not a unique over pairs (ten times slower).
    keys, row = np.unique(host.astype(np.int64) * span + (day - first), return_inverse=True)
    row = row.reshape(-1)
    cell = row * n_series + series
    cells = len(keys) * n_series
    counts = np.bincount(cell, weights=count, minlength=cells)
    sums = np.bincount(cell, weights=total, minlength=cells)
    maxima = np.full(cells, -np.inf)
    np.maximum.at(maxima, cell, maximum)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
    means[_DISK::n_series] = np.where(
        np.isfinite(maxima[_DISK::n_series]), maxima[_DISK::n_series], np.nan
    )
    values = means.reshape(-1, n_series)
    key_host, key_day = np.divmod(keys, span)
    return PressureFrame(
        key_host.astype(np.int32),
        ((key_day + first) * DAY).astype(np.float64),
        *(np.ascontiguousarray(values[:, i]) for i in range(n_series)),
    )
