"""Version changes across the fleet: each moved host before against after its own change time.

The vectorised form of :mod:`advisor.analysis.boundaries` for a whole :class:`FleetData`:

- every change (host, app, from -> to, at) gets a window: ``window_days`` either side of
  ``at``, cut at the host's previous and next change of the app and at ``now``; a launch is
  on the before side when it ran the old version (or an unknown one), on the after side when
  it ran the new one. One ``searchsorted`` assigns every launch of a moved host to its
  windows; hosts that never moved are not touched.
- each host's log load times are centred on the median of its own launches before, per start
  kind (cold and warm starts each against their own baseline), so the pooled samples compare
  hosts with themselves; a host needs ``min_before`` launches before.
- per (app, from, to), pooled over hosts and per department: Mann-Whitney U on the centred
  logs (p-value for the run's false discovery control), the shift of the median as effect.
  A department is reported apart only where its effect differs from the pooled one by at
  least ``min_effect`` and its interval excludes the pooled one;
  and for findings a percentile bootstrap interval **over hosts** (launches of one host are
  not independent): per-host histograms of the centred logs reweighted by Poisson host
  weights, one matrix product for all resamples.
- a control: hosts of the app that did not change in the window around the rollout's median
  change time, compared across it on their daily medians. When they moved as much as the
  movers, the period (pressure, a trend) explains it, not the version: the confidence drops,
  and below half the cause is ``unknown``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from advisor.analysis.candidates import Candidate, quantiles
from advisor.analysis.fleet_cells import DAY_SECONDS, Cells
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.frames import UNKNOWN_VERSION, FleetData
from advisor.analysis.groupby import group_medians, histogram_medians

__all__ = ["VersionShift", "version_candidates"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BIN_WIDTH = 0.01  # log units: 1 % resolution of the bootstrap medians, interpolated within


@dataclass(frozen=True)
class VersionShift:
    """A rollout's estimated effect on the hosts that made it, to remove from the cells
    before the change-point search (so a rollout is not found twice)."""

    app: int
    hosts: IntArray
    at: FloatArray  # per host
    estimate: float


@dataclass(frozen=True)
class _Pairs:
    change: IntArray  # index into the sorted changes
    after: npt.NDArray[np.bool_]
    value: FloatArray  # centred log load time
    raw: FloatArray  # log load time


def version_candidates(
    data: FleetData,
    usable: IntArray,
    cells: Cells,
    department: IntArray,
    departments: list[str],
    *,
    now: float,
    params: FleetParameters,
) -> tuple[list[Candidate], list[VersionShift]]:
    """Candidates for every (app, from, to) rollout with enough hosts, and their shifts."""
    frame = data.launches
    ch = data.changes
    window = params.window_days * DAY_SECONDS
    n_apps = max(len(frame.apps), 1)
    keep = (ch.at <= now) & (ch.at >= cells.day0 - window) & (ch.from_version != ch.to_version)
    if not keep.any():
        return [], []
    series = ch.host[keep].astype(np.int64) * n_apps + ch.app[keep]
    at = ch.at[keep].astype(np.float64)
    order = np.lexsort((at, series))
    series, at = series[order], at[order]
    host_c = ch.host[keep][order].astype(np.int64)
    app_c = ch.app[keep][order].astype(np.int64)
    from_c = ch.from_version[keep][order].astype(np.int64)
    to_c = ch.to_version[keep][order].astype(np.int64)
    same_prev = np.r_[False, series[1:] == series[:-1]]
    same_next = np.r_[series[:-1] == series[1:], False]
    lo = np.maximum(at - window, np.where(same_prev, np.r_[-np.inf, at[:-1]], -np.inf))
    hi = np.minimum(at + window, np.where(same_next, np.r_[at[1:], np.inf], np.inf))

    pairs = _pairs(data, usable, series, at, lo, hi, from_c, to_c, params)
    if pairs is None:
        return [], []
    groups, group_of = np.unique(
        np.column_stack([app_c, from_c, to_c]), axis=0, return_inverse=True
    )
    group_of = group_of.reshape(-1)
    # Per change: its host's own shift (the centred after median), for agreement and controls.
    own = group_medians(pairs.change[pairs.after], pairs.value[pairs.after])
    own_shift = np.full(at.size, np.nan)
    own_shift[own.group] = own.median
    based = np.zeros(at.size, dtype=bool)
    based[np.unique(pairs.change)] = True

    candidates: list[Candidate] = []
    shifts: list[VersionShift] = []
    for g, (app, old, new) in enumerate(groups.tolist()):
        members = np.flatnonzero((group_of == g) & based)
        if members.size < params.min_hosts:
            continue
        in_group = np.zeros(at.size, dtype=bool)
        in_group[members] = True
        sel = in_group[pairs.change]
        x_all = pairs.value[sel & ~pairs.after]
        y_all = pairs.value[sel & pairs.after]
        if y_all.size == 0:
            continue
        pooled = float(np.median(y_all) - np.median(x_all))
        shifts.append(VersionShift(app, host_c[members], at[members], pooled))
        control, n_control = _control_shift(cells, app, host_c, app_c, at, members, params)
        scope = {
            "from_version": frame.versions[old] or "unknown",
            "version": frame.versions[new] or "unknown",
        }
        for dept in [None, *range(len(departments))]:
            chosen = members if dept is None else members[department[host_c[members]] == dept]
            if chosen.size < params.min_hosts:
                continue
            candidate = _candidate(
                pairs,
                chosen,
                at.size,
                frame.apps[app],
                scope if dept is None else {**scope, "department": departments[dept]},
                host_c,
                at,
                own_shift,
                control,
                n_control,
                params,
                pooled=None if dept is None else pooled,
            )
            if candidate is not None:
                candidates.append(candidate)
    return candidates, shifts


def _pairs(
    data: FleetData,
    usable: IntArray,
    series: IntArray,
    at: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    from_c: IntArray,
    to_c: IntArray,
    params: FleetParameters,
) -> _Pairs | None:
    """Every (launch, change) pair with the launch in the change's window, centred."""
    frame = data.launches
    n_apps = max(len(frame.apps), 1)
    n_series = len(frame.hosts) * n_apps
    moved = np.zeros(n_series, dtype=bool)
    moved[series] = True
    launch_series = frame.host[usable].astype(np.int64) * n_apps + frame.app[usable]
    subset = usable[moved[launch_series]]
    if subset.size == 0:
        return None
    l_series = frame.host[subset].astype(np.int64) * n_apps + frame.app[subset]
    t = frame.started_at[subset]
    version = frame.version[subset].astype(np.int64)
    t_min = min(float(t.min()), float(at.min())) - 1.0
    span = max(float(t.max()), float(at.max())) - t_min + 1.0
    change_key = series * span + (at - t_min)
    launch_key = l_series * span + (t - t_min)
    position = np.searchsorted(change_key, launch_key, side="right")

    after_c = position - 1
    ok_after = after_c >= 0
    after_c = np.maximum(after_c, 0)
    ok_after &= (series[after_c] == l_series) & (t < hi[after_c])
    ok_after &= (version == to_c[after_c]) | (version == UNKNOWN_VERSION)
    before_c = np.minimum(position, at.size - 1)
    ok_before = (position < at.size) & (series[before_c] == l_series) & (t >= lo[before_c])
    ok_before &= (version == from_c[before_c]) | (version == UNKNOWN_VERSION)

    change = np.concatenate([before_c[ok_before], after_c[ok_after]])
    after = np.r_[np.zeros(int(ok_before.sum()), bool), np.ones(int(ok_after.sum()), bool)]
    launch = np.concatenate([subset[ok_before], subset[ok_after]])
    raw = np.log(frame.duration[launch])
    cold = frame.cold[launch].astype(np.int64)

    # Baselines per change and start kind; a change needs min_before launches before in all.
    kind_key = change * 2 + cold
    centres = group_medians(kind_key[~after], raw[~after])
    centre = np.full(at.size * 2, np.nan)
    centre[centres.group[centres.count >= 2]] = centres.median[centres.count >= 2]
    before_count = np.bincount(change[~after], minlength=at.size)
    value = raw - centre[kind_key]
    keep = np.isfinite(value) & (before_count[change] >= params.min_before)
    if not keep.any():
        return None
    return _Pairs(change[keep], after[keep], value[keep], raw[keep])


