"""Change points in one series of load times: where its level shifted, and by how much.

Method
------
1. **Gaps**: missing values (NaN, infinities) are dropped; indices are mapped back, so a
   change point is the index, in the series as given, of the first *observed* point of the
   new segment.
2. **Scale**: load times are compared as ratios, so the series is taken in logs
   (``log=None``: when every observed value is positive; ``log=False`` for series that
   may be zero or negative).
3. **Robust cost**: the values are replaced by their normal scores (the rank of each value,
   mapped through the inverse normal CDF: van der Waerden scores). Ranks make the search
   blind to how far an outlier lies and to heavy tails: a 60 s timeout weighs as much as any
   other slowest launch. A least-squares cost on ranks is the rank cost of ``ruptures``
   (``CostRank``, Lung-Yut-Fong, Pham and Celisse 2015); normal scores instead of raw ranks
   keep its robustness and give the scores unit variance, so the penalty below has its
   usual meaning. The search is ``ruptures.KernelCPD`` with the linear kernel: PELT on the
   least-squares cost, exact, in compiled code (``ruptures.Pelt(model="l2")`` on the same
   scores gives the same segmentation hundreds of times slower).
4. **Penalty** (the price of one more change point): ``penalty_factor * s**2 * log(n)``, a
   BIC-like rule with ``s`` a robust scale of the scores: the median absolute deviation of
   successive differences over sqrt(2), which level shifts themselves barely move.
   ``penalty_factor=3`` is 1.5 times the classical BIC's 2 (one level and one location per
   change point): on stationary heavy-tailed noise (Student-t with 3 degrees of freedom plus
   2 % outliers at 3-10x) it flags fewer than 1 % of series of 100-2,000 points, about 2 %
   of 30-point ones (tests/advisor/analysis/test_changepoints.py keeps the 1 % bound; the
   table is in docs/analysis.md), while a 35 % shift with 30 points after it, at the
   simulator's noise, is placed within 3 points in 80 % of series.
5. **Minimum segment** ``min_size`` (default 10 points): a level held for fewer points is a
   burst (an outage, a batch of cold starts), not a new level.
6. **Practical size**: change points whose relative shift of the median is below
   ``min_relative_shift`` (default 5 %) are removed, smallest first, and the segments on
   either side merged; on the log scale only.

Each change point reports the shift of the median between the segments either side of it
(on the log scale: ``relative`` = ``exp(shift) - 1``) with a percentile bootstrap interval
(:mod:`advisor.analysis.effects`). The search yields no p-value: the segments are chosen to
differ, so a test between them would be optimistic. Across many series, the penalty bounds
the false-positive rate per series; :mod:`advisor.analysis.boundaries` and
:mod:`advisor.analysis.trends` provide p-values for false discovery control.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import ruptures
from scipy import stats

from advisor.analysis.effects import Shift, median_shift
from advisor.analysis.parameters import (
    DEFAULT_MIN_RELATIVE_SHIFT,
    DEFAULT_MIN_SIZE,
    DEFAULT_PENALTY_FACTOR,
)

__all__ = ["ChangePoint", "Detection", "Segment", "detect_change_points", "robust_scale"]

FloatArray = npt.NDArray[np.float64]


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
    """The change points of a series, its segments and how they were found."""

    change_points: tuple[ChangePoint, ...]
    segments: tuple[Segment, ...]
    points: int
    observed: int
    log: bool
    penalty: float

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
    intervals: bool = True,
    confidence: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> Detection:
    """Change points of one series; see the module docstring for the method.

    ``values`` in time order, NaN for missing points. ``intervals=False`` skips the bootstrap
    (the intervals are then NaN) when only the positions are wanted. ``seed`` makes the
    intervals reproducible.

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

    breaks, penalty = _search(scaled, min_size, penalty_factor)
    if use_log and min_relative_shift > 0:
        breaks = _drop_small(scaled, breaks, math.log1p(min_relative_shift))
    change_points = tuple(
        ChangePoint(
            index=int(observed_at[b]),
            shift=median_shift(
                scaled[lo:b],
                scaled[b:hi],
                confidence=confidence,
                n_resamples=n_resamples if intervals else 0,
                seed=seed + k,
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
    )


def _search(scaled: FloatArray, min_size: int, penalty_factor: float) -> tuple[list[int], float]:
    """Break positions (in observed points) found by PELT on normal scores, and the penalty."""
    n = scaled.size
    if n < 2 * min_size:
        return [], math.nan
    scores = stats.norm.ppf(stats.rankdata(scaled) / (n + 1))
    scale = robust_scale(scores)
    if scale == 0:
        return [], math.nan  # a constant series: nothing to split
    penalty = penalty_factor * scale**2 * math.log(n)
    search = ruptures.KernelCPD(kernel="linear", min_size=min_size).fit(scores)
    ends: list[int] = search.predict(pen=penalty)
    return [int(b) for b in ends[:-1]], penalty


def robust_scale(scores: FloatArray) -> float:
    """Noise scale of a series, barely moved by level shifts and outliers.

    The median absolute deviation of successive differences over sqrt(2); when more than half
    the differences are zero (heavily quantised data), their standard deviation over sqrt(2).
    """
    diffs = np.diff(scores)
    if diffs.size == 0:
        return 0.0
    scale = float(stats.median_abs_deviation(diffs, scale="normal")) / math.sqrt(2)
    if scale == 0:
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
