"""Change points and slow trends per app and department, on daily medians over hosts.

A change-point search per raw host series is too slow at fleet scale (docs/analysis.md,
"Speed"), so each (app, department) and start kind becomes one series of about 90 points:
per day, the median over the department's hosts of their cell residuals of that kind (each
host centred on its own level, rollouts' effects already removed per start kind at each
host's own change, so a rollout is found once, as a version change, and a pilot group that
upgraded first is no drift). Days with fewer than ``min_hosts_per_day`` hosts, and days that
are not working days (weekends, holidays: :func:`advisor.analysis.fleet_cells.working_days`),
are missing: their medians come from a few always-on machines.

- **Change points**: :func:`advisor.analysis.changepoints.detect_change_points` (PELT on
  normal scores, ``min_segment_days`` per segment: an outage of hours moves one day, never a
  segment) on the warm and on the cold series; change points of the two within half a
  segment are one. Each is then tested on the hosts, per start kind: per host the median
  residual ``test_days`` before against after; one candidate for both kinds, or one per
  kind when the hosts' cold shifts differ from their warm ones
  (:mod:`advisor.analysis.start_kinds`); effect the trimmed mean of the per-host shifts,
  Wilcoxon signed-rank over hosts, a bootstrap interval over hosts
  (:mod:`advisor.analysis.host_effects`); the candidate names every host measured. A change
  point within ``rollout_margin_days`` of a rollout of the app that moved at least a third
  of the department's hosts is that rollout.
- **Trends**: where neither kind has a step, or the segments either side still drift (a
  ramp, not a step): Theil-Sen and Mann-Kendall (:func:`advisor.analysis.trends.trend`) on
  the daily medians of both kinds (each host's mean over the kinds it launched that day),
  or of each kind when the hosts' moves between the first and the last ``period_days``
  differ by kind; effect the drift over the series' span; ``since`` the start of the CUSUM
  excursion still under way at the end (:func:`_onset`; a broken-stick fit, flat then
  linear, when there is none).
- **Re-measuring**: a department candidate can be measured again without some hosts
  (``Candidate.remeasure``), when a pressure finding names them (:mod:`advisor.analysis.fleet`).
- **Hosts**: per app the ``host_candidates`` hosts whose level moved most between the first
  and the last ``period_days`` get their own search on their daily warm medians. The
  search sees the even days, the test (Mann-Whitney U before/after) the odd ones: a test on
  the data the search chose its split from would be optimistic. The finding is about warm
  starts (``start`` ``warm``) unless the host's odd-day cold starts moved alike.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from advisor.analysis.attribution import Attribution, attribute_window
from advisor.analysis.candidates import Candidate
from advisor.analysis.changepoints import detect_change_points
from advisor.analysis.effects import median_shift
from advisor.analysis.fleet_cells import DAY_SECONDS, Cells, sides_of
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.fleet_versions import VersionShift
from advisor.analysis.frames import FleetData
from advisor.analysis.groupby import group_means, group_medians
from advisor.analysis.host_effects import host_interval, signed_rank_p, trimmed_mean
from advisor.analysis.start_kinds import both_kinds, kinds_differ, terms_differ, with_start
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
    found: list[Candidate] = []
    for app, rows in enumerate(cells.by_app):
        rows = rows[context.working[cells.day[rows]]]
        dept_of = context.department[cells.host[rows]]
        for dept in range(len(context.departments)):
            mine = rows[dept_of == dept]
            if mine.size:
                found.extend(_department_series(cells, context, app, dept, mine))
        found.extend(_host_series(cells, context, app))
    return found


def daily_series(
    cells: Cells, rows: IntArray, kind: int | None, params: FleetParameters
) -> FloatArray:
    """Per day, the median over hosts of their residuals of start ``kind`` (None: each host's
    mean over the kinds it launched that day); NaN on days with fewer than
    ``min_hosts_per_day`` hosts."""
    if kind is not None:
        rows = rows[cells.cold[rows] == bool(kind)]
        medians = group_medians(cells.day[rows], cells.resid[rows])
    else:
        code = cells.host[rows] * cells.days + cells.day[rows]
        hosts_days, position = np.unique(code, return_inverse=True)
        mean = group_means(position.reshape(-1), cells.resid[rows], hosts_days.size)
        medians = group_medians(hosts_days % cells.days, mean)
    series = np.full(cells.days, np.nan)
    enough = medians.count >= params.min_hosts_per_day
    series[medians.group[enough]] = medians.median[enough]
    return series


def _department_series(
    cells: Cells, context: SeriesContext, app: int, dept: int, rows: IntArray
) -> list[Candidate]:
    """Searches the department's warm and cold series; tests each change point found on the
    hosts, per start kind; a trend where neither kind has a step."""
    params = context.params
    scope = {"department": context.departments[dept]}
    steps: list[int] = []
    searched = False
    for kind in (0, 1):
        series = daily_series(cells, rows, kind, params)
        if np.isfinite(series).sum() < params.min_days:
            continue
        searched = True
        detection = detect_change_points(
            np.exp(series),
            min_size=params.min_segment_days,
            penalty_factor=params.penalty_factor,
            intervals=False,
        )
        if detection.change_points and _ramp(series, detection.indices, params):
            continue
        margin = params.min_segment_days // 2
        steps.extend(
            i for i in detection.indices if all(abs(i - other) > margin for other in steps)
        )
    if not searched:
        return []
    found: list[Candidate] = []
    for day in sorted(steps):
        if not _is_rollout(cells, context, app, dept, day):
            found.extend(_steps(cells, context, rows, app, day, scope))
    if not steps:
        found.extend(_trends(cells, context, rows, app, scope))
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
    """Per host, median residual in [stop_before, start) against [start, stop_after), and its
    launches after."""
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


def _by_kind(
    cells: Cells,
    rows: IntArray,
    per_kind: Callable[[IntArray], tuple[IntArray, FloatArray, IntArray]],
) -> tuple[IntArray, FloatArray, IntArray]:
    """``per_kind`` (hosts, values, launches) for warm and cold rows, aligned on the union of
    hosts: hosts, values (hosts x 2, NaN where a host has no value) and launches (hosts x 2)."""
    parts = [per_kind(rows[cells.cold[rows] == bool(kind)]) for kind in (0, 1)]
    hosts = np.union1d(parts[0][0], parts[1][0])
    values = np.full((hosts.size, 2), np.nan)
    launches = np.zeros((hosts.size, 2), dtype=np.int64)
    for kind, (h, v, n) in enumerate(parts):
        at = np.searchsorted(hosts, h)
        values[at, kind] = v
        launches[at, kind] = n
    return hosts, values, launches


def _steps(
    cells: Cells,
    context: SeriesContext,
    rows: IntArray,
    app: int,
    day: int,
    scope: dict[str, str],
) -> list[Candidate]:
    """The change point at ``day`` tested on the hosts: one candidate for both start kinds,
    or one per kind when the hosts' cold and warm shifts differ."""
    params = context.params
    hosts, values, launches = _by_kind(
        cells,
        rows,
        lambda r: _per_host_shift(cells, r, day, day - params.test_days, day + params.test_days),
    )
    split = kinds_differ(values[:, 1] - values[:, 0], params)
    found = []
    for kind in (1, 0) if split else (None,):
        shift = both_kinds(values[:, 0], values[:, 1]) if kind is None else values[:, kind]
        after = launches.sum(axis=1) if kind is None else launches[:, kind]
        candidate = _step(
            cells, context, rows, app, day, with_start(scope, kind), kind, hosts, shift, after
        )
        if candidate is not None:
            found.append(candidate)
    return found


