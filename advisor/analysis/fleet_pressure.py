"""Resource pressure: an app getting slower on the hosts whose pressure rose at the same time.

Per host, each pressure's daily mean over the first and the last ``period_days`` of the run
(:func:`advisor.analysis.fleet_cells.window_means`) says whether memory, swap, disk io or
cpu pressure rose (:func:`advisor.analysis.attribution.pressure_causes`). Per host and app,
the median cell residual (cold and warm, each against its own level; rollouts' effects
removed) over the same two periods says how much the app's load time moved. Only working
days are read (a weekend idles the machines and changes who launches:
:func:`advisor.analysis.fleet_cells.working_days`). Per (app, cause): the hosts where that
pressure rose, and no other, against the hosts where no pressure rose, Mann-Whitney U on the
per-host moves (hosts are the unit: their launches are not independent; a host whose memory
and cpu pressure both rose would lend its memory slowdown to the cpu test); the effect is
the difference of the median moves, with a bootstrap interval over hosts; the finding names
every host where that pressure rose. ``since`` is the first working day the risen hosts'
mean pressure was half-way up.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

from advisor.analysis.attribution import pressure_causes
from advisor.analysis.candidates import Candidate, quantiles
from advisor.analysis.effects import median_shift
from advisor.analysis.findings import Cause
from advisor.analysis.fleet_cells import (
    DAY_SECONDS,
    PRESSURE_CAUSES,
    Cells,
    nan_mean,
    window_means,
)
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.frames import FleetData
from advisor.analysis.groupby import group_medians

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
    """One candidate per (app, cause) with enough hosts on both sides; ``grid`` is the daily
    pressure (:func:`advisor.analysis.fleet_cells.pressure_grid`), ``working`` the days read
    (:func:`advisor.analysis.fleet_cells.working_days`)."""
    every = np.arange(grid.shape[0])
    first, period = cells.first_day, params.period_days
    early = window_means(grid, every, first, first + period)
    late = window_means(grid, every, cells.days - period, cells.days)
    rose = pressure_causes(early, late, params)
    calm = np.asarray(~rose.any(axis=1), dtype=bool)
    early_day = cells.first_day + params.period_days
    late_day = cells.days - params.period_days
    found: list[Candidate] = []
    for app, rows in enumerate(cells.by_app):
        rows = rows[working[cells.day[rows]]]
        day = cells.day[rows]
        side = np.where(day < early_day, 0, np.where(day >= late_day, 1, -1))
        rows, side = rows[side >= 0], side[side >= 0]
        medians = group_medians(cells.host[rows] * 2 + side, cells.resid[rows])
        host, late = np.divmod(medians.group, 2)
        ok = medians.count >= 2
        e_hosts, l_hosts = host[ok & (late == 0)], host[ok & (late == 1)]
        both = np.intersect1d(e_hosts, l_hosts)
        if both.size == 0:
            continue
        move = (
            medians.median[ok & (late == 1)][np.searchsorted(l_hosts, both)]
            - medians.median[ok & (late == 0)][np.searchsorted(e_hosts, both)]
        )
        control = move[calm[both]]
        if control.size < params.min_hosts:
            continue
        for c, cause in enumerate(CAUSE_NAMES):
            risen = rose[both, c]
            # Tested on the hosts where this pressure rose alone: a host whose memory and
            # cpu pressure both rose would lend its memory slowdown to the cpu test.
            alone = risen & (rose[both].sum(axis=1) == 1)
            if alone.sum() < params.min_hosts:
                continue
            found.append(
                _candidate(
                    grid,
                    data,
                    cells,
                    rows,
                    side,
                    app,
                    c,
                    cause,
                    both[risen],
                    move[alone],
                    control,
                    params,
                )
            )
    return found


def _candidate(
    grid: FloatArray,
    data: FleetData,
    cells: Cells,
    rows: IntArray,
    side: IntArray,
    app: int,
    column: int,
    cause: Cause,
    hosts: IntArray,
    move: FloatArray,
    control: FloatArray,
    params: FleetParameters,
) -> Candidate:
    p_value = float(stats.mannwhitneyu(move, control, alternative="two-sided").pvalue)
    estimate = float(np.median(move) - np.median(control))
    daily = nan_mean(grid[hosts, :, column], axis=0)
    since_day = cells.first_day + _half_way(daily[cells.first_day :], params.period_days)
    member = np.zeros(len(data.launches.hosts), dtype=bool)
    member[hosts] = True
    mine = member[cells.host[rows]]
    before, after = rows[mine & (side == 0)], rows[mine & (side == 1)]
    agree = float(np.mean(np.sign(move) == np.sign(estimate))) if move.size else 0.0
    seed = params.seed + app * 31 + column

    def interval() -> tuple[float, float]:
        shift = median_shift(
            control, move, confidence=params.confidence, n_resamples=params.n_resamples, seed=seed
        )
        # Relative to the control's median, as the estimate is.
        offset = estimate - shift.estimate
        return shift.low + offset, shift.high + offset

    return Candidate(
        kind="pressure",
        app=data.launches.apps[app],
        scope={"pressure": PRESSURE_CAUSES[column]},
        p_value=p_value,
        estimate=estimate,
        hosts=hosts,
        since=cells.day0 + since_day * DAY_SECONDS,
        before=quantiles(cells.level[before], int(cells.count[before].sum())),
        after=quantiles(cells.level[after], int(cells.count[after].sum())),
        cause=cause,
        confidence=round(float(np.clip(0.5 + (agree - 0.5), 0.0, 1.0)), 3),
        method=f"hosts whose {PRESSURE_CAUSES[column]} pressure rose against hosts without "
        "any rise, first against last period; Mann-Whitney U; bootstrap over hosts",
        interval=interval,
        detail={
            "hosts": float(hosts.size),
            "control_hosts": float(control.size),
            "control_move": round(math.expm1(float(np.median(control))), 4),
            "host_agreement": round(agree, 3),
        },
    )


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
