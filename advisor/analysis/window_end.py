"""A pressure's effect at the last day of the data, when the pressure still moved in its window.

A pressure finding compares each host's median over the last ``period_days`` with its median
over the first: the level in the middle of the late period. While the pressure is still
rising (memory filling up, a drift under way), that is half a period behind the last day:
on the simulator's cpu drift (+30 % at the end, growing by a third of a point a day) a
14-day period read +27 %. A finding says how much slower an app is *now*.

The pressure's own daily means say how far it still moved, and far more precisely than a
slope of load times (a few launches a day per host: a local linear fit of them at the end of
the period doubled the estimate's spread, and overshot where the pressure stopped rising
inside the period). So the relative effect is carried in proportion to the pressure: times
the ratio of the pressure's rise on the last day with data to its mean rise over the late
period (per host, against the early period, working days), on the hosts where it rose less
the calm hosts (a drift of both cancels), with a bootstrap interval over hosts. This assumes
the relative slowdown grows in proportion to the pressure's rise, the premise of a pressure
finding, and reads it near the top of the rise only: a pressure that settled before the late
period gives a ratio of 1 and the effect stays as measured; one that fell back gives less.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SETTLED", "EndRatio", "carried", "end_ratio", "widened"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class EndRatio:
    """The pressure's rise on the last day over its mean rise in the late period, with an
    interval.

    >>> EndRatio(1.08, 1.05, 1.11).ratio
    1.08
    """

    ratio: float
    low: float
    high: float


FLOOR = -1.0 + 1e-9  # a relative change: no more than 100 % faster
SETTLED = EndRatio(1.0, 1.0, 1.0)
"""No correction: the pressure did not rise, or too few hosts say how it ended."""


def end_ratio(
    last: FloatArray,
    mean: FloatArray,
    moved: npt.NDArray[np.bool_],
    *,
    min_hosts: int,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> EndRatio:
    """The ratio of the pressure's rise on the last day to its rise over the late period:
    per host its rise on the ``last`` day and its rise over the period, ``mean`` (both less
    its early period; NaN where unknown), the hosts that ``moved`` against the others
    (module docstring; the groups' means of those per-host figures). :data:`SETTLED`
    without ``min_hosts`` hosts on each side or without a rise.

    >>> moved = np.array([True] * 4 + [False] * 4)
    >>> mean = np.r_[np.full(4, 0.2), np.zeros(4)]
    >>> last = np.r_[np.full(4, 0.25), np.zeros(4)]
    >>> end_ratio(last, mean, moved, min_hosts=3, confidence=0.95, n_resamples=99,
    ...           seed=1).ratio
    1.25
    """
    known = np.isfinite(last) & np.isfinite(mean)
    a, b = known & moved, known & ~moved
    if a.sum() < min_hosts or b.sum() < min_hosts:
        return SETTLED
    # Per host: last-day rise, mean rise; each group's means, resampled over hosts.
    rng = np.random.default_rng(seed)

    def ratios(wa: FloatArray, wb: FloatArray) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            at_end = (wa @ last[a]) / wa.sum(axis=1) - (wb @ last[b]) / wb.sum(axis=1)
            average = (wa @ mean[a]) / wa.sum(axis=1) - (wb @ mean[b]) / wb.sum(axis=1)
            return np.asarray(np.where(average > 0, at_end / average, np.nan))

    ratio = float(ratios(np.ones((1, int(a.sum()))), np.ones((1, int(b.sum()))))[0])
    if not math.isfinite(ratio):
        return SETTLED
    draws = ratios(
        rng.poisson(1.0, (n_resamples, int(a.sum()))).astype(np.float64),
        rng.poisson(1.0, (n_resamples, int(b.sum()))).astype(np.float64),
    )
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return SETTLED
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return EndRatio(ratio, float(low), float(high))


def carried(estimate: float, end: EndRatio) -> float:
    """``estimate`` (log scale) with its relative change (``exp - 1``) times the ratio.

    >>> round(math.expm1(carried(math.log(1.2), EndRatio(1.1, 1.0, 1.2))), 3)
    0.22
    """
    return math.log1p(max(math.expm1(estimate) * end.ratio, FLOOR))


def widened(estimate: float, low: float, high: float, end: EndRatio) -> tuple[float, float, float]:
    """``estimate`` with its interval ``[low, high]`` (log scale) carried by ``end``: the
    relative change (``exp - 1``) times the ratio; each side of the interval from the
    estimate's own side times the ratio and the ratio's side times the estimate, in
    quadrature on the relative scale; back on the log scale.

    >>> [round(math.expm1(v), 3) for v in widened(math.log(1.2), math.log(1.17),
    ...                                             math.log(1.23), EndRatio(1.1, 1.0, 1.2))]
    [0.22, 0.181, 0.259]
    """
    rel, rel_low, rel_high = math.expm1(estimate), math.expm1(low), math.expm1(high)
    centre = rel * end.ratio
    if not (math.isfinite(rel_low) and math.isfinite(rel_high)):
        return carried(estimate, end), low, high
    # The ratio's sides widen the side they push the estimate to.
    toward_zero, away = end.ratio - end.low, end.high - end.ratio
    below_ratio, above_ratio = (toward_zero, away) if rel >= 0 else (away, toward_zero)
    below = math.hypot((rel - rel_low) * end.ratio, rel * below_ratio)
    above = math.hypot((rel_high - rel) * end.ratio, rel * above_ratio)
    return (
        carried(estimate, end),
        math.log1p(max(centre - below, FLOOR)),
        math.log1p(max(centre + above, FLOOR)),
    )
