"""The store's data as the columnar frames the fleet analysis reads (advisor.analysis.frames).

One SELECT per table, streamed in chunks straight into numpy columns: no ORM object, no dict
per row. Strings become integer codes as they stream (a dict lookup per value); the name lists
are sorted at the end and the codes renumbered, so the same data gives the same frames on
SQLite and PostgreSQL, whatever order the database returns rows in.

==================  ==========================================================================
frame               from
==================  ==========================================================================
hosts               ``hosts``: department; RAM, CPU cores and the system disk's kind from the
                    hardware JSON of the newest inventory (:func:`hardware_figures`)
launches            ``launches`` with outcome ``ok`` and a duration, started in the last
                    ``days`` days up to ``now``; version as the agent reported it
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
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from advisor.analysis.frames import (
    METHODS,
    FleetData,
    HostTable,
    LaunchFrame,
    PressureFrame,
    VersionChanges,
)
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


def read_fleet_data(conn: sa.Connection, *, now: float, days: int = 90) -> FleetData:
    """Everything one analysis run reads, for the ``days`` days up to ``now``, on ``conn``
    (the contract is :class:`advisor.store.analysis_data.FleetFrames`'s).

    Launches and version changes are those of the window; pressure covers the UTC days the
    window touches. ``notes`` says what was left out (launches of unknown hosts are kept, under
    a host row with an empty department and unknown hardware).
    """
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    start = now - days * DAY
    notes: list[str] = []
    hosts = _Hosts(conn)
    launches = _load_launches(conn, hosts, start=start, now=now, notes=notes)
    changes = _load_changes(conn, hosts, launches, start=start, now=now)
    pressure = _load_pressure(conn, hosts, start=math.floor(start / DAY) * DAY, now=now)
    table = hosts.table()
    apps, app_remap = launches.apps.sorted()
    versions, version_remap = launches.versions.sorted()
    app = app_remap[launches.app]
    # Deterministic whatever order the database returned: by time, host, app.
    order = np.lexsort((app, launches.host, launches.started_at))
    frame = LaunchFrame(
        hosts=table,
        apps=apps,
        versions=versions,
        host=launches.host[order],
        app=app[order],
        version=version_remap[launches.version][order],
        method=launches.method[order],
        started_at=launches.started_at[order],
        duration=launches.duration[order],
        cold=launches.cold[order],
    )
    change_frame = VersionChanges(
        host=changes[0],
        app=app_remap[changes[1]],
        at=changes[2],
        from_version=version_remap[changes[3]],
        to_version=version_remap[changes[4]],
    )
    return FleetData(launches=frame, pressure=pressure, changes=change_frame, notes=notes)


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
    """The launch columns as they stream in; app and version codes in order of first sight."""

    def __init__(self) -> None:
        self.apps = _Codes()
        self.versions = _Codes("")
        self.host = np.empty(0, dtype=np.int32)
        self.app = np.empty(0, dtype=np.int32)
        self.version = np.empty(0, dtype=np.int32)
        self.method = np.empty(0, dtype=np.int32)
        self.started_at = np.empty(0, dtype=np.float64)
        self.duration = np.empty(0, dtype=np.float64)
        self.cold = np.empty(0, dtype=np.bool_)


def _chunks(conn: sa.Connection, query: sa.Select[Any]) -> Iterator[list[Any]]:
    """The query's rows in lists of up to :data:`CHUNK_ROWS`, streamed from the server."""
    result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
    for partition in result.partitions(CHUNK_ROWS):
        yield list(partition)


def _load_launches(
    conn: sa.Connection, hosts: _Hosts, *, start: float, now: float, notes: list[str]
) -> _Launches:
    out = _Launches()
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
    )
    parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name in _LAUNCH_COLUMNS}
    unknown_methods = 0
    host_code, app_code, version_code = hosts.code, out.apps.code, out.versions.code
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

_Changes = tuple[
    npt.NDArray[np.int32],
    npt.NDArray[np.int32],
    npt.NDArray[np.float64],
    npt.NDArray[np.int32],
    npt.NDArray[np.int32],
]


def _load_changes(
    conn: sa.Connection, hosts: _Hosts, launches: _Launches, *, start: float, now: float
) -> _Changes:
    """Version changes in the window, per package; an app with several packages on a host
    (a suite) changes once per distinct (time, from, to), not once per package."""
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
        )
        .order_by(SPANS.c.host_id, SPANS.c.source, SPANS.c.package, SPANS.c.arch, SPANS.c.since)
    )
    previous: tuple[Any, ...] | None = None
    seen: set[tuple[str, str, float, str, str]] = set()
    found: list[tuple[int, int, float, int, int]] = []
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
                    found.append(
                        (
                            hosts.code(host_id),
                            launches.apps.code(app),
                            since,
                            launches.versions.code(previous[1]),
                            launches.versions.code(version),
                        )
                    )
            previous = (package_key, version)
    found.sort(key=lambda c: (c[2], c[0], c[1]))
    columns = list(zip(*found, strict=True)) if found else [(), (), (), (), ()]
    return (
        np.asarray(columns[0], dtype=np.int32),
        np.asarray(columns[1], dtype=np.int32),
        np.asarray(columns[2], dtype=np.float64),
        np.asarray(columns[3], dtype=np.int32),
        np.asarray(columns[4], dtype=np.int32),
    )


