"""Version changes across the fleet: each moved host before against after its own change.

Read from daily rows (cells), hosts as the unit:

- **Per change** (host, app, from -> to, at): the host's rows of the app within
  ``window_days`` days either side of the change day (the UTC day of ``at``), cut at the
  host's previous and next change of the app. Before: rows of the old version (or an unknown
  one) on earlier days; after: rows of the new version (or an unknown one) on later days; on
  the change day itself only rows whose version says which side they are on. Per start kind,
  the host's level on each side is the median of its days' medians weighted by their launch
  counts, and **the host's shift** is after less before: the host compared with itself, so
  fast machines upgrading first is no shift. A host's kind needs ``min_before`` launches
  before and one after.
- **Per rollout** (app, from, to): the per-host shifts of each start kind
  (:mod:`advisor.analysis.host_effects`): effect their 20 % trimmed mean, interval a
  bootstrap over hosts, p-value Wilcoxon's signed-rank test over hosts. Cold and warm starts
  are one finding when they moved alike, one each when the hosts' cold shifts differ from
  their warm ones (:func:`advisor.analysis.start_kinds.kinds_differ`); a finding about both
  kinds averages each host's two shifts. ``min_after`` launches after (from the rows'
  counts) and ``min_hosts`` hosts are needed.
- **Hosts whose pressure moved**: a host whose memory, swap, io or cpu pressure rose between
  its own two windows (:func:`advisor.analysis.attribution.pressure_causes`) moved for two
  reasons at once; its shift is left out of the effect (and the finding does not name it)
  unless that leaves fewer than half of the hosts, or fewer than ``min_hosts`` (a pressure
  that rose with the change on most hosts is likely the version's own doing). A host whose
  pressure is unknown (a pressure the fleet reports, such as PSI, not measured on it) is
  left out too, and does not count in that half. A rollout during a memory-pressure ramp on
  low-RAM machines is measured on the others.
- **Departments**: the same on a department's hosts, reported apart only where its effect
  differs from the pooled one by at least ``min_effect`` and its interval excludes it.
- **Control**: hosts of the app that did not change around the rollout's median change time,
  compared across it on their daily levels of the finding's kind. When they moved as much as
  the movers, the period (pressure, a trend) explains it, not the version: the confidence
  drops, and below half the cause is ``unknown``.

:func:`without_rollouts` then removes every rollout's effect from the cells, per start kind,
at each host's own change (docs/analysis.md, "Rollouts"), before any series is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from advisor.analysis.attribution import calm_hosts, pressure_causes, reported
from advisor.analysis.candidates import Candidate
from advisor.analysis.fleet_cells import DAY_SECONDS, Cells, host_window_means, sides_of
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.frames import UNKNOWN_VERSION, VersionChanges
from advisor.analysis.groupby import group_medians, group_weighted_medians
from advisor.analysis.host_effects import host_interval, signed_rank_p, trimmed_mean
from advisor.analysis.start_kinds import both_kinds, kinds_differ, with_start

__all__ = [
    "HostShifts",
    "VersionShift",
    "host_shifts",
    "pressure_moved",
    "version_candidates",
    "without_rollouts",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class VersionShift:
    """A rollout's estimated effect per start kind (log scale) on the hosts that made it,
    removed from the cells before any series is built (so a rollout is not found twice)."""

    app: int
    hosts: IntArray  # every host that made the change (a host twice if it made it twice)
    at: FloatArray  # per host: when (Unix seconds)
    change_day: IntArray  # per host: the day of ``at``, counted from the cells' ``day0``
    to_version: int
    warm: float
    cold: float


@dataclass(frozen=True)
class HostShifts:
    """Every change's per-host shifts, the changes sorted by (host, app, time).

    ``shift``, ``before`` and ``after`` are changes x start kinds (0 warm, 1 cold): the
    host's shift (NaN where it cannot be measured) and its launches before and after.
    ``rows`` are the cells compared, ``change`` the change and ``after_side`` the side of each.
    """

    host: IntArray
    app: IntArray
    at: FloatArray
    change_day: IntArray
    from_version: IntArray
    to_version: IntArray
    shift: FloatArray
    before: IntArray
    after: IntArray
    rows: IntArray
    change: IntArray
    after_side: BoolArray


def host_shifts(
    cells: Cells, changes: VersionChanges, *, now: float, params: FleetParameters
) -> HostShifts | None:
    """Each change's per-host, per-kind shift (see the module docstring); None without any
    change in reach of the cells."""
    window = math.ceil(params.window_days)
    n_apps = max(len(cells.by_app), 1)
    keep = (
        (changes.at <= now)
        & (changes.at >= cells.day0 - window * DAY_SECONDS)
        & (changes.from_version != changes.to_version)
    )
    if not keep.any():
        return None
    host = changes.host[keep].astype(np.int64)
    app = changes.app[keep].astype(np.int64)
    at = changes.at[keep].astype(np.float64)
    series = host * n_apps + app
    order = np.lexsort((at, series))
    host, app, at, series = host[order], app[order], at[order], series[order]
    from_v = changes.from_version[keep][order].astype(np.int64)
    to_v = changes.to_version[keep][order].astype(np.int64)
    change_day = np.floor((at - cells.day0) / DAY_SECONDS).astype(np.int64)
    same_prev = np.r_[False, series[1:] == series[:-1]]
    same_next = np.r_[series[:-1] == series[1:], False]
    lo = np.maximum(
        change_day - window, np.where(same_prev, np.r_[0, change_day[:-1]] + 1, -(2**40))
    )
    hi = np.minimum(change_day + window, np.where(same_next, np.r_[change_day[1:], 0] - 1, 2**40))

    n_series = (int(cells.host.max(initial=0)) + 1) * n_apps
    moved = np.zeros(max(n_series, int(series.max()) + 1), dtype=bool)
    moved[series] = True
    cell_series = cells.host * n_apps + cells.app
    subset = np.flatnonzero(moved[cell_series])
    r_series, r_day = cell_series[subset], cells.day[subset]
    version = cells.version[subset]
    offset = window + 2
    span = cells.days + 2 * offset + 2
    change_key = series * span + (change_day + offset)
    position = np.searchsorted(change_key, r_series * span + (r_day + offset), side="right")

    a = np.maximum(position - 1, 0)
    own_a = (position > 0) & (series[a] == r_series) & (r_day <= hi[a])
    later = r_day > change_day[a]
    on_day = r_day == change_day[a]
    after_ok = own_a & (
        (later & ((version == to_v[a]) | (version == UNKNOWN_VERSION)))
        | (on_day & (version == to_v[a]))
    )
    on_day_before = own_a & on_day & (version == from_v[a])
    b = np.minimum(position, at.size - 1)
    before_ok = (
        (position < at.size)
        & (series[b] == r_series)
        & (r_day >= lo[b])
        & ((version == from_v[b]) | (version == UNKNOWN_VERSION))
    )
    before_change = np.where(on_day_before, a, b)
    before_ok |= on_day_before

    rows = np.concatenate([subset[before_ok], subset[after_ok]])
    change = np.concatenate([before_change[before_ok], a[after_ok]])
    after_side = np.r_[np.zeros(int(before_ok.sum()), bool), np.ones(int(after_ok.sum()), bool)]
    kind = cells.cold[rows].astype(np.int64)
    code = (change * 2 + kind) * 2 + after_side
    medians = group_weighted_medians(code, cells.level[rows], cells.count[rows])
    level = np.full(at.size * 4, np.nan)
    launches = np.zeros(at.size * 4, dtype=np.int64)
    level[medians.group] = medians.median
    launches[medians.group] = medians.count
    level, launches = level.reshape(-1, 2, 2), launches.reshape(-1, 2, 2)
    before_n, after_n = launches[:, :, 0], launches[:, :, 1]
    shift = level[:, :, 1] - level[:, :, 0]
    shift[(before_n < params.min_before) | (after_n < 1)] = np.nan
    return HostShifts(
        host, app, at, change_day, from_v, to_v, shift, before_n, after_n, rows, change, after_side
    )


def pressure_moved(
    grid: FloatArray, shifts: HostShifts, params: FleetParameters
) -> tuple[BoolArray, BoolArray]:
    """Per change: did any pressure of its host rise between the ``window_days`` before
    the change day and the ``window_days`` after it (working days of the ``grid``)? And is
    that unknown, a pressure the fleet reports not measured on the host in either window
    (:func:`advisor.analysis.attribution.calm_hosts`)?"""
    window = math.ceil(params.window_days)
    day = shifts.change_day
    early = host_window_means(grid, shifts.host, day - window, day)
    late = host_window_means(grid, shifts.host, day + 1, day + 1 + window)
    rose = pressure_causes(early, late, params).any(axis=1)
    unknown = ~calm_hosts(early, late, reported(grid), params) & ~rose
    return np.asarray(rose, dtype=bool), np.asarray(unknown, dtype=bool)


def version_candidates(
    cells: Cells,
    changes: VersionChanges,
    grid: FloatArray,
    department: IntArray,
    departments: list[str],
    *,
    apps: list[str],
    versions: list[str],
    now: float,
    params: FleetParameters,
) -> tuple[list[Candidate], list[VersionShift]]:
    """Candidates for every (app, from, to) rollout with enough hosts, and the effects to
    remove from the cells (:func:`without_rollouts`); ``grid`` is the daily pressure
    (:func:`advisor.analysis.fleet_cells.pressure_grid`)."""
    shifts = host_shifts(cells, changes, now=now, params=params)
    if shifts is None:
        return [], []
    rose, unknown = pressure_moved(grid, shifts, params)
    groups, group_of = np.unique(
        np.column_stack([shifts.app, shifts.from_version, shifts.to_version]),
        axis=0,
        return_inverse=True,
    )
    group_of = group_of.reshape(-1)
    candidates: list[Candidate] = []
    removed: list[VersionShift] = []
    for g, (app, old, new) in enumerate(groups.tolist()):
        members = np.flatnonzero(group_of == g)
        measured = np.isfinite(shifts.shift[members]).any(axis=1)
        if measured.sum() < params.min_hosts:
            continue
        # Pressure that rose on most hosts with the change is likely the version's own doing
        # (a new version that needs more memory): then it is part of the effect.
        known = measured & ~unknown[members]
        steady = known & ~rose[members]
        left_out = 0
        if steady.sum() >= max(params.min_hosts, known.sum() / 2):
            left_out = int((measured & ~steady).sum())
            members = members[steady]
        warm, cold = shifts.shift[members, 0], shifts.shift[members, 1]
        split = kinds_differ(cold - warm, params)
        both = both_kinds(warm, cold)
        effects = (trimmed_mean(warm), trimmed_mean(cold)) if split else (trimmed_mean(both),) * 2
        everyone = np.flatnonzero(group_of == g)
        removed.append(
            VersionShift(
                app,
                shifts.host[everyone],
                shifts.at[everyone],
                shifts.change_day[everyone],
                int(new),
                *(0.0 if math.isnan(e) else e for e in effects),
            )
        )
        scope = {"from_version": versions[old] or "unknown", "version": versions[new] or "unknown"}
        for kind in (1, 0) if split else (None,):
            values = both if kind is None else shifts.shift[members, kind]
            pooled: float | None = None
            for dept in [None, *range(len(departments))]:
                chosen = members
                if dept is not None:
                    chosen = members[department[shifts.host[members]] == dept]
                candidate = _candidate(
                    cells,
                    shifts,
                    chosen,
                    values[np.searchsorted(members, chosen)],
                    kind,
                    apps[app],
                    with_start(
                        scope if dept is None else {**scope, "department": departments[dept]},
                        kind,
                    ),
                    params,
                    pooled,
                    seed=_seed(params, app, new, dept, kind),
                )
                if dept is None:
                    if candidate is None:
                        break
                    pooled = candidate.estimate
                if candidate is not None:
                    candidate.detail["rollout_hosts_left_out_for_pressure"] = float(left_out)
                    candidates.append(candidate)
    return candidates, removed


def _seed(params: FleetParameters, app: int, new: int, dept: int | None, kind: int | None) -> int:
    """A bootstrap seed of its own for each rollout, department and start kind."""
    return (
        params.seed
        + 7919 * app
        + 104729 * new
        + 31 * (0 if dept is None else dept + 1)
        + (2 if kind is None else kind)
    )


def _candidate(
    cells: Cells,
    shifts: HostShifts,
    chosen: IntArray,
    values: FloatArray,
    kind: int | None,
    app: str,
    scope: dict[str, str],
    params: FleetParameters,
    pooled: float | None,
    *,
    seed: int,
) -> Candidate | None:
    measured = np.isfinite(values)
    chosen, values = chosen[measured], values[measured]
    if chosen.size < params.min_hosts:
        return None
    kinds = [0, 1] if kind is None else [kind]
    after_launches = int(shifts.after[chosen][:, kinds].sum())
    if after_launches < params.min_after:
        return None
    estimate = trimmed_mean(values)
    p_value = signed_rank_p(values)
    share = float(np.mean(np.sign(values) == np.sign(estimate)))
    control, n_control = _control_shift(cells, shifts, chosen, kind, params)
    alignment = 0.75
    if math.isfinite(control) and estimate != 0:
        alignment = float(np.clip(1 - abs(control) / abs(estimate), 0.0, 1.0))
    confidence = round(0.6 * alignment + 0.4 * float(np.clip((share - 0.5) / 0.4, 0, 1)), 3)

    def rows() -> tuple[IntArray, IntArray]:
        member = np.zeros(shifts.host.size, dtype=bool)
        member[chosen] = True
        compared = member[shifts.change]
        if kind is not None:
            compared &= cells.cold[shifts.rows] == bool(kind)
        return (
            shifts.rows[compared & ~shifts.after_side],
            shifts.rows[compared & shifts.after_side],
        )

    def interval() -> tuple[float, float]:
        return host_interval(
            values, confidence=params.confidence, n_resamples=params.n_resamples, seed=seed
        )

    def keep(candidate: Candidate, bounds: tuple[float, float]) -> bool:
        # A department is reported apart only where it differs from the pooled rollout, by
        # as much as a finding must move (tight intervals make small differences "real").
        if pooled is None:
            return True
        apart = abs(candidate.estimate - pooled) >= math.log1p(params.min_effect)
        return apart and not bounds[0] <= pooled <= bounds[1]

    detail = {
        "hosts": float(chosen.size),
        "host_agreement": round(share, 3),
        "control_shift": round(math.expm1(control), 4) if math.isfinite(control) else math.nan,
        "control_hosts": float(n_control),
        "launches_after": float(after_launches),
    }
    return Candidate(
        kind="version_change",
        app=app,
        scope=scope,
        p_value=p_value,
        estimate=estimate,
        hosts=np.unique(shifts.host[chosen]),
        since=float(shifts.at[chosen].min()),
        sides=sides_of(cells, rows),
        cause="version" if alignment >= 0.5 else "unknown",
        confidence=confidence,
        method="per host and start kind, its own days before against after its version "
        "change; trimmed mean of per-host shifts; Wilcoxon signed-rank over hosts; "
        "bootstrap over hosts",
        interval=interval,
        detail=detail,
        keep=None if pooled is None else keep,
    )


def _control_shift(
    cells: Cells,
    shifts: HostShifts,
    chosen: IntArray,
    kind: int | None,
    params: FleetParameters,
) -> tuple[float, int]:
    """Median shift of the app's daily levels of ``kind`` (warm for both) across the
    rollout's median change time, on hosts without a change of the app within two windows
    of it; NaN without enough hosts."""
    app = int(shifts.app[chosen[0]])
    t_ref = float(np.median(shifts.at[chosen]))
    reach = 2 * params.window_days * DAY_SECONDS
    near = (shifts.app == app) & (np.abs(shifts.at - t_ref) < reach)
    excluded = np.unique(shifts.host[near])
    ref_day = (t_ref - cells.day0) / DAY_SECONDS
    rows = cells.by_app[app]
    cold = bool(kind) if kind is not None else False
    rows = rows[
        (cells.cold[rows] == cold) & (np.abs(cells.day[rows] - ref_day) < params.window_days)
    ]
    rows = rows[~np.isin(cells.host[rows], excluded)]
    if rows.size == 0:
        return math.nan, 0
    side = (cells.day[rows] >= ref_day).astype(np.int64)
    medians = group_medians(cells.host[rows] * 2 + side, cells.level[rows])
    host, after = np.divmod(medians.group, 2)
    enough = medians.count >= 3
    both = np.intersect1d(host[enough & (after == 0)], host[enough & (after == 1)])
    if both.size < params.min_control_hosts:
        return math.nan, int(both.size)
    position = np.searchsorted(medians.group, both * 2)
    return float(np.median(medians.median[position + 1] - medians.median[position])), int(both.size)


def without_rollouts(cells: Cells, shifts: list[VersionShift], n_apps: int) -> Cells:
    """Cells with every rollout's effect removed, per start kind, at each host's own change.

    The rule (docs/analysis.md, "Rollouts"): a row of a host that made the change is moved
    back by the rollout's effect of its start kind when it lies after the host's change (a
    later day, or the change day with the new version's label), once per such change of
    the host (a host that moved and moved back has both effects removed, which cancel).
    """
    if not shifts:
        return cells
    level = cells.level.copy()
    span = cells.days + 4 * 366
    for shift in shifts:
        rows = cells.by_app[shift.app]
        keys = np.sort(shift.hosts * span + (shift.change_day + 2 * 366))
        row_key = cells.host[rows] * span + (cells.day[rows] + 2 * 366)
        first = np.searchsorted(keys, cells.host[rows] * span, side="left")
        strictly = np.searchsorted(keys, row_key, side="left") - first
        on_day = np.searchsorted(keys, row_key, side="right") - first - strictly
        times = strictly + on_day * (cells.version[rows] == shift.to_version)
        effect = np.where(cells.cold[rows], shift.cold, shift.warm)
        level[rows] -= times * effect
    return cells.with_levels(level, n_apps)
