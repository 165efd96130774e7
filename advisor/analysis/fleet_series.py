"""Change points and slow trends per app and department, on daily medians of warm launches.

A change-point search per raw host series is too slow at fleet scale (docs/analysis.md,
"Speed"), so each (app, department) becomes one series of about 90 points: per day, the
median over the department's hosts of their warm cell residuals (each host centred on its
own level, rollouts' estimated effects already removed, so a rollout is found once, as a
version change). Days with fewer than ``min_hosts_per_day`` hosts, and days that are not
working days (weekends, holidays: :func:`advisor.analysis.fleet_cells.working_days`), are
missing: their medians come from a few always-on machines.

- **Change points**: :func:`advisor.analysis.changepoints.detect_change_points` (PELT on
  normal scores, ``min_segment_days`` per segment: an outage of hours moves one day, never a
  segment). Each change point is then tested on the hosts: per host the median warm
  residual ``test_days`` before against after, Wilcoxon signed-rank over hosts (a p-value
  for the run's false discovery control); effect the median per-host shift, with a
  bootstrap interval over hosts. A change point within ``rollout_margin_days`` of a rollout
  of the app that moved at least a third of the department's hosts is that rollout.
- **Trends**: where no change point was found, or the segments either side of the one found
  still drift (a ramp, not a step): Theil-Sen and Mann-Kendall
  (:func:`advisor.analysis.trends.trend`); effect the drift over the series' span; ``since``
  the start of the CUSUM excursion still under way at the end (:func:`_onset`; a
  broken-stick fit, flat then linear, when there is none).
- **Hosts**: per app the ``host_candidates`` hosts whose level moved most between the first
  and the last ``period_days`` get their own search on their daily warm medians. The
  search sees the even days, the test (Mann-Whitney U before/after) the odd ones: a test on
  the data the search chose its split from would be optimistic.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from advisor.analysis.attribution import Attribution, attribute_window
from advisor.analysis.candidates import Candidate, quantiles
from advisor.analysis.changepoints import detect_change_points
from advisor.analysis.effects import median_shift
from advisor.analysis.fleet_cells import DAY_SECONDS, Cells
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.fleet_versions import VersionShift
from advisor.analysis.frames import FleetData
from advisor.analysis.groupby import bootstrap_median, group_medians
from advisor.analysis.trends import trend

__all__ = ["SeriesContext", "series_candidates"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SeriesContext:
    """What the series methods read besides the cells."""

    data: FleetData
    grid: FloatArray  # daily pressure, hosts x days x 4 (fleet_cells.pressure_grid)
    department: IntArray  # per host
    departments: list[str]
    shifts: list[VersionShift]
    params: FleetParameters
    working: BoolArray  # per day: a working day (fleet_cells.working_days); others are skipped


def series_candidates(cells: Cells, context: SeriesContext) -> list[Candidate]:
    """Change-point and trend candidates per (app, department), and per moving host."""
    params = context.params
    n_depts = max(len(context.departments), 1)
    apps = context.data.launches.apps
    warm = np.flatnonzero(~cells.cold & context.working[cells.day])
    dept = context.department[cells.host[warm]]
    code = (cells.app[warm] * n_depts + dept) * cells.days + cells.day[warm]
    medians = group_medians(code, cells.resid[warm])
    matrix = np.full((len(apps) * n_depts, cells.days), np.nan)
    enough = medians.count >= params.min_hosts_per_day
    rows, days = np.divmod(medians.group[enough], cells.days)
    matrix[rows, days] = medians.median[enough]

    found: list[Candidate] = []
    for row in range(matrix.shape[0]):
        series = matrix[row]
        if np.isfinite(series).sum() < params.min_days:
            continue
        app, d = divmod(row, n_depts)
        found.extend(_department_series(cells, context, app, d, series))
    for app in range(len(apps)):
        found.extend(_host_series(cells, context, app))
    return found


def _department_series(
    cells: Cells, context: SeriesContext, app: int, dept: int, series: FloatArray
) -> list[Candidate]:
    params = context.params
    detection = detect_change_points(
        np.exp(series),
        min_size=params.min_segment_days,
        penalty_factor=params.penalty_factor,
        intervals=False,
    )
    rows = cells.by_app[app]
    rows = rows[~cells.cold[rows] & (context.department[cells.host[rows]] == dept)]
    rows = rows[context.working[cells.day[rows]]]
    scope = {"department": context.departments[dept]}
    found: list[Candidate] = []
    ramp = bool(detection.change_points) and _ramp(series, detection.indices, params)
    for cp in [] if ramp else detection.change_points:
        if _is_rollout(cells, context, app, dept, cp.index):
            continue
        candidate = _step(cells, context, rows, app, cp.index, scope)
        if candidate is not None:
            found.append(candidate)
    if not detection.change_points or ramp:
        candidate = _trend(cells, context, rows, app, series, scope)
        if candidate is not None:
            found.append(candidate)
    return found


def _is_rollout(cells: Cells, context: SeriesContext, app: int, dept: int, day: int) -> bool:
    at = cells.day0 + day * DAY_SECONDS
    margin = context.params.rollout_margin_days * DAY_SECONDS
    dept_hosts = np.unique(cells.host[cells.by_app[app]])
    dept_hosts = dept_hosts[context.department[dept_hosts] == dept]
    for shift in context.shifts:
        if shift.app != app or dept_hosts.size == 0:
            continue
        inside = context.department[shift.hosts] == dept
        if not inside.any():
            continue
        times = shift.at[inside]
        near = times.min() - margin <= at <= times.max() + margin
        if near and inside.sum() >= dept_hosts.size / 3:
            return True
    return False


def _ramp(series: FloatArray, indices: list[int], params: FleetParameters) -> bool:
    """Whether the segments between the change points still drift the way the whole series
    does (the median of their slopes at least half the whole's): a ramp that the search
    approximated by steps."""
    days = np.flatnonzero(np.isfinite(series))
    whole = stats.theilslopes(series[days], days)[0]
    if whole == 0:
        return False
    bounds = [0, *indices, series.size]
    slopes = []
    for lo, hi in itertools.pairwise(bounds):
        part = days[(days >= lo) & (days < hi)]
        if part.size >= params.min_segment_days:
            slopes.append(stats.theilslopes(series[part], part)[0] / whole)
    return bool(slopes) and float(np.median(slopes)) >= 0.5


def _per_host_shift(
    cells: Cells, rows: IntArray, start: int, stop_before: int, stop_after: int
) -> tuple[IntArray, FloatArray, IntArray]:
    """Per host, median residual in [stop_before, start) against [start, stop_after)."""
    day = cells.day[rows]
    inside = (day >= stop_before) & (day < stop_after)
    rows = rows[inside]
    side = (cells.day[rows] >= start).astype(np.int64)
    medians = group_medians(cells.host[rows] * 2 + side, cells.resid[rows])
    host, after = np.divmod(medians.group, 2)
    ok = medians.count >= 2
    before_hosts, after_hosts = host[ok & (after == 0)], host[ok & (after == 1)]
    both = np.intersect1d(before_hosts, after_hosts)
    b = medians.median[ok & (after == 0)][np.searchsorted(before_hosts, both)]
    a = medians.median[ok & (after == 1)][np.searchsorted(after_hosts, both)]
    counts = np.bincount(cells.host[rows][side == 1], weights=cells.count[rows][side == 1])
    after_launches = counts[both] if counts.size else np.zeros(both.size)
    return both, a - b, after_launches.astype(np.int64)


def _step(
    cells: Cells,
    context: SeriesContext,
    rows: IntArray,
    app: int,
    day: int,
    scope: dict[str, str],
) -> Candidate | None:
    params = context.params
    hosts, shift, after_launches = _per_host_shift(
        cells, rows, day, day - params.test_days, day + params.test_days
    )
    if hosts.size < params.min_hosts or after_launches.sum() < params.min_after:
        return None
    if np.all(shift == 0):
        return None
    p_value = float(stats.wilcoxon(shift).pvalue)
    estimate = float(np.median(shift))
    affected = hosts[(np.sign(shift) == np.sign(estimate)) & (np.abs(shift) >= abs(estimate) / 2)]
    since = cells.day0 + day * DAY_SECONDS
    cause = attribute_window(
        context.grid,
        affected,
        app,
        day0=cells.day0,
        split=day,
        before=(day - params.test_days, day),
        after=(day, day + params.test_days),
        shifts=context.shifts,
        params=params,
    )
    return _series_candidate(
        "change_point",
        cells,
        rows,
        context,
        app,
        scope,
        p_value,
        estimate,
        affected,
        since,
        cause,
        day,
        shift,
        "PELT on daily medians of warm residuals; per-host Wilcoxon test",
    )


def _trend(
    cells: Cells,
    context: SeriesContext,
    rows: IntArray,
    app: int,
    series: FloatArray,
    scope: dict[str, str],
) -> Candidate | None:
    params = context.params
    days = np.flatnonzero(np.isfinite(series))
    result = trend(days * DAY_SECONDS, np.exp(series[days]), alpha=params.alpha)
    if not math.isfinite(result.p_value):
        return None
    span = float(days[-1] - days[0])
    estimate = result.slope_per_day * span
    start = _onset(days.astype(np.float64), series[days], float(np.sign(estimate)), params)
    start = (
        int(days[start])
        if start is not None
        else _hinge_start(days.astype(np.float64), series[days], params.min_segment_days)
    )
    hosts = np.unique(cells.host[rows])
    cause = attribute_window(
        context.grid,
        hosts,
        app,
        day0=cells.day0,
        split=start,
        before=(cells.first_day, cells.first_day + params.period_days),
        after=(cells.days - params.period_days, cells.days),
        shifts=context.shifts,
        params=params,
    )
    low30, high30 = result.interval

    def interval() -> tuple[float, float]:
        return (math.log1p(low30) / 30 * span, math.log1p(high30) / 30 * span)

    candidate = _series_candidate(
        "trend",
        cells,
        rows,
        context,
        app,
        scope,
        result.p_value,
        estimate,
        hosts,
        cells.day0 + start * DAY_SECONDS,
        cause,
        start,
        None,
        "Theil-Sen slope and Mann-Kendall test on daily medians of warm residuals",
    )
    candidate.interval = interval
    candidate.detail["relative_per_30_days"] = round(result.relative_per_30_days, 4)
    return candidate


def _onset(
    days: FloatArray, values: FloatArray, direction: float, params: FleetParameters
) -> int | None:
    """Where the drift began: the position of the first point of the one-sided CUSUM
    excursion (Page 1954) still under way at the end of ``values``; None when it does not
    reach ``onset_threshold``.

    The reference is the median of the first ``min_segment_days`` points, the scale the
    normal-consistent MAD of the series around its Theil-Sen line (daily medians are
    quantised, which makes the MAD of successive differences too small); each point adds
    its excess over the reference, less an allowance of ``onset_allowance`` scales, and the
    sum restarts at zero when it falls below. A slow drift hides in the noise at first, so
    any estimate of its start is uncertain by days; this one errs late (the drift must first
    exceed the allowance) where a broken-stick fit often put it under the first noisy days,
    and points already read keep their place in the sum: a run with more data keeps it.

    >>> x = np.r_[np.zeros(20), np.linspace(0.0, 1.0, 20)] + 0.05 * np.sin(np.arange(40))
    >>> _onset(np.arange(40.0), x, 1.0, FleetParameters())
    25
    """
    if values.size <= params.min_segment_days:
        return None
    slope, *_ = stats.theilslopes(values, days)
    scale = float(stats.median_abs_deviation(values - slope * days, scale="normal"))
    if scale == 0:
        return None
    reference = float(np.median(values[: params.min_segment_days]))
    excess = direction * (values - reference) / scale - params.onset_allowance
    total, start = 0.0, 0
    for i, e in enumerate(excess.tolist()):
        total = max(total + e, 0.0)
        if total == 0.0:
            start = i + 1
    if total < params.onset_threshold or start >= values.size:
        return None
    return start


def _hinge_start(days: FloatArray, values: FloatArray, margin: int) -> int:
    """The start of a broken stick (flat, then linear) fitted by least squares to the series."""
    best, best_sse = int(days[0]), math.inf
    for start in days[: max(days.size - margin, 1)]:
        x = np.maximum(days - start, 0.0)
        design = np.column_stack([np.ones_like(x), x])
        _, residual, *_ = np.linalg.lstsq(design, values, rcond=None)
        sse = float(residual[0]) if residual.size else 0.0
        if sse < best_sse:
            best, best_sse = int(start), sse
    return best


def _series_candidate(
    kind: str,
    cells: Cells,
    rows: IntArray,
    context: SeriesContext,
    app: int,
    scope: dict[str, str],
    p_value: float,
    estimate: float,
    hosts: IntArray,
    since: float,
    cause: Attribution,
    day: int,
    shift: FloatArray | None,
    method: str,
) -> Candidate:
    params = context.params
    day_of = cells.day[rows]
    before = rows[(day_of < day) & (day_of >= day - params.test_days)]
    after = rows[(day_of >= day) & (day_of < day + params.test_days)]
    seed = params.seed + app * 1009 + day

    def interval() -> tuple[float, float]:
        if shift is None:
            return math.nan, math.nan
        return bootstrap_median(
            shift, confidence=params.confidence, n_resamples=params.n_resamples, seed=seed
        )

    return Candidate(
        kind="trend" if kind == "trend" else "change_point",
        app=context.data.launches.apps[app],
        scope=dict(scope),
        p_value=p_value,
        estimate=estimate,
        hosts=hosts,
        since=since,
        before=quantiles(cells.level[before], int(cells.count[before].sum())),
        after=quantiles(cells.level[after], int(cells.count[after].sum())),
        cause=cause.cause,
        confidence=cause.confidence,
        method=method,
        interval=interval,
        detail={"hosts_tested": float(hosts.size), **cause.detail},
    )


def _host_series(cells: Cells, context: SeriesContext, app: int) -> list[Candidate]:
    params = context.params
    if params.host_candidates < 1:
        return []
    rows = cells.by_app[app]
    rows = rows[~cells.cold[rows] & context.working[cells.day[rows]]]
    # Early period against late period: the hosts whose level moved most.
    # Chosen on even days only, like the search: the odd days stay unseen for the test.
    even = rows[cells.day[rows] % 2 == 0]
    early = even[cells.day[even] < cells.first_day + params.period_days]
    late = even[cells.day[even] >= cells.days - params.period_days]
    e = group_medians(cells.host[early], cells.resid[early])
    la = group_medians(cells.host[late], cells.resid[late])
    both = np.intersect1d(e.group, la.group)
    if both.size == 0:
        return []
    change = la.median[np.searchsorted(la.group, both)] - e.median[np.searchsorted(e.group, both)]
    top = both[np.argsort(-np.abs(change))[: params.host_candidates]]
    found: list[Candidate] = []
    host_ids = context.data.launches.hosts.host_id
    for host in top.tolist():
        own = rows[cells.host[rows] == host]
        series = np.full(cells.days, np.nan)
        series[cells.day[own]] = cells.level[own]
        if np.isfinite(series).sum() < params.min_days:
            continue
        # Sample split: the search sees even days, the test odd ones, so the test is not
        # fooled by the search having picked the split that differs most.
        search = np.where(np.arange(cells.days) % 2 == 0, series, np.nan)
        detection = detect_change_points(
            np.exp(search),
            min_size=max(params.min_segment_days // 2, 2),
            penalty_factor=params.penalty_factor,
            intervals=False,
        )
        if len(detection.change_points) != 1:
            continue
        day = detection.change_points[0].index
        odd = own[cells.day[own] % 2 == 1]
        before, after = odd[cells.day[odd] < day], odd[cells.day[odd] >= day]
        if before.size < 2 or int(cells.count[own[cells.day[own] >= day]].sum()) < params.min_after:
            continue
        p_raw = float(stats.mannwhitneyu(cells.level[after], cells.level[before]).pvalue)
        estimate = float(np.median(cells.level[after]) - np.median(cells.level[before]))
        cause = attribute_window(
            context.grid,
            np.array([host]),
            app,
            day0=cells.day0,
            split=day,
            before=(day - params.test_days, day),
            after=(day, day + params.test_days),
            shifts=context.shifts,
            params=params,
        )
        candidate = _series_candidate(
            "change_point",
            cells,
            own,
            context,
            app,
            {"host": host_ids[host]},
            p_raw,
            estimate,
            np.array([host]),
            cells.day0 + day * DAY_SECONDS,
            cause,
            day,
            None,
            "PELT on the host's even-day warm medians; Mann-Whitney U on its odd days",
        )
        a_levels, b_levels = cells.level[after], cells.level[before]
        seed = params.seed + host

        def interval(
            a: FloatArray = a_levels, b: FloatArray = b_levels, s: int = seed
        ) -> tuple[float, float]:
            result = median_shift(
                b, a, confidence=params.confidence, n_resamples=params.n_resamples, seed=s
            )
            return result.low, result.high

        candidate.interval = interval
        found.append(candidate)
    return found
