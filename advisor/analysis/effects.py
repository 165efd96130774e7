"""Effect sizes of a shift between two samples, with bootstrap intervals.

Load times are compared on the log scale, so a shift is a ratio: ``exp(shift) - 1`` is the
relative change (0.2 = 20 % slower). Two estimators:

- the difference of medians of the log values: the relative change of the median load time.
  Its interval is a percentile bootstrap (``scipy.stats.bootstrap``, each sample resampled on
  its own); percentile rather than BCa because BCa's jackknife is quadratic in the sample
  size, and fleet samples run to tens of thousands of launches.
- the Hodges-Lehmann shift: the median of all pairwise differences ``after - before``, more
  efficient than the difference of medians on heavy-tailed data. Above ``max_pairs`` pairs
  it is computed on a seeded random subsample of each side (reported as such).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["Shift", "hodges_lehmann", "median_shift"]

FloatArray = npt.NDArray[np.float64]
# Resampled values held in memory at once by the bootstrap (8 bytes each).
BOOTSTRAP_BATCH_VALUES = 2_000_000


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift on the log scale and its interval; ``relative`` is ``exp(shift) - 1``.

    ``Shift(estimate=0.182, low=0.1, high=0.26, confidence=0.95)`` reads "20 % slower,
    between 10.5 % and 29.7 % slower at 95 % confidence" (``relative``, ``relative_interval``).
    The interval is NaN when a sample is too small to resample.
    """

    estimate: float
    low: float
    high: float
    confidence: float

    @property
    def relative(self) -> float:
        """The relative change, ``exp(estimate) - 1``."""
        return math.expm1(self.estimate)

    @property
    def relative_interval(self) -> tuple[float, float]:
        """The interval of the relative change."""
        return math.expm1(self.low), math.expm1(self.high)


def _median_difference(
    before: FloatArray, after: FloatArray, axis: int = -1
) -> FloatArray | np.float64:
    return np.median(after, axis=axis) - np.median(before, axis=axis)


def median_shift(
    before: npt.ArrayLike,
    after: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> Shift:
    """``median(after) - median(before)`` with a percentile bootstrap interval.

    Inputs are on the scale the shift is wanted in (log load times for ratios). With fewer
    than two values on a side, or ``n_resamples=0``, the interval is NaN.
    """
    x = np.asarray(before, dtype=np.float64)
    y = np.asarray(after, dtype=np.float64)
    if x.size == 0 or y.size == 0:
        raise ValueError("a shift needs values before and after")
    estimate = float(_median_difference(x, y))
    if x.size < 2 or y.size < 2 or n_resamples == 0:
        return Shift(estimate, math.nan, math.nan, confidence)
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        # Every resample gives the same value: the bootstrap would warn about a degenerate
        # distribution; the interval is the point.
        return Shift(estimate, estimate, estimate, confidence)
    result = stats.bootstrap(
        (x, y),
        _median_difference,
        n_resamples=n_resamples,
        batch=max(1, BOOTSTRAP_BATCH_VALUES // (x.size + y.size)),
        vectorized=True,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Shift(estimate, float(low), float(high), confidence)


def hodges_lehmann(
    before: npt.ArrayLike, after: npt.ArrayLike, *, max_pairs: int = 1_000_000, seed: int = 0
) -> float:
    """The Hodges-Lehmann shift: the median of every difference ``after[j] - before[i]``.

    Above ``max_pairs`` pairs each side is subsampled (without replacement, seeded) to about
    ``sqrt(max_pairs)`` values, which keeps memory bounded on fleet-sized samples.
    """
    x = np.asarray(before, dtype=np.float64)
    y = np.asarray(after, dtype=np.float64)
    if x.size == 0 or y.size == 0:
        raise ValueError("a shift needs values before and after")
    if x.size * y.size > max_pairs:
        rng = np.random.default_rng(seed)
        side = max(1, math.isqrt(max_pairs))
        if x.size > side:
            x = rng.choice(x, size=side, replace=False)
        if y.size > side:
            y = rng.choice(y, size=side, replace=False)
    return float(np.median(np.subtract.outer(y, x)))
