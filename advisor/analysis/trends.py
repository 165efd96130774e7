"""Slow trends in load time: how fast a series drifts, with an interval and a p-value.

Method
------
- On log load times (when every observed value is positive), so a slope is a rate of
  relative change; ``relative_per_30_days`` is ``exp(30 days x slope) - 1``.
- **Slope**: the Theil-Sen estimator (``scipy.stats.theilslopes``), the median of the slopes
  between all pairs of points: robust to up to 29 % of outliers, with a distribution-free
  interval from Kendall's tau.
- **Test**: the Mann-Kendall trend test, which is Kendall's tau between time and value
  (``scipy.stats.kendalltau``, tau-b, so ties are handled); its p-value feeds the false
  discovery control (:mod:`advisor.analysis.fdr`) when many series are tested. Neither
  corrects for serial correlation; the minimum relative change below guards against the
  small, "significant" drifts that produces.
- **Size**: a long series is first reduced to at most ``max_points`` medians of consecutive,
  equal-count chunks (Theil-Sen is quadratic in the number of points; a slow trend is
  visible in chunk medians, which also damp cold/warm start mixing).
- **Finding**: ``p_value`` (or its q-value across series) at most ``alpha`` and the relative
  change per 30 days at least ``min_relative_change`` in size.

A step (a version change) also shows as a trend; :mod:`advisor.analysis.changepoints` tells
them apart: a trend is a drift that no single change point explains. Its model is level
shifts on a bending line under AR(1) noise (:mod:`advisor.analysis.trend_fit`), fitted
jointly with the levels so that a shift between segments is not read as slope.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import stats

from advisor.analysis.fdr import q_values

__all__ = ["DAY_SECONDS", "Trend", "trend", "trends"]

DAY_SECONDS = 86400.0
WINDOW_DAYS = 30.0
DEFAULT_MAX_POINTS = 400
DEFAULT_MIN_RELATIVE_CHANGE = 0.05


@dataclass(frozen=True, slots=True)
class Trend:
    """The drift of one series.

    ``slope_per_day`` is on the analysis scale (log when ``log``); ``relative_per_30_days``
    and its ``interval`` are relative changes (0.1 = 10 % slower every 30 days); without
    logs (a series with values of 0 or less) they are absolute changes per 30 days.
    ``q_value`` is set by :func:`trends` (else equal to ``p_value``); ``found`` applies the
    rule of the module docstring. A series with fewer than 3 observed points has NaN figures.
    """

    slope_per_day: float
    relative_per_30_days: float
    interval: tuple[float, float]
    p_value: float
    q_value: float
    points: int
    log: bool
    found: bool


def trend(
    t: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    alpha: float = 0.05,
    min_relative_change: float = DEFAULT_MIN_RELATIVE_CHANGE,
    confidence: float = 0.95,
    max_points: int = DEFAULT_MAX_POINTS,
    log: bool | None = None,
) -> Trend:
    """The trend of ``values`` observed at times ``t`` (seconds); NaN values are missing.

    >>> days = np.arange(60) * DAY_SECONDS
    >>> round(trend(days, np.exp(0.01 * np.arange(60))).relative_per_30_days, 3)
    0.35
    """
    times = np.asarray(t, dtype=np.float64).reshape(-1)
    series = np.asarray(values, dtype=np.float64).reshape(-1)
    if times.shape != series.shape:
        raise ValueError(f"t has {times.size} points but values has {series.size}")
    keep = np.isfinite(series) & np.isfinite(times)
    times, series = times[keep], series[keep]
    use_log = bool(series.size and np.all(series > 0)) if log is None else log
    if use_log and np.any(series <= 0):
        raise ValueError("log=True needs every observed value to be positive")
    if series.size < 3:
        return Trend(
            math.nan, math.nan, (math.nan, math.nan), math.nan, math.nan, 0, use_log, False
        )
    scaled = np.log(series) if use_log else series
    days, level = _reduce(times / DAY_SECONDS, scaled, max_points)
    if np.ptp(days) == 0:
        return Trend(
            math.nan, math.nan, (math.nan, math.nan), math.nan, math.nan, 0, use_log, False
        )
    slope, _, low, high = stats.theilslopes(level, days, alpha=confidence)
    tau = stats.kendalltau(days, level)
    p_value = float(tau.pvalue) if np.isfinite(tau.pvalue) else 1.0
    per_window = _relative if use_log else _absolute
    relative = per_window(float(slope))
    result = Trend(
        slope_per_day=float(slope),
        relative_per_30_days=relative,
        interval=(per_window(float(low)), per_window(float(high))),
        p_value=p_value,
        q_value=p_value,
        points=int(series.size),
        log=use_log,
        found=False,
    )
    return _judge(result, alpha, min_relative_change)


def trends(
    series: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]],
    *,
    alpha: float = 0.05,
    min_relative_change: float = DEFAULT_MIN_RELATIVE_CHANGE,
    confidence: float = 0.95,
    max_points: int = DEFAULT_MAX_POINTS,
) -> list[Trend]:
    """The trends of many ``(t, values)`` series, judged on Benjamini-Hochberg q-values."""
    results = [
        trend(t, v, alpha=alpha, confidence=confidence, max_points=max_points) for t, v in series
    ]
    q = q_values([r.p_value for r in results])
    return [
        _judge(replace(r, q_value=float(qi)), alpha, min_relative_change)
        for r, qi in zip(results, q, strict=True)
    ]


def _judge(result: Trend, alpha: float, min_relative_change: float) -> Trend:
    found = bool(
        np.isfinite(result.q_value)
        and result.q_value <= alpha
        and abs(result.relative_per_30_days) >= min_relative_change
    )
    return replace(result, found=found)


def _relative(slope_per_day: float) -> float:
    return math.expm1(slope_per_day * WINDOW_DAYS)


def _absolute(slope_per_day: float) -> float:
    return slope_per_day * WINDOW_DAYS


def _reduce(
    days: npt.NDArray[np.float64], level: npt.NDArray[np.float64], max_points: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """At most ``max_points`` (median time, median value) pairs of consecutive chunks."""
    if days.size <= max_points:
        return days, level
    chunks = np.array_split(np.arange(days.size), max_points)
    return (
        np.array([np.median(days[c]) for c in chunks]),
        np.array([np.median(level[c]) for c in chunks]),
    )