def _step(
    cells: Cells,
    context: SeriesContext,
    rows: IntArray,
    app: int,
    day: int,
    scope: dict[str, str],
    kind: int | None,
    hosts: IntArray,
    shift: FloatArray,
    after_launches: IntArray,
    remeasurable: bool = True,
) -> Candidate | None:
    """A change-point candidate measured on ``hosts`` (those with a finite ``shift``)."""
    params = context.params
    measured = np.isfinite(shift)
    hosts, shift, after_launches = hosts[measured], shift[measured], after_launches[measured]
    if hosts.size < params.min_hosts or after_launches.sum() < params.min_after:
        return None
    if np.all(shift == 0):
        return None
    estimate = trimmed_mean(shift)
    p_value = signed_rank_p(shift)
    affected = hosts[(np.sign(shift) == np.sign(estimate)) & (np.abs(shift) >= abs(estimate) / 2)]
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
    kind_rows = rows if kind is None else rows[cells.cold[rows] == bool(kind)]
    candidate = _series_candidate(
        "change_point",
        cells,
        kind_rows[np.isin(cells.host[kind_rows], hosts)],
        context,
        app,
        scope,
        p_value,
        estimate,
        hosts,
        cells.day0 + day * DAY_SECONDS,
        cause,
        day,
        shift,
        "PELT on daily medians of residuals per start kind; per-host shifts, trimmed mean, "
        "Wilcoxon signed-rank over hosts, bootstrap over hosts",
    )
    candidate.detail["affected_hosts"] = float(affected.size)
    if remeasurable:

        def remeasure(excluded: IntArray) -> Candidate | None:
            rest = ~np.isin(hosts, excluded)
            return _step(
                cells,
                context,
                rows,
                app,
                day,
                scope,
                kind,
                hosts[rest],
                shift[rest],
                after_launches[rest],
                remeasurable=False,
            )

        candidate.remeasure = remeasure
    return candidate