def _series_filter(name: sa.ColumnElement[str], labels: sa.ColumnElement[str]) -> Any:
    return sa.or_(
        *(sa.and_(name == series, labels == label) for series, label in PRESSURE_SERIES.values())
    )


def _load_pressure(
    conn: sa.Connection, hosts: _Hosts, *, start: float, now: float
) -> PressureFrame:
    n_series = len(PRESSURE_SERIES)
    series_code = {series: code for code, (series, _) in enumerate(PRESSURE_SERIES.values())}
    # Pivoted in the database: one row per host and day instead of one per series.
    pivot: list[Any] = []
    for series, label in PRESSURE_SERIES.values():
        mine = sa.and_(DAILY.c.name == series, DAILY.c.labels == label)
        for column, aggregate in (
            ("count", sa.func.sum),
            ("sum", sa.func.sum),
            ("max", sa.func.max),
        ):
            pivot.append(aggregate(sa.case((mine, DAILY.c[column]))))
    rolled = (
        sa.select(DAILY.c.host_id, DAILY.c.bucket_start, *pivot)
        .where(
            _series_filter(DAILY.c.name, DAILY.c.labels),
            DAILY.c.bucket_start >= start,
            DAILY.c.bucket_start <= now,
        )
        .group_by(DAILY.c.host_id, DAILY.c.bucket_start)
    )
    pending_batches = sa.select(BATCHES.c.host_id, BATCHES.c.batch_id).where(
        BATCHES.c.rolled_up_at.is_(None)
    )
    pending = sa.select(
        SUMMARIES.c.host_id,
        SUMMARIES.c.name,
        SUMMARIES.c.interval_start,
        SUMMARIES.c["count"],
        SUMMARIES.c.sum,
        SUMMARIES.c.max,
    ).where(
        _series_filter(SUMMARIES.c.name, SUMMARIES.c.labels),
        SUMMARIES.c.interval_start >= start,
        SUMMARIES.c.interval_start <= now,
        sa.tuple_(SUMMARIES.c.host_id, SUMMARIES.c.batch_id).in_(pending_batches),
    )
    parts: list[tuple[npt.NDArray[Any], ...]] = []
    for rows in _chunks(conn, rolled):
        columns = list(zip(*rows, strict=True))
        host = np.fromiter(map(hosts.code, columns[0]), np.int64, len(rows))
        day = np.asarray(columns[1], dtype=np.float64)
        for i in range(n_series):
            # A host-day without this series has NULLs here: NaN, left out.
            count, total, maximum = (
                np.array(columns[2 + 3 * i + j], dtype=np.float64) for j in range(3)
            )
            has = ~np.isnan(count)
            code = np.full(int(has.sum()), i, dtype=np.int64)
            parts.append((host[has], code, day[has], count[has], total[has], maximum[has]))
    for rows in _chunks(conn, pending):
        host_ids, names, times, counts, sums, maxima = zip(*rows, strict=True)
        parts.append(
            (
                np.fromiter(map(hosts.code, host_ids), np.int64, len(rows)),
                np.fromiter(map(series_code.__getitem__, names), np.int64, len(rows)),
                np.floor(np.asarray(times, dtype=np.float64) / DAY) * DAY,
                np.asarray(counts, dtype=np.float64),
                np.asarray(sums, dtype=np.float64),
                np.asarray(maxima, dtype=np.float64),
            )
        )
    return _daily(parts, n_series)


def _daily(parts: list[tuple[npt.NDArray[Any], ...]], n_series: int) -> PressureFrame:
    """One row per (host, day): each series' count-weighted mean (the disk's maximum)."""
    if not parts:
        empty = np.empty(0, dtype=np.float64)
        return PressureFrame(np.empty(0, dtype=np.int32), empty, *([empty] * n_series))
    host, series, day, count, total, maximum = (np.concatenate(c) for c in zip(*parts, strict=True))
    keys, row = np.unique(np.stack([host.astype(np.float64), day]), axis=1, return_inverse=True)
    row = row.reshape(-1)
    cell = row * n_series + series
    cells = len(keys[0]) * n_series
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
    return PressureFrame(
        keys[0].astype(np.int32),
        keys[1].astype(np.float64),
        *(np.ascontiguousarray(values[:, i]) for i in range(n_series)),
    )