def _control_shift(
    cells: Cells,
    app: int,
    host_c: IntArray,
    app_c: IntArray,
    at: FloatArray,
    members: IntArray,
    params: FleetParameters,
) -> tuple[float, int]:
    """Median shift of the app's warm daily levels across the rollout's median change time,
    on hosts without a change of the app within a window of it; NaN without enough hosts."""
    t_ref = float(np.median(at[members]))
    reach = 2 * params.window_days * DAY_SECONDS
    near = (app_c == app) & (np.abs(at - t_ref) < reach)
    excluded = np.unique(host_c[near])
    ref_day = (t_ref - cells.day0) / DAY_SECONDS
    rows = cells.by_app[app]
    rows = rows[~cells.cold[rows] & (np.abs(cells.day[rows] - ref_day) < params.window_days)]
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
    lookup = dict(zip(medians.group.tolist(), medians.median.tolist(), strict=True))
    shifts = [lookup[h * 2 + 1] - lookup[h * 2] for h in both.tolist()]
    return float(np.median(shifts)), int(both.size)


def _candidate(
    pairs: _Pairs,
    chosen: IntArray,
    n_changes: int,
    app: str,
    scope: dict[str, str],
    host_c: IntArray,
    at: FloatArray,
    own_shift: FloatArray,
    control: float,
    n_control: int,
    params: FleetParameters,
    pooled: float | None,
) -> Candidate | None:
    member = np.zeros(n_changes, dtype=bool)
    member[chosen] = True
    sel = member[pairs.change]
    before_sel = sel & ~pairs.after
    after_sel = sel & pairs.after
    x, y = pairs.value[before_sel], pairs.value[after_sel]
    if y.size < params.min_after or x.size == 0:
        return None
    estimate = float(np.median(y) - np.median(x))
    p_value = float(stats.mannwhitneyu(y, x, alternative="two-sided").pvalue)
    agree = own_shift[chosen]
    agree = agree[np.isfinite(agree)]
    share = float(np.mean(np.sign(agree) == np.sign(estimate))) if agree.size else 0.5
    alignment = 0.75
    if math.isfinite(control) and estimate != 0:
        alignment = float(np.clip(1 - abs(control) / abs(estimate), 0.0, 1.0))
    confidence = round(0.6 * alignment + 0.4 * float(np.clip((share - 0.5) / 0.4, 0, 1)), 3)
    x_change, y_change = pairs.change[before_sel], pairs.change[after_sel]
    seed = params.seed + len(scope) * 7919 + int(chosen[0])

    def interval() -> tuple[float, float]:
        return _cluster_interval(x, x_change, y, y_change, params, seed)

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
    }
    return Candidate(
        kind="version_change",
        app=app,
        scope=scope,
        p_value=p_value,
        estimate=estimate,
        hosts=np.unique(host_c[chosen]),
        since=float(at[chosen].min()),
        before=quantiles(pairs.raw[before_sel]),
        after=quantiles(pairs.raw[after_sel]),
        cause="version" if alignment >= 0.5 else "unknown",
        confidence=confidence,
        method="per-host before/after at each host's version change, centred on its own "
        "baseline per start kind; Mann-Whitney U; bootstrap over hosts",
        interval=interval,
        detail=detail,
        keep=None if pooled is None else keep,
    )


