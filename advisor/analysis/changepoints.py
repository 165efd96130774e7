"""Change points in one series of load times: where its level shifted, and by how much.

Method
------
1. **Gaps**: missing values (NaN, infinities) are dropped; indices are mapped back, so a
   change point is the index, in the series as given, of the first *observed* point of the
   new segment.
2. **Scale**: load times are compared as ratios, so the series is taken in logs
   (``log=None``: when every observed value is positive; ``log=False`` for series that
   may be zero or negative).
3. **Seasonality**: a significant cycle (the weekday on daily points, the hour of the day
   on hourly ones, or a period found in the data) is estimated by robust STL and taken out
   first (:mod:`advisor.analysis.seasonal`); a series without one is left as it is.
   Otherwise a cycle longer than ``min_size`` is read as a staircase of shifts.
4. **Serially correlated noise**: the noise is modelled as AR(1); its coefficient ``phi``
   is estimated from the lag-1 Kendall's tau of the first differences, which level shifts,
   slopes and outliers barely move, and the series is whitened (``y[t] - phi y[t-1]``)
   before the search, so that the penalty below, made for independent noise, holds again
   (Chakar et al. 2017; :mod:`advisor.analysis.serial`). Without it, noise that wanders
   (AR(1) with phi 0.6) put a change point in 90-100 % of series. ``serial=False`` takes
   the noise as independent.
5. **Robust cost**: the (whitened) values are replaced by their normal scores (the rank of
   each value, mapped through the inverse normal CDF: van der Waerden scores). Ranks make
   the search blind to how far an outlier lies and to heavy tails: a 60 s timeout weighs as
   much as any other slowest launch. A least-squares cost on ranks is the rank cost of
   ``ruptures`` (``CostRank``, Lung-Yut-Fong, Pham and Celisse 2015); normal scores instead
   of raw ranks keep its robustness and give the scores unit variance, so the penalty below
   has its usual meaning. The search is ``ruptures.KernelCPD`` with the linear kernel: PELT
   on the least-squares cost, exact, in compiled code (``ruptures.Pelt(model="l2")`` on the
   same scores gives the same segmentation hundreds of times slower).
6. **Penalty** (the price of one more change point): ``penalty_factor * s**2 * log(n)``, a
   BIC-like rule with ``s`` a robust scale of the scores: the median absolute deviation of
   successive differences over sqrt(2), which level shifts themselves barely move.
   ``penalty_factor=3`` is 1.5 times the classical BIC's 2 (one level and one location per
   change point): on stationary heavy-tailed noise (Student-t with 3 degrees of freedom plus
   2 % outliers at 3-10x) it flags fewer than 1 % of series of 90-2,000 points, about 2 %
   of 30-point ones (tests/advisor/analysis/test_changepoints.py keeps the 1 % bound; the
   table is in docs/analysis.md).
7. **Trend**: the model is level shifts on a bending line (a slope, and *bends* where the
   slope changes: continuous and piecewise linear), so that a slow drift is one slope and
   a drift that changes its rate is one bend, not a staircase of shifts. Ranks cannot
   carry a slope, so the search only proposes segmentations: of the series, and of the
   series less the trend fitted under the segments last found (a slope and the bends that
   pay for themselves, :func:`advisor.analysis.trend_fit.grow_bends`), starting once from
   the search's own segments and once from none, until the segments repeat; then level
   shifts are taken away one at a time (a bend may replace several). Each proposal is
   scored on the log scale by Huber's loss of its whitened residuals in units of the
   innovations' robust scale (a normal log-likelihood under the AR(1) noise that outliers
   cannot dominate) plus ``penalty_factor / 2 * log(n)`` per parameter: two per change
   point, as in the search, 1.5 for the slope and 1.5 per bend. The cheapest wins. A series
   without a trend keeps the search's segments; ``trend=False`` skips the step.
8. **Minimum segment** ``min_size`` (default 10 points): a level held for fewer points is a
   burst (an outage, a batch of cold starts), not a new level; bends are as far apart.
9. **Practical size**: change points whose relative shift of the median is below
   ``min_relative_shift`` (default 5 %) are removed, smallest first, and the segments on
   either side merged; on the log scale only.

Each change point reports the shift of the median between the segments either side of it,
on the series less its cycle and its trend (on the log scale: ``relative`` =
``exp(shift) - 1``), with a percentile bootstrap interval (:mod:`advisor.analysis.effects`)
widened for what the bootstrap takes as known: the AR(1) noise (by the factor it multiplies
a median's variance by) and the trend (by its own standard error on that shift, from
Huber's covariance of the fit), in quadrature. The search yields no p-value: the segments
are chosen to differ, so a test between them would be optimistic. Across many series, the
penalty bounds the false-positive rate per series; :mod:`advisor.analysis.boundaries` and
:mod:`advisor.analysis.trends` provide p-values for false discovery control.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import ruptures
from scipy import special

from advisor.analysis.effects import Shift, median_shift
from advisor.analysis.parameters import (
    DEFAULT_MIN_RELATIVE_SHIFT,
    DEFAULT_MIN_SIZE,
    DEFAULT_PENALTY_FACTOR,
)
from advisor.analysis.seasonal import normal_scores, seasonality
from advisor.analysis.serial import median_variance_factor, whiten, whitening_coefficient
from advisor.analysis.trend_fit import TrendFit, contrast_spread, fit, grow_bends

__all__ = ["ChangePoint", "Detection", "Segment", "detect_change_points", "robust_scale"]

FloatArray = npt.NDArray[np.float64]
# Rounds of search and trend before giving up on a fixed point (two or three suffice).
MAX_ROUNDS = 5
# Removals of level shifts in a row without a cheaper model before the path stops.
PATIENCE = 3
# The median absolute deviation of a standard normal, Phi^-1(3/4).
MAD_TO_SD = float(special.ndtri(0.75))
# A scale below this share of the largest difference is zero up to rounding.
ROUNDING = 1e-12


@dataclass(frozen=True, slots=True)
class Segment:
    """Points ``start`` to ``end - 1`` of the series (indices as given, gaps included).

    ``median`` is the median of its observed values in the original unit (seconds), ``count``
    how many were observed.
    """

    start: int
    end: int
    median: float
    count: int


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """A new level from point ``index`` on: the shift from the segment before to the one after.

    ``shift`` is on the analysis scale (log when ``Detection.log``): ``shift.relative`` is the
    relative change of the median, e.g. 0.35 for 35 % slower.
    """

    index: int
    shift: Shift


@dataclass(frozen=True, slots=True)
class Detection:
    """The change points of a series, its segments and how they were found.

    What was taken out before the shifts were measured: ``period`` (the cycle's, or None),
    ``phi`` (the AR(1) coefficient of the noise, 0 for independent noise), ``slope`` (the
    trend's rate per point of the series as given at its end, on the analysis scale) and
    ``bends`` (indices where the trend's rate changed; not change points).
    """

    change_points: tuple[ChangePoint, ...]
    segments: tuple[Segment, ...]
    points: int
    observed: int
    log: bool
    penalty: float
    period: int | None = None
    slope: float = 0.0
    phi: float = 0.0
    bends: tuple[int, ...] = ()

    @property
    def indices(self) -> list[int]:
        """0-based indices of the first point of each new segment."""
        return [cp.index for cp in self.change_points]


def detect_change_points(
    values: npt.ArrayLike,
    *,
    min_size: int = DEFAULT_MIN_SIZE,
    penalty_factor: float = DEFAULT_PENALTY_FACTOR,
    min_relative_shift: float = DEFAULT_MIN_RELATIVE_SHIFT,
    log: bool | None = None,
    periods: Sequence[int] | None = None,
    trend: bool = True,
    serial: bool = True,
    intervals: bool = True,
    confidence: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> Detection:
    """Change points of one series; see the module docstring for the method.

    ``values`` in time order, NaN for missing points. ``periods``: candidate periods of a
    seasonal cycle in points of the series as given (``[7]`` for the weekday on daily
    points, ``[24]`` for the hour of the day on hourly ones); ``None`` looks for one in the
    data, ``()`` skips the seasonal step. ``trend=False`` skips the trend (level shifts on a
    flat line only); ``serial=False`` takes the noise as independent. ``intervals=False``
    skips the bootstrap (the intervals are then NaN) when only the positions are wanted.
    ``seed`` makes the intervals reproducible.

        >>> detect_change_points([1.0] * 20 + [2.0] * 20, intervals=False).indices
        [20]
    """
    if min_size < 2:
        raise ValueError(f"min_size must be at least 2, not {min_size}")
    if penalty_factor <= 0:
        raise ValueError(f"penalty_factor must be positive, not {penalty_factor}")
    series = np.asarray(values, dtype=np.float64).reshape(-1)
    observed_at = np.flatnonzero(np.isfinite(series))
    observed = series[observed_at]
    use_log = bool(observed.size and np.all(observed > 0)) if log is None else log
    if use_log and np.any(observed <= 0):
        raise ValueError("log=True needs every observed value to be positive")
    scaled = np.log(observed) if use_log else observed
    cycle = seasonality(observed_at, scaled, periods=periods, penalty_factor=penalty_factor)
    adjusted = scaled - cycle.component
    phi = whitening_coefficient(adjusted) if serial else 0.0
    breaks, penalty, fitted = _fit(
        adjusted, observed_at, min_size, penalty_factor, phi, trend=trend
    )
    scaled = adjusted - fitted.trend if fitted else adjusted
    if use_log and min_relative_shift > 0:
        breaks = _drop_small(scaled, breaks, math.log1p(min_relative_shift))
    change_points = tuple(
        ChangePoint(
            index=int(observed_at[b]),
            shift=_widen(
                median_shift(
                    scaled[lo:b],
                    scaled[b:hi],
                    confidence=confidence,
                    n_resamples=n_resamples if intervals else 0,
                    seed=seed + k,
                ),
                phi,
                contrast_spread(fitted, slice(lo, b), slice(b, hi)) if fitted else 0.0,
            ),
        )
        for k, (lo, b, hi) in enumerate(
            zip([0, *breaks][:-1], breaks, [*breaks, scaled.size][1:], strict=True)
        )
    )
    return Detection(
        change_points=change_points,
        segments=_segments(series.size, observed, observed_at, breaks),
        points=series.size,
        observed=int(observed.size),
        log=use_log,
        penalty=penalty,
        period=cycle.period,
        slope=fitted.slope_per_point if fitted else 0.0,
        phi=phi,
        bends=tuple(int(observed_at[k]) for k in fitted.bends) if fitted else (),
    )


def _fit(
    adjusted: FloatArray,
    at: npt.NDArray[np.intp],
    min_size: int,
    penalty_factor: float,
    phi: float,
    *,
    trend: bool,
) -> tuple[list[int], float, TrendFit | None]:
    """Breaks, their search's penalty, and the trend they sit on (None for a flat line).

    The search proposes segmentations: of the series as it is, and of the series less the
    trend fitted under the segments last found (:func:`advisor.analysis.trend_fit.grow_bends`:
    a slope and the bends that pay), from the search's own segments and from none, until
    the segments repeat. Each proposal with its trend is scored
    (:mod:`advisor.analysis.trend_fit`) against the search's own segments on a flat line,
    and so are the models met while level shifts are taken away one at a time from the
    cheapest; the cheapest of all wins, so a series without a trend keeps exactly what the
    search alone finds.
    """
    breaks, penalty = _search(adjusted, min_size, penalty_factor, phi)
    scale = robust_scale(whiten(adjusted, phi))
    if not trend or scale == 0 or adjusted.size < 2 * min_size:
        return breaks, penalty, None
    t = at.astype(np.float64)
    price = penalty_factor / 2 * math.log(adjusted.size)
    penalties = {tuple(breaks): penalty}
    fits: dict[tuple[int, ...], TrendFit] = {}

    def sloped(segmentation: Sequence[int]) -> TrendFit:
        key = tuple(segmentation)
        if key not in fits:
            fits[key] = grow_bends(
                adjusted, t, key, phi=phi, scale=scale, price=price, min_size=min_size
            )
        return fits[key]

    for start in [breaks, []] if breaks else [breaks]:
        current = start
        for _ in range(MAX_ROUNDS):
            if tuple(current) in fits:
                break
            found, found_penalty = _search(
                adjusted - sloped(current).trend, min_size, penalty_factor, phi
            )
            penalties.setdefault(tuple(found), found_penalty)
            current = found
    flat = fit(adjusted, t, breaks, sloped=False, phi=phi, scale=scale, price=price)
    best = min([flat, *(sloped(p) for p in penalties)], key=lambda f: f.cost)
    # A bend under a staircase: the search keeps proposing steps where the trend bends, and
    # a bend may replace two or three of them at once. So level shifts are taken away one
    # at a time, the one whose loss costs least first, and the cheapest model on that path
    # wins; the path stops once PATIENCE removals in a row have found nothing cheaper.
    path, since = best, 0
    while path.breaks and since < PATIENCE:
        path = min(
            (sloped([b for b in path.breaks if b != drop]) for drop in path.breaks),
            key=lambda f: f.cost,
        )
        since = 0 if path.cost < best.cost else since + 1
        best = path if path.cost < best.cost else best
    if best is flat:
        return breaks, penalty, None
    return list(best.breaks), penalties.get(best.breaks, penalty), best


def _widen(shift: Shift, phi: float, spread: float) -> Shift:
    """The bootstrap interval, which resampled points as independent with the trend known,
    widened for AR(1) noise (:func:`advisor.analysis.serial.median_variance_factor`) and for
    the trend's own error (``spread``, its standard error on this shift), in quadrature on
    each side so that a skewed interval stays skewed."""
    if not (math.isfinite(shift.low) and math.isfinite(shift.high)):
        return shift
    if phi == 0 and spread == 0:
        return shift
    factor = median_variance_factor(phi)
    z = float(special.ndtri(0.5 + shift.confidence / 2))
    extra = (z * spread) ** 2
    below = math.sqrt(factor * (shift.estimate - shift.low) ** 2 + extra)
    above = math.sqrt(factor * (shift.high - shift.estimate) ** 2 + extra)
    return Shift(shift.estimate, shift.estimate - below, shift.estimate + above, shift.confidence)


def _search(
    scaled: FloatArray, min_size: int, penalty_factor: float, phi: float = 0.0
) -> tuple[list[int], float]:
    """Break positions (in observed points) found by PELT on the normal scores of the
    whitened series, and the penalty."""
    z = whiten(scaled, phi)
    offset = scaled.size - z.size  # whitening drops the first point
    n = z.size
    if n < 2 * min_size:
        return [], math.nan
    scores = normal_scores(z)
    scale = robust_scale(scores)
    if scale == 0:
        return [], math.nan  # a constant series: nothing to split
    penalty = penalty_factor * scale**2 * math.log(n)
    search = ruptures.KernelCPD(kernel="linear", min_size=min_size).fit(scores)
    ends: list[int] = search.predict(pen=penalty)
    return [int(b) + offset for b in ends[:-1]], penalty


def robust_scale(scores: FloatArray) -> float:
    """Noise scale of a series, barely moved by level shifts and outliers.

    The median absolute deviation of successive differences over sqrt(2); when more than half
    the differences are zero (heavily quantised data), their standard deviation over sqrt(2).
    """
    diffs = np.diff(scores)
    if diffs.size == 0:
        return 0.0
    # The median absolute deviation scaled to a normal SD (scipy.stats.median_abs_deviation
    # with scale="normal", whose argument checks cost ten times the arithmetic on short series).
    scale = float(np.median(np.abs(diffs - np.median(diffs)))) / MAD_TO_SD / math.sqrt(2)
    if scale <= ROUNDING * float(np.max(np.abs(diffs))):  # zero but for rounding
        scale = float(np.std(diffs)) / math.sqrt(2)
    return scale


def _drop_small(scaled: FloatArray, breaks: list[int], min_shift: float) -> list[int]:
    """Remove the smallest median shift while any is below ``min_shift``, merging segments."""
    kept = list(breaks)
    while kept:
        bounds = [0, *kept, scaled.size]
        medians = [float(np.median(scaled[a:b])) for a, b in itertools.pairwise(bounds)]
        shifts = [abs(after - before) for before, after in itertools.pairwise(medians)]
        smallest = int(np.argmin(shifts))
        if shifts[smallest] >= min_shift:
            break
        del kept[smallest]
    return kept


def _segments(
    points: int, observed: FloatArray, observed_at: npt.NDArray[np.intp], breaks: list[int]
) -> tuple[Segment, ...]:
    if observed.size == 0:
        return (Segment(0, points, math.nan, 0),) if points else ()
    bounds = [0, *breaks, observed.size]
    starts = [0, *(int(observed_at[b]) for b in breaks)]
    ends = [*starts[1:], points]
    return tuple(
        Segment(start=s, end=e, median=float(np.median(observed[a:b])), count=b - a)
        for s, e, (a, b) in zip(starts, ends, itertools.pairwise(bounds), strict=True)
    )
