"""Daily rows as cells: the median log load time per host, app, day, start kind and version.

Every fleet method reads cells, never launches: the store keeps launches as daily rows
(:mod:`advisor.analysis.daily`) and the analysis reads them through
:func:`advisor.analysis.daily.daily_of`, so the same code runs on the store's rollups and on
launches a test or the simulator made. 10,000 hosts x 20 apps x 90 days are at most 36
million cells per start kind, and a cell's median is already robust to a launch's heavy tail
(a 60 s timeout moves it no more than any other slow launch). ``resid`` is a cell's level
less the median level of its host, app and start kind, so series pooled over hosts compare
each host with itself and a day on which only always-on machines report (a weekend) is not a
change of mix.

Days count from ``day0``, the UTC day ``horizon_days`` before the day of ``now``; rows dated
after the day of ``now`` (a skewed clock) are left out. A row is a whole day, so launches of
the day of ``now`` that a skewed clock dated after ``now`` itself stay in: at most one day's
launches of a few hosts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from advisor.analysis.daily import DailyLaunches
from advisor.analysis.findings import Quantiles
from advisor.analysis.frames import FleetData
from advisor.analysis.groupby import group_medians, weighted_quantiles

__all__ = [
    "DAY_SECONDS",
    "PRESSURE_CAUSES",
    "Cells",
    "build_cells",
    "cell_quantiles",
    "host_window_means",
    "nan_mean",
    "pressure_grid",
    "sides_of",
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
    (Unix seconds of the first UTC day analysed), ``level`` is the median log load time
    (rollouts' effects removed once :func:`advisor.analysis.fleet_versions.without_rollouts`
    has run), ``source[row]`` the daily row each cell comes from (its raw quantiles)."""

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
    source: DailyLaunches
    row: IntArray  # index into ``source``

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
            self.source,
            self.row,
        )


def build_cells(daily: DailyLaunches, *, now: float, horizon_days: int) -> Cells:
    """The cells of ``daily``'s rows from ``horizon_days`` before the day of ``now`` to that
    day (see the module docstring)."""
    n_apps = max(len(daily.apps), 1)
    today = math.floor(now / DAY_SECONDS)
    day0 = (today - horizon_days) * DAY_SECONDS
    days = horizon_days + 1
    day = daily.day.astype(np.int64) - (today - horizon_days)
    row = np.flatnonzero((day >= 0) & (day < days) & (daily.count > 0))
    host = daily.host[row].astype(np.int64)
    app = daily.app[row].astype(np.int64)
    cold = daily.cold[row].astype(bool)
    level = daily.median[row].astype(np.float64)
    return Cells(
        host=host,
        app=app,
        day=day[row],
        cold=cold,
        version=daily.version[row].astype(np.int64),
        count=daily.count[row].astype(np.int64),
        level=level,
        resid=_residuals(host, app, cold, level, n_apps),
        day0=day0,
        days=days,
        by_app=_rows_by_app(app, len(daily.apps)),
        source=daily,
        row=row,
    )


def _rows_by_app(app: IntArray, n_apps: int) -> list[IntArray]:
    order = np.argsort(app, kind="stable")
    bounds = np.searchsorted(app[order], np.arange(n_apps + 1))
    return [order[bounds[a] : bounds[a + 1]] for a in range(n_apps)]


MAX_QUANTILE_ROWS = 20_000  # rows read for a distribution's quantiles (evenly spread)


def cell_quantiles(cells: Cells, rows: IntArray) -> Quantiles:
    """10/50/90 % quantiles in seconds of the launches behind ``rows`` (raw load times).

    Each row stands for its launches by its own five quantiles (10, 25, 50, 75, 90 %), each
    carrying a fifth of its launch count: the mixture of the days' distributions, close to
    the quantiles of the launches themselves. Beyond ``MAX_QUANTILE_ROWS`` rows an evenly
    spread subset of them is read (a tier of a large fleet has millions).
    """
    count = int(cells.count[rows].sum())
    if rows.size == 0:
        return Quantiles(count, math.nan, math.nan, math.nan)
    if rows.size > MAX_QUANTILE_ROWS:
        rows = rows[:: math.ceil(rows.size / MAX_QUANTILE_ROWS)]
    source, at = cells.source, cells.row[rows]
    values = np.concatenate(
        [source.p10[at], source.p25[at], source.median[at], source.p75[at], source.p90[at]]
    )
    weights = np.tile(cells.count[rows].astype(np.float64), 5)
    p10, p50, p90 = np.exp(weighted_quantiles(values, weights, [0.1, 0.5, 0.9]))
    return Quantiles(count, float(p10), float(p50), float(p90))


def sides_of(
    cells: Cells, rows: Callable[[], tuple[IntArray, IntArray]]
) -> Callable[[], tuple[Quantiles, Quantiles]]:
    """A candidate's ``sides``: the quantiles of the rows before and after that ``rows``
    gives, computed when asked (for findings, not for every test)."""

    def sides() -> tuple[Quantiles, Quantiles]:
        before, after = rows()
        return cell_quantiles(cells, before), cell_quantiles(cells, after)

    return sides


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
    ...           np.array([90, 100, 8]), one * 0.0, one * 0.0, 0.0, 4, [], None, one)
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


def host_window_means(
    grid: FloatArray, hosts: IntArray, first: IntArray, stop: IntArray
) -> FloatArray:
    """Per entry of ``hosts`` (rows; a host may come twice) each pressure's mean over its
    own days ``[first, stop)`` (clipped to the grid; NaN where nothing is left), from
    cumulative sums: one pass over the grid for any number of windows.

    >>> g = np.arange(12, dtype=float).reshape(1, 6, 2)
    >>> host_window_means(g, np.array([0, 0]), np.array([0, 4]), np.array([2, 9])).tolist()
    [[1.0, 2.0], [9.0, 10.0]]
    """
    seen = np.isfinite(grid)
    total = np.concatenate(
        [np.zeros_like(grid[:, :1]), np.cumsum(np.where(seen, grid, 0.0), axis=1)], axis=1
    )
    count = np.concatenate(
        [np.zeros(seen[:, :1].shape), np.cumsum(seen, axis=1, dtype=np.float64)], axis=1
    )
    lo = np.clip(first, 0, grid.shape[1])
    hi = np.clip(stop, lo, grid.shape[1])
    sums = total[hosts, hi] - total[hosts, lo]
    counts = count[hosts, hi] - count[hosts, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))


def nan_mean(values: FloatArray, axis: int) -> FloatArray:
    """The mean over ``axis`` ignoring NaN; NaN where nothing is left (and no warning)."""
    seen = np.isfinite(values)
    total = np.where(seen, values, 0.0).sum(axis=axis)
    count = seen.sum(axis=axis)
    return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan))