def _host_moves(
    cells: Cells, rows: IntArray, params: FleetParameters
) -> tuple[IntArray, FloatArray, IntArray]:
    """Per host, its median residual over the last ``period_days`` less over the first."""
    early = cells.first_day + params.period_days
    late = cells.days - params.period_days
    day = cells.day[rows]
    rows = rows[(day < early) | (day >= late)]
    return _per_host_shift(cells, rows, late, cells.first_day, cells.days)


def _trends(
    cells: Cells,
    context: SeriesContext,
    rows: IntArray,
    app: int,
    scope: dict[str, str],
) -> list[Candidate]:
    """A trend of both start kinds, or one per kind when the hosts' cold and warm moves
    between the first and the last period differ."""
    params = context.params
    _, moves, _ = _by_kind(cells, rows, lambda r: _host_moves(cells, r, params))
    split = kinds_differ(moves[:, 1] - moves[:, 0], params)
    found = []
    for kind in (1, 0) if split else (None,):
        kind_rows = rows if kind is None else rows[cells.cold[rows] == bool(kind)]
        candidate = _trend(cells, context, kind_rows, app, kind, with_start(scope, kind))
        if candidate is not None:
            found.append(candidate)
    return found


def _trend(
    cells: Cells,
    context: SeriesContext,
    rows: IntArray,
    app: int,
    kind: int | None,
    scope: dict[str, str],
    remeasurable: bool = True,
) -> Candidate | None:
    params = context.params
    series = daily_series(cells, rows, kind, params)
    days = np.flatnonzero(np.isfinite(series))
    if days.size < params.min_days:
        return None
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
        "Theil-Sen slope and Mann-Kendall test on daily medians of residuals over the "
        "department's hosts",
    )
    candidate.interval = interval
    candidate.detail["relative_per_30_days"] = round(result.relative_per_30_days, 4)
    if remeasurable:

        def remeasure(excluded: IntArray) -> Candidate | None:
            rest = rows[~np.isin(cells.host[rows], excluded)]
            return _trend(cells, context, rest, app, kind, scope, remeasurable=False)

        candidate.remeasure = remeasure
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

    def compared() -> tuple[IntArray, IntArray]:
        day_of = cells.day[rows]
        before = rows[(day_of < day) & (day_of >= day - params.test_days)]
        return before, rows[(day_of >= day) & (day_of < day + params.test_days)]

    seed = params.seed + app * 1009 + day + zlib.crc32(repr(sorted(scope.items())).encode())

    def interval() -> tuple[float, float]:
        if shift is None:
            return math.nan, math.nan
        return host_interval(
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
        sides=sides_of(cells, compared),
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
        scope = {"host": host_ids[host]}
        if _cold_differs(cells, app, host, day, estimate, params):
            scope["start"] = "warm"
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
            scope,
            p_raw,
            estimate,
            np.array([host]),
            cells.day0 + day * DAY_SECONDS,
            cause,
            day,
            None,
            "PELT on the host's even-day warm medians; Mann-Whitney U on its odd days; its "
            "odd-day cold starts say whether the change is the same for both kinds",
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


def _cold_differs(
    cells: Cells, app: int, host: int, day: int, warm: float, params: FleetParameters
) -> bool:
    """Whether the host's cold starts (odd working days, as the warm test) moved otherwise
    than its warm ones at ``day``, or cannot tell (fewer than 3 days a side): then the
    finding is about warm starts, the kind it was measured on."""
    rows = cells.by_app[app]
    rows = rows[(cells.host[rows] == host) & cells.cold[rows] & (cells.day[rows] % 2 == 1)]
    before = cells.level[rows[cells.day[rows] < day]]
    after = cells.level[rows[cells.day[rows] >= day]]
    if before.size < 3 or after.size < 3:
        return True
    cold = float(np.median(after) - np.median(before))
    # Each side's median has a normal-approximation standard error of 1.25 MAD-sigma/sqrt(n).
    spread = float(
        stats.median_abs_deviation(
            np.r_[before - np.median(before), after - np.median(after)], scale="normal"
        )
    )
    se = 1.2533 * spread * math.sqrt(1 / before.size + 1 / after.size)
    difference = cold - warm
    return terms_differ(difference, difference - 1.96 * se, difference + 1.96 * se, params)
