"""Serially correlated noise: an AR(1) coefficient that level shifts, slopes and outliers do
not move, and the whitening that turns such noise back into independent noise.

Why: the change-point penalty prices a change point against independent noise. Noise that
wanders (each point close to the one before: a queue that drains slowly, a cache that
warms over days, the level of a monthly economic series) looks quieter between neighbours
than it is, and every excursion then pays for a change point. On synthetic AR(1) noise
with phi 0.6, the search alone put a change point in 90-100 % of series
(docs/analysis.md). The model here is level shifts (and a trend) plus AR(1) noise, as in
Chakar, Lebarbier, Lévy-Leduc and Robin (2017, "A robust approach for estimating change
points in the mean of an AR(1) process"): estimate ``phi`` robustly, whiten, then search
the whitened series as if its noise were independent (Lavielle and Moulines 2000 show the
least-squares search stays consistent under such noise; whitening restores the penalty's
calibration).

Method
------
- **Estimate**: for AR(1) noise the first differences have lag-1 correlation
  ``-(1 - phi) / 2`` (``-1/2`` for independent noise, ``0`` for a random walk), so
  ``phi = 1 + 2 r``. Differences make a level shift one value and a slope a constant, which
  barely move a correlation. ``r`` is read off Kendall's tau (``scipy.stats.kendalltau``)
  through Greiner's relation ``r = sin(pi tau / 2)``, so outliers and heavy tails count as
  ranks. (Chakar et al.'s own estimator, the ratio of the median absolute differences at
  lags 2 and 1, needs Gaussian noise: on Student-t(4) innovations it read 0.6 as 0.8 and
  0.9 as 1.25; this one reads 0.6 and 0.86 and has half its spread.)
- **Used** as it comes, clipped to ``0 .. MAX_PHI``: no test first. On synthetic series
  (docs/analysis.md) a test at a parameter's usual price (as for a cycle or a slope) left
  AR(0.3) noise of 90 points unwhitened often enough for 12 % of series to get a false change
  point (0 % without the test), and found no more steps in independent noise: whitening
  independent noise with a small positive ``phi`` leaves it slightly anti-correlated, which
  errs on the side of fewer change points.
- **Whitening**: ``z[t] = y[t] - phi * y[t-1]`` (the first point has no predecessor and is
  dropped). A level shift ``d`` becomes a shift ``(1 - phi) d`` from its first point on,
  which gets ``d`` whole; the noise is the AR(1) innovations, independent again. phi is
  capped at ``MAX_PHI``: near 1 the noise is a random walk, in which a lasting shift and the
  walk's own steps look alike, and whitening would leave a shift nothing but its first point.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "MAX_PHI",
    "ar1_coefficient",
    "median_variance_factor",
    "whiten",
    "whitening_coefficient",
]

FloatArray = npt.NDArray[np.float64]

# Above this the noise is nearly a random walk (see the module docstring).
MAX_PHI = 0.95
# Fewest points for an estimate: Kendall's tau on fewer pairs says little.
MIN_POINTS = 12


def ar1_coefficient(values: npt.ArrayLike) -> float:
    """The AR(1) coefficient of ``values`` from the lag-1 Kendall's tau of their differences.

    Not clipped: independent noise gives values around 0 on either side.

        >>> rng = np.random.default_rng(0)
        >>> e = rng.standard_normal(5000)
        >>> ar = np.zeros(5000)
        >>> for i in range(1, 5000):
        ...     ar[i] = 0.6 * ar[i - 1] + e[i]
        >>> ar[2500:] += 3.0  # a level shift does not move it
        >>> round(ar1_coefficient(ar), 1)
        0.6
    """
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if y.size < MIN_POINTS:
        return 0.0
    d = np.diff(y)
    tau = stats.kendalltau(d[1:], d[:-1]).statistic
    if not np.isfinite(tau):
        return 0.0  # constant differences: a straight line, nothing to correlate
    return 1.0 + 2.0 * math.sin(math.pi * float(tau) / 2)


def whitening_coefficient(values: npt.ArrayLike) -> float:
    """The AR(1) coefficient to whiten ``values`` with: the estimate clipped to ``0 .. MAX_PHI``."""
    return min(max(ar1_coefficient(values), 0.0), MAX_PHI)


def whiten(values: FloatArray, phi: float) -> FloatArray:
    """``values[t] - phi * values[t-1]`` along the first axis, the first row dropped; the
    values themselves when ``phi`` is 0 (nothing is dropped then)."""
    if phi == 0:
        return values
    return np.asarray(values[1:] - phi * values[:-1], dtype=np.float64)


def median_variance_factor(phi: float) -> float:
    """How much AR(1) noise widens a median's sampling variance against independent noise.

    The median moves with the share of points above it; for Gaussian AR(1) noise the
    indicators of two points ``k`` apart correlate by ``(2 / pi) arcsin(phi**k)``, so the
    factor is ``1 + 2 * sum over k of that`` (less than ``(1 + phi) / (1 - phi)``, the mean's).

        >>> median_variance_factor(0.0)
        1.0
        >>> round(median_variance_factor(0.6), 2)
        2.98
    """
    if phi <= 0:
        return 1.0
    lags = math.ceil(math.log(1e-9) / math.log(phi)) if phi < 1 else 10_000
    powers = phi ** np.arange(1, max(lags, 1) + 1)
    return float(1 + 2 * np.sum(2 / math.pi * np.arcsin(powers)))
