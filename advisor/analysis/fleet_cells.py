"""Launches reduced to cells: the median log load time per host, app, day, start kind and version.

Every fleet method but the version comparison works on cells, not on launches: 10,000 hosts x
20 apps x 90 days is at most 36 million cells against tens of millions of launches, and a
cell's median is already robust to a launch's heavy tail (a 60 s timeout moves it no more
than any other slow launch). ``resid`` is a cell's level less the median level of its host,
app and start kind, so series pooled over hosts compare each host with itself and a day on
which only always-on machines report (a weekend) is not a change of mix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from advisor.analysis.frames import FleetData, LaunchFrame
from advisor.analysis.groupby import group_medians

__all__ = [
    "DAY_SECONDS",
    "PRESSURE_CAUSES",
    "Cells",
    "build_cells",
    "nan_mean",
    "pressure_grid",
    "usable_launches",
    "window_means",
    "working_days",
]

DAY_SECONDS = 86400.0
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Cells:
    """One row per (host, app, day, cold, version) with launches; ``day`` counts from ``day0``
    (Unix seconds of the first UTC day analysed), ``level`` is the median log load time."""

    host: IntArray
    app: IntArray
    day: IntArray
    cold: BoolArray
    version: IntArray
    count: IntArray
    level: FloatArray
    resid: FloatArray
    day0: float
    days: int
    by_app: list[IntArray]  # the rows of each app code

    def __len__(self) -> int:
        return len(self.host)

    @cached_property
    def first_day(self) -> int:
        """The first day with a launch: where the early period starts."""
        return int(self.day.min()) if self.day.size else 0

    def with_levels(self, level: FloatArray, apps: int) -> Cells:
        """The same cells with new levels (e.g. version effects removed), residuals redone."""
        return Cells(
            self.host,
            self.app,
            self.day,
            self.cold,
            self.version,
            self.count,
            level,
            _residuals(self.host, self.app, self.cold, level, apps),
            self.day0,
            self.days,
            self.by_app,
        )


def usable_launches(launches: LaunchFrame, *, now: float, horizon_days: int) -> IntArray:
    """Indices of launches inside the horizon, not after ``now`` (a skewed clock can date
    launches in the future) and with a positive load time."""
    d = launches.duration
    t = launches.started_at
    keep = np.isfinite(d) & (d > 0) & (t <= now) & (t >= now - horizon_days * DAY_SECONDS)
    return np.flatnonzero(keep)


def build_cells(data: FleetData, usable: IntArray, *, now: float, horizon_days: int) -> Cells:
    """The cells of the usable launches (see the module docstring)."""
    frame = data.launches
    n_apps = max(len(frame.apps), 1)
    n_versions = max(len(frame.versions), 1)
    day0 = (math.floor(now / DAY_SECONDS) - horizon_days) * DAY_SECONDS
    days = horizon_days + 1
    day = np.clip(((frame.started_at[usable] - day0) // DAY_SECONDS).astype(np.int64), 0, days - 1)
    code = frame.host[usable].astype(np.int64) * n_apps + frame.app[usable]
    code = (code * days + day) * 2 + frame.cold[usable]
    code = code * n_versions + frame.version[usable]
    medians = group_medians(code, np.log(frame.duration[usable]))
    rest, version = np.divmod(medians.group, n_versions)
    rest, cold = np.divmod(rest, 2)
    rest, cell_day = np.divmod(rest, days)
    host, app = np.divmod(rest, n_apps)
    cold_b = cold.astype(bool)
    return Cells(
        host=host,
        app=app,
        day=cell_day,
        cold=cold_b,
        version=version,
        count=medians.count,
        level=medians.median,
        resid=_residuals(host, app, cold_b, medians.median, n_apps),
        day0=day0,
        days=days,
        by_app=[np.flatnonzero(app == a) for a in range(len(frame.apps))],
    )


def _residuals(
    host: IntArray, app: IntArray, cold: BoolArray, level: FloatArray, n_apps: int
) -> FloatArray:
    series = (host * n_apps + app) * 2 + cold
    centres = group_medians(series, level)
    position = np.searchsorted(centres.group, series)
    return np.asarray(level - centres.median[position], dtype=np.float64)


def working_days(cells: Cells, share: float) -> BoolArray:
    """Per day of ``cells``: whether the fleet launched at least ``share`` of a usual day's
    launches (the median over the days with any), i.e. a working day.

    Weekends and holidays have few launches, mostly from always-on machines, and a different
    load on the machines: their daily medians are noisy and their pressure is low, so every
    series and window of the analysis reads working days only. Found in the data, not from a
    calendar (the advisor knows no holidays, no time zones); the day ``now`` falls in counts
    once it has had most of a day's launches (a run at 08:00 does not read its morning).

    >>> one = np.ones(3, dtype=np.int64)
    >>> c = Cells(one * 0, one * 0, np.array([0, 1, 2]), one == 0, one * 0,
    ...           np.array([90, 100, 8]), one * 0.0, one * 0.0, 0.0, 4, [])
    >>> working_days(c, 0.5).tolist()
    [True, True, False, False]
    """
    launches = np.bincount(cells.day, weights=cells.count, minlength=cells.days)
    seen = launches[launches > 0]
    if seen.size == 0:
        return np.zeros(cells.days, dtype=bool)
    return np.asarray(launches >= share * float(np.median(seen)), dtype=bool)


PRESSURE_CAUSES = ("memory", "swap", "disk_io", "cpu")


def pressure_grid(
    data: FleetData, *, day0: float, days: int, working: BoolArray | None = None
) -> FloatArray:
    """Daily pressure as a hosts x days x 4 array (columns as :data:`PRESSURE_CAUSES`; NaN
    where unreported, and on days that are not ``working`` (:func:`working_days`): a
    weekend's idle machines are no drop of pressure): 30 MB for 10,000 hosts x 91 days, and
    any host set's window is a slice."""
    p = data.pressure
    grid = np.full((len(data.launches.hosts), days, len(PRESSURE_CAUSES)), np.nan)
    day = ((p.day - day0) // DAY_SECONDS).astype(np.int64)
    inside = (day >= 0) & (day < days)
    columns = (p.memory_pressure, p.swap_in_bytes_per_second, p.io_pressure, p.cpu_pressure)
    for i, column in enumerate(columns):
        grid[p.host[inside], day[inside], i] = column[inside]
    if working is not None:
        grid[:, ~working, :] = np.nan
    return grid


def window_means(grid: FloatArray, hosts: IntArray, first: int, stop: int) -> FloatArray:
    """Per host of ``hosts`` (rows) each pressure's mean over days ``[first, stop)``."""
    part = grid[hosts, max(first, 0) : max(min(stop, grid.shape[1]), 0), :]
    return nan_mean(part, axis=1)


def nan_mean(values: FloatArray, axis: int) -> FloatArray:
    """The mean over ``axis`` ignoring NaN; NaN where nothing is left (and no warning)."""
    seen = np.isfinite(values)
    total = np.where(seen, values, 0.0).sum(axis=axis)
    count = seen.sum(axis=axis)
    return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan))