def _cluster_interval(
    x: FloatArray,
    x_cluster: IntArray,
    y: FloatArray,
    y_cluster: IntArray,
    params: FleetParameters,
    seed: int,
) -> tuple[float, float]:
    """Percentile interval of ``median(y) - median(x)`` resampling clusters (hosts)."""
    if params.n_resamples < 1:
        return math.nan, math.nan
    clusters, inverse = np.unique(np.r_[x_cluster, y_cluster], return_inverse=True)
    x_loc, y_loc = inverse[: x.size], inverse[x.size :]
    both = np.r_[x, y]
    low, high = np.quantile(both, [0.001, 0.999])
    bins = max(math.ceil((high - low) / BIN_WIDTH), 1)
    edges = low + BIN_WIDTH * np.arange(bins + 1)

    def per_cluster(v: FloatArray, loc: IntArray) -> npt.NDArray[np.float32]:
        b = np.clip(((v - low) / BIN_WIDTH).astype(np.int64), 0, bins - 1)
        counts = np.bincount(loc * bins + b, minlength=clusters.size * bins)
        return counts.reshape(clusters.size, bins).astype(np.float32)

    hx, hy = per_cluster(x, x_loc), per_cluster(y, y_loc)
    rng = np.random.default_rng(seed)
    weights = rng.poisson(1.0, (params.n_resamples, clusters.size)).astype(np.float32)
    mx = histogram_medians((weights @ hx).astype(np.float64), edges)
    my = histogram_medians((weights @ hy).astype(np.float64), edges)
    diffs = (my - mx)[np.isfinite(my - mx)]
    if diffs.size == 0:
        return math.nan, math.nan
    tail = (1 - params.confidence) / 2 * 100
    # The binned medians are biased by up to half a bin; centre the interval on the exact one.
    exact = float(np.median(y) - np.median(x))
    binned = float(histogram_medians(hy.sum(0, keepdims=True).astype(np.float64), edges)[0])
    binned -= float(histogram_medians(hx.sum(0, keepdims=True).astype(np.float64), edges)[0])
    lo_q, hi_q = np.percentile(diffs, [tail, 100 - tail])
    return float(lo_q - binned + exact), float(hi_q - binned + exact)
