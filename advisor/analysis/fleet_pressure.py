"""Resource pressure: an app getting slower on the hosts whose pressure rose at the same time.

Per host, each pressure's daily mean over the first and the last ``period_days`` of the run
(:func:`advisor.analysis.fleet_cells.window_means`) says whether memory, swap, disk io or
cpu pressure rose (:func:`advisor.analysis.attribution.pressure_causes`). Per host, app and
start kind, the median cell residual (rollouts' effects removed) over the same two periods
says how much the app's load time moved: the host's **move**. Only working days are read (a
weekend idles the machines and changes who launches:
:func:`advisor.analysis.fleet_cells.working_days`).

Per (app, cause), hosts as the unit (:mod:`advisor.analysis.host_effects`). A host can see
two pressures rise at once (its memory and cpu in a department whose app drifts with cpu;
its memory while its disk fills), and each would lend its slowdown to the other's finding.
Memory pressure pages, which raises swap-in and io pressure too, so on a host whose memory
pressure rose, io counts as a rise of its own only beyond the io rise typical of those hosts
(their median) by ``io_rise``.

- **effect of a pressure alone**: over the hosts where it rose and no other did, the
  trimmed mean of their moves less that of the hosts where nothing rose;
- the finding **names every host where the pressure rose**, and its effect is measured on
  them: each host's move less the effects alone of the other pressures that rose with it,
  their trimmed mean less the calm hosts'; a bootstrap interval resampling each group of
  hosts on its own (the other pressures' effects are taken as known);
- its **test** is Mann-Whitney U between the hosts where it rose alone and the calm hosts
  (a co-risen host's adjustment is an estimate, not a measurement);
- cold and warm starts are one finding when the hosts' cold moves match their warm ones,
  one each when not (:mod:`advisor.analysis.start_kinds`), and only when the hosts moved at
  all, both kinds pooled (:func:`_moved`);
- **calm hosts** are hosts where no pressure rose *and* every pressure the fleet reports was
  measured (:func:`advisor.analysis.attribution.calm_hosts`): a host whose kernel gives no
  PSI may be paging or filling its disk unseen, and is no reference;
- a pressure still moving in the late period is carried to the last day with data
  (:mod:`advisor.analysis.window_end`): the relative effect times the pressure's rise on
  that day over its mean rise in the late period, so a finding says how much slower the app
  is now, not half a period ago.

A pressure that rose on nearly every host (``fleet_wide_rise`` of those measuring it: an
app's background work growing everywhere) is the fleet's, not a host's: it is no rise here,
its hosts stay calm ones, and it cancels when hosts are compared (before this rule a
fleet-wide cpu rise left no calm host, and every pressure finding of the run went with it).

``since`` is the first working day the risen hosts' mean pressure was half-way up.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

from advisor.analysis.attribution import (
    calm_hosts,
    fleet_wide_rises,
    pressure_causes,
    reported,
)
from advisor.analysis.candidates import Candidate
from advisor.analysis.findings import Cause
from advisor.analysis.fleet_cells import (
    DAY_SECONDS,
    PRESSURE_CAUSES,
    Cells,
    nan_mean,
    sides_of,
    window_means,
)
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.frames import FleetData
from advisor.analysis.groupby import group_medians
from advisor.analysis.host_effects import trimmed_mean, two_group_interval
from advisor.analysis.start_kinds import both_kinds, kinds_differ, with_start
from advisor.analysis.window_end import SETTLED, EndRatio, carried, end_ratio, widened

__all__ = ["pressure_candidates"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
CAUSE_NAMES: tuple[Cause, ...] = ("memory", "swap", "disk_io", "cpu")


def pressure_candidates(
    data: FleetData,
    cells: Cells,
    grid: FloatArray,
    working: BoolArray,
    *,
    params: FleetParameters,
) -> list[Candidate]:
    """Candidates per (app, cause) with enough hosts on both sides; ``grid`` is the daily
    pressure (:func:`advisor.analysis.fleet_cells.pressure_grid`), ``working`` the days read
    (:func:`advisor.analysis.fleet_cells.working_days`)."""
    every = np.arange(grid.shape[0])
    first, period = cells.first_day, params.period_days
    early = window_means(grid, every, first, first + period)
    late = window_means(grid, every, cells.days - period, cells.days)
    rose = pressure_causes(early, late, params)
    fleet_wide = fleet_wide_rises(rose, early, late, params)
    rose &= ~fleet_wide[None, :]
    calm = calm_hosts(early, late, reported(grid), params, fleet_wide=fleet_wide)
    seen = _seen(rose, late - early, params)
    alone = seen & (seen.sum(axis=1) == 1)[:, None]
    early_day = cells.first_day + params.period_days
    late_day = cells.days - params.period_days
    ends = [
        _end(grid, first, late_day, c, alone[:, c], calm, params) for c in range(len(CAUSE_NAMES))
    ]
    found: list[Candidate] = []
    for app, rows in enumerate(cells.by_app):
        rows = rows[working[cells.day[rows]]]
        day = cells.day[rows]
        side = np.where(day < early_day, 0, np.where(day >= late_day, 1, -1))
        rows, side = rows[side >= 0], side[side >= 0]
        hosts, moves = _moves(cells, rows, side)
        if hosts.size == 0 or calm[hosts].sum() < params.min_hosts:
            continue
        control = calm[hosts]
        single, together = alone[hosts], seen[hosts]
        reference = np.array([trimmed_mean(moves[control, k]) for k in (0, 1)])
        # Each pressure's effect alone per start kind, to take off the hosts it rose on with
        # another (0 where too few hosts saw it alone to tell).
        effect_alone = np.zeros((len(CAUSE_NAMES), 2))
        for c in range(len(CAUSE_NAMES)):
            if single[:, c].sum() >= params.min_hosts:
                for k in (0, 1):
                    e = trimmed_mean(moves[single[:, c], k]) - reference[k]
                    effect_alone[c, k] = 0.0 if math.isnan(e) else e
        for c, cause in enumerate(CAUSE_NAMES):
            if single[:, c].sum() < params.min_hosts:
                continue
            risen = together[:, c]
            others = together.copy()
            others[:, c] = False
            adjusted = moves - others.astype(np.float64) @ effect_alone
            difference = adjusted[risen, 1] - adjusted[risen, 0]
            calm_difference = reference[1] - reference[0]
            # A split refines a finding, it is no second search: without the pooled test, a
            # noise difference between the kinds picks the kind whose noise is extreme, and
            # that kind's test on the same hosts is then too sure of itself.
            split = _moved(adjusted, moves, single[:, c], control, params) and kinds_differ(
                difference - (0.0 if math.isnan(calm_difference) else calm_difference), params
            )
            for kind in (1, 0) if split else (None,):
                if kind is None:
                    values = both_kinds(adjusted[:, 0], adjusted[:, 1])
                    calm_values = both_kinds(moves[:, 0], moves[:, 1])[control]
                else:
                    values, calm_values = adjusted[:, kind], moves[control, kind]
                candidate = _candidate(
                    grid,
                    data,
                    cells,
                    rows,
                    side,
                    app,
                    c,
                    cause,
                    kind,
                    hosts[risen & np.isfinite(values)],
                    values[risen],
                    values[single[:, c]],
                    calm_values,
                    ends[c],
                    params,
                )
                if candidate is not None:
                    candidate.detail["hosts_alone"] = float(single[:, c].sum())
                    found.append(candidate)
    return found


def _moved(
    adjusted: FloatArray,
    moves: FloatArray,
    alone: BoolArray,
    control: BoolArray,
    params: FleetParameters,
) -> bool:
    """Whether the hosts where the pressure rose ``alone`` moved, both start kinds pooled,
    against the calm ones (``control``): Mann-Whitney U at ``alpha``."""
    tested = both_kinds(adjusted[alone, 0], adjusted[alone, 1])
    calm = both_kinds(moves[control, 0], moves[control, 1])
    tested, calm = tested[np.isfinite(tested)], calm[np.isfinite(calm)]
    if tested.size < params.min_hosts or calm.size < params.min_hosts:
        return False
    return bool(stats.mannwhitneyu(tested, calm, alternative="two-sided").pvalue <= params.alpha)


def _seen(rose: BoolArray, rise: FloatArray, params: FleetParameters) -> BoolArray:
    """Per host and cause: did that pressure rise (:func:`pressure_causes`), with io on a
    host whose memory rose counting beyond the io rise typical of those hosts (the module
    docstring)?

    >>> rose = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]], bool)
    >>> rise = np.array([[0.3, 0, 0.08, 0], [0.3, 0, 0.09, 0], [0.3, 0, 0.4, 0], [0, 0, 0.2, 0]])
    >>> _seen(rose, rise, FleetParameters()).astype(int).tolist()
    [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 1, 0], [0, 0, 1, 0]]
    """
    memory = rose[:, 0]
    io = np.where(np.isfinite(rise[:, 2]), rise[:, 2], 0.0)
    paging = float(np.median(io[memory])) if memory.any() else 0.0
    seen = rose.copy()
    seen[:, 2] |= memory & (io >= max(paging, 0.0) + params.io_rise)
    return seen


def _moves(cells: Cells, rows: IntArray, side: IntArray) -> tuple[IntArray, FloatArray]:
    """Hosts with a move of either kind, and their moves (hosts x kinds, NaN where a host
    has fewer than two days in a period)."""
    kind = cells.cold[rows].astype(np.int64)
    medians = group_medians((cells.host[rows] * 2 + kind) * 2 + side, cells.resid[rows])
    code, late = np.divmod(medians.group, 2)
    ok = medians.count >= 2
    e_codes, l_codes = code[ok & (late == 0)], code[ok & (late == 1)]
    both = np.intersect1d(e_codes, l_codes)
    move = (
        medians.median[ok & (late == 1)][np.searchsorted(l_codes, both)]
        - medians.median[ok & (late == 0)][np.searchsorted(e_codes, both)]
    )
    host, host_kind = np.divmod(both, 2)
    hosts = np.unique(host)
    moves = np.full((hosts.size, 2), np.nan)
    moves[np.searchsorted(hosts, host), host_kind] = move
    return hosts, moves


def _candidate(
    grid: FloatArray,
    data: FleetData,
    cells: Cells,
    rows: IntArray,
    side: IntArray,
    app: int,
    column: int,
    cause: Cause,
    kind: int | None,
    hosts: IntArray,
    move: FloatArray,
    tested: FloatArray,
    control: FloatArray,
    end: EndRatio,
    params: FleetParameters,
) -> Candidate | None:
    move, tested, control = (v[np.isfinite(v)] for v in (move, tested, control))
    if tested.size < params.min_hosts or control.size < params.min_hosts:
        return None
    p_value = float(stats.mannwhitneyu(tested, control, alternative="two-sided").pvalue)
    measured = trimmed_mean(move) - trimmed_mean(control)
    estimate = carried(measured, end)  # on the last day (advisor.analysis.window_end)
    daily = nan_mean(grid[hosts, :, column], axis=0)
    since_day = cells.first_day + _half_way(daily[cells.first_day :], params.period_days)

    def compared() -> tuple[IntArray, IntArray]:
        member = np.zeros(len(data.launches.hosts), dtype=bool)
        member[hosts] = True
        mine = member[cells.host[rows]]
        if kind is not None:
            mine &= cells.cold[rows] == bool(kind)
        return rows[mine & (side == 0)], rows[mine & (side == 1)]

    reference = trimmed_mean(control)
    agree = float(np.mean(np.sign(move - reference) == np.sign(estimate))) if move.size else 0.0
    seed = _seed(params, app, column, kind)

    def interval() -> tuple[float, float]:
        low, high = two_group_interval(
            move,
            control,
            confidence=params.confidence,
            n_resamples=params.n_resamples,
            seed=seed,
        )
        return widened(measured, low, high, end)[1:]

    return Candidate(
        kind="pressure",
        app=data.launches.apps[app],
        scope=with_start({"pressure": PRESSURE_CAUSES[column]}, kind),
        p_value=p_value,
        estimate=estimate,
        hosts=hosts,
        since=cells.day0 + since_day * DAY_SECONDS,
        sides=sides_of(cells, compared),
        cause=cause,
        confidence=round(float(np.clip(agree, 0.0, 1.0)), 3),
        method=f"hosts whose {PRESSURE_CAUSES[column]} pressure rose (less the effects of "
        "other pressures that rose with it) against hosts without any rise, first against "
        "last period per start kind; trimmed means of per-host moves; Mann-Whitney U on the "
        "hosts where it rose alone; bootstrap over hosts",
        interval=interval,
        detail={
            "hosts": float(hosts.size),
            "control_hosts": float(control.size),
            "control_move": round(math.expm1(reference), 4),
            "host_agreement": round(agree, 3),
            "end_ratio": round(end.ratio, 4),
        },
    )


def _end(
    grid: FloatArray,
    first: int,
    late_day: int,
    column: int,
    alone: BoolArray,
    calm: BoolArray,
    params: FleetParameters,
) -> EndRatio:
    """How far the pressure in ``column`` still moved by the last day with data: its rise
    on that day over its mean rise in the late period (both against the early period,
    working days), on the hosts where it rose ``alone`` against the ``calm`` hosts
    (:mod:`advisor.analysis.window_end`)."""
    hosts = np.flatnonzero(alone | calm)
    values = grid[hosts, :, column]
    seen = np.flatnonzero(np.isfinite(values[:, late_day:]).any(axis=0))
    if hosts.size == 0 or seen.size == 0:
        return SETTLED
    early = nan_mean(values[:, first : first + params.period_days], axis=1)
    late = nan_mean(values[:, late_day:], axis=1)
    return end_ratio(
        values[:, late_day + int(seen[-1])] - early,
        late - early,
        alone[hosts],
        min_hosts=params.min_hosts,
        confidence=params.confidence,
        n_resamples=params.n_resamples,
        seed=params.seed + column,
    )


def _seed(params: FleetParameters, app: int, column: int, kind: int | None) -> int:
    return params.seed + app * 31 + column * 7 + (2 if kind is None else kind)


def _half_way(daily: FloatArray, period: int) -> int:
    """The first day whose mean pressure is half-way from the early to the late level."""
    observed = np.flatnonzero(np.isfinite(daily))
    if observed.size == 0:
        return 0
    early = float(np.nanmean(daily[:period])) if np.isfinite(daily[:period]).any() else 0.0
    late = float(np.nanmean(daily[-period:])) if np.isfinite(daily[-period:]).any() else early
    half = early + (late - early) / 2
    crossed = observed[daily[observed] >= half] if late >= early else observed
    return int(crossed[0]) if crossed.size else int(observed[0])
