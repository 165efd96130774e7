"""Level shifts on a bending line under AR(1) noise: the fit and the price that choose among
segmentations in :mod:`advisor.analysis.changepoints`.

Why: the change-point search (PELT on normal scores) sees only ranks, so it cannot carry a
slope, nor tell a bend from a step. A trend that changes its rate (flat, then rising; up,
then back down) left a staircase of level shifts under a single straight line: on
synthetic bends of +40 % over half a series, false change points in 94-100 % of series.
Here the trend is a continuous piecewise-linear line: a slope, and *bends* where the slope
changes (the "changes in slope" model of Fearnhead, Maidstone and Letchford 2019), under
the levels of the segments; the search proposes the segments, this module fits and prices
each proposal.

Method
------
- **Model**: the log series is a level per segment, plus (optionally) a slope and a hinge
  ``max(t - t_k, 0)`` per bend ``k``, plus AR(1) noise (:mod:`advisor.analysis.serial`).
- **Fit**: the model's columns and the series are whitened alike (``x[t] - phi x[t-1]``),
  which makes this generalised least squares under the AR(1) noise, and fitted by Huber's
  M-estimator (iteratively reweighted least squares, ``numpy.linalg.lstsq``) with the
  noise scale held fixed: a normal likelihood up to ``HUBER`` noise scales and linear
  beyond, so outliers cannot dominate. Huber's loss is convex, so the reweighting finds its
  minimum from any start.
- **Price**: the criterion is twice Huber's loss in units of the innovations' scale plus
  ``penalty_factor / 2 * log(n)`` per parameter: 2 per level shift (a level and a
  location, as in the search), ``SLOPE_PRICE`` for a slope and ``BEND_PRICE`` per bend
  (priced like the slope it starts; why, at the constant).
- **Bends** are added one at a time (forward selection): the best place for one more bend
  is the hinge that most reduces the weighted residual sum of squares once the model's
  columns are projected out (all places at once, one QR factorisation), on a grid of at
  most ``MAX_CANDIDATES`` places at least ``min_size`` points from the ends and from other
  bends; it is kept when the refitted criterion falls.
- **Uncertainty**: the trend's coefficients have Huber's asymptotic covariance (Huber
  1981, 7.6) from the whitened design, so a shift measured on the series less its trend can
  add the trend's own error to its interval.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from advisor.analysis.serial import whiten

__all__ = ["BEND_PRICE", "HUBER", "SLOPE_PRICE", "TrendFit", "fit", "grow_bends"]

FloatArray = npt.NDArray[np.float64]

# Huber's constant, in noise scales: 95 % efficiency on normal noise.
HUBER = 1.345
# What a slope costs, in parameters' prices. A slope explains 3/4 of a step halfway along a
# series, so at 1 (its count of parameters) such steps in short noisy series were read as
# drifts; at 2 (a change point's price) weak drifts came back as one step. On synthetic
# series of 90 and 300 points (docs/analysis.md) 1.5 finds more of both.
SLOPE_PRICE = 1.5
# What a bend costs, in parameters' prices. Counted, a location and a change of slope (2);
# charged like the slope it starts (1.5), on synthetic series (independent and AR(0.6)
# noise, flat, straight, bent and arched means, no step or one of 35 %, 90/300/1,000
# points, 40 series a cell) it left a false change point in 5.5 % of series without a
# step (2: 8.3 %) and found 83.1 % of steps once at their place (2: 80.1 %); at 1,
# 2.7 % and 81.5 %, bends taking the place of steps.
BEND_PRICE = 1.5
# Most places tried at first for one more bend (then every place near the best), and most bends.
MAX_CANDIDATES = 50
MAX_BENDS = 8
# Reweighting stops when no fitted value moves by more than this share of the noise scale.
TOLERANCE = 1e-4
MAX_ITERATIONS = 50


@dataclass(frozen=True, slots=True)
class TrendFit:
    """One proposal fitted: segments (``breaks``, indices of observed points that start a
    new one), whether it has a slope, its ``bends`` (observed points where the slope
    changes), the ``trend`` at every observed point (0 at the first; the levels carry the
    rest), the trend's design, the whitened design of the whole model, and its ``cost`` (the
    criterion); ``residual`` (whitened, in noise scales) and Huber's ``weights`` per point."""

    breaks: tuple[int, ...]
    sloped: bool
    bends: tuple[int, ...]
    trend: FloatArray
    trend_design: FloatArray
    whitened_design: FloatArray
    scale: float
    slope_per_point: float
    cost: float
    weights: FloatArray
    residual: FloatArray


def _levels(n: int, breaks: Sequence[int]) -> FloatArray:
    bounds = [0, *breaks, n]
    out = np.zeros((n, len(bounds) - 1))
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        out[lo:hi, k] = 1.0
    return out


def _trend_columns(u: FloatArray, sloped: bool, bends: Sequence[int]) -> FloatArray:
    if not sloped:
        return np.zeros((u.size, 0))
    return np.column_stack([u, *(np.maximum(u - u[k], 0.0) for k in bends)])


def _huber_loss(r: FloatArray) -> float:
    a = np.abs(r)
    return float(np.where(a <= HUBER, a**2, 2 * HUBER * a - HUBER**2).sum())


def fit(
    y: FloatArray,
    u: FloatArray,
    breaks: Sequence[int],
    *,
    sloped: bool,
    bends: Sequence[int] = (),
    phi: float,
    scale: float,
    price: float,
) -> TrendFit:
    """Huber's fit of levels on a bending line to ``y`` at times ``u`` (any unit; the slope
    is reported per unit of ``u``), under AR(1) noise of coefficient ``phi`` whose
    innovations have robust scale ``scale``; ``price`` is one parameter's price."""
    n = y.size
    levels = _levels(n, breaks)
    trend_cols = _trend_columns(u, sloped, bends)
    design = np.hstack([levels, trend_cols])
    xw, yw = whiten(design, phi), whiten(y, phi)
    # Start from the segment medians, a robust start that keeps the iterations few.
    medians = np.concatenate(
        [np.median(y[lo:hi], keepdims=True) for lo, hi in itertools.pairwise([0, *breaks, n])]
    )
    beta = np.r_[medians, np.zeros(trend_cols.shape[1])]
    fitted = xw @ beta
    for _ in range(MAX_ITERATIONS):
        weights = np.minimum(1.0, HUBER * scale / np.maximum(np.abs(yw - fitted), 1e-300))
        root = np.sqrt(weights)
        beta, *_ = np.linalg.lstsq(xw * root[:, None], yw * root, rcond=None)
        moved = float(np.max(np.abs(xw @ beta - fitted)))
        fitted = xw @ beta
        if moved < TOLERANCE * scale:
            break
    r = (yw - xw @ beta) / scale
    weights = np.minimum(1.0, HUBER / np.maximum(np.abs(r), 1e-12))
    p_trend = trend_cols.shape[1]
    trend = trend_cols @ beta[levels.shape[1] :] if p_trend else np.zeros(n)
    parameters = 2 * len(breaks) + (SLOPE_PRICE + BEND_PRICE * len(bends) if sloped else 0.0)
    slope = float(beta[levels.shape[1] :].sum()) if p_trend else 0.0
    return TrendFit(
        breaks=tuple(breaks),
        sloped=sloped,
        bends=tuple(bends),
        trend=np.asarray(trend, dtype=np.float64),
        trend_design=trend_cols,
        whitened_design=xw,
        scale=scale,
        slope_per_point=slope,
        cost=_huber_loss(r) + price * parameters,
        weights=weights,
        residual=r,
    )


def _huber_covariance(xw: FloatArray, r: FloatArray, scale: float) -> FloatArray:
    """Huber's (1981) asymptotic covariance of an M-estimate with fixed scale:
    ``scale**2 * mean(psi**2) / mean(psi')**2 * inv(X'X)``."""
    psi = np.clip(r, -HUBER, HUBER)
    inside = float(np.mean(np.abs(r) <= HUBER))
    if inside == 0 or xw.shape[1] == 0:
        return np.zeros((xw.shape[1], xw.shape[1]))
    factor = float(np.mean(psi**2)) / inside**2
    return np.asarray(scale**2 * factor * np.linalg.pinv(xw.T @ xw), dtype=np.float64)


def _best_bend(
    current: TrendFit, y: FloatArray, u: FloatArray, phi: float, min_size: int
) -> int | None:
    """The place where one more bend reduces the weighted residual sum of squares most: on
    a grid of at most ``MAX_CANDIDATES`` places, then every place between the best one's
    neighbours on that grid (a bend's place matters to the fit only within a few points)."""
    n = y.size
    taken = np.array(current.bends, dtype=np.intp)

    def allowed(places: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        places = places[(places >= min_size) & (places <= n - min_size)]
        if taken.size:
            places = places[np.min(np.abs(places[:, None] - taken[None, :]), axis=1) >= min_size]
        return places

    stride = max(1, (n - 2 * min_size) // MAX_CANDIDATES)
    coarse = allowed(np.arange(min_size, n - min_size + 1, stride))
    if coarse.size == 0:
        return None
    root = np.sqrt(current.weights)
    design = np.hstack([_levels(n, current.breaks), current.trend_design])
    q, _ = np.linalg.qr(whiten(design, phi) * root[:, None])
    residual = current.residual * root

    def gains(places: npt.NDArray[np.intp]) -> FloatArray:
        hinges = whiten(np.maximum(u[:, None] - u[places][None, :], 0.0), phi) * root[:, None]
        hinges -= q @ (q.T @ hinges)
        norms = np.einsum("ij,ij->j", hinges, hinges)
        explained = (residual @ hinges) ** 2
        return np.where(norms > 1e-12 * np.max(norms), explained / np.maximum(norms, 1e-300), 0.0)

    coarse_gain = gains(coarse)
    best = int(coarse[int(np.argmax(coarse_gain))])
    if stride > 1:
        fine = allowed(np.arange(best - stride + 1, best + stride))
        fine_gain = gains(fine)
        best = int(fine[int(np.argmax(fine_gain))])
        return best if float(np.max(fine_gain)) > 0 else None
    return best if float(np.max(coarse_gain)) > 0 else None


def grow_bends(
    y: FloatArray,
    u: FloatArray,
    breaks: Sequence[int],
    *,
    phi: float,
    scale: float,
    price: float,
    min_size: int,
) -> TrendFit:
    """The cheapest of: a straight line under ``breaks``, and the same with the bends that
    forward selection adds while the criterion falls."""
    best = fit(y, u, breaks, sloped=True, phi=phi, scale=scale, price=price)
    while len(best.bends) < MAX_BENDS:
        place = _best_bend(best, y, u, phi, min_size)
        if place is None:
            break
        bends = sorted([*best.bends, place])
        candidate = fit(y, u, breaks, sloped=True, bends=bends, phi=phi, scale=scale, price=price)
        if not candidate.cost < best.cost:
            break
        best = candidate
    return best


def contrast_spread(fitted: TrendFit, before: slice, after: slice) -> float:
    """Standard error that the trend's own error adds to a shift of medians between the
    points ``before`` and ``after`` of the series less its trend."""
    if fitted.trend_design.shape[1] == 0:
        return 0.0
    p = fitted.trend_design.shape[1]
    covariance = _huber_covariance(fitted.whitened_design, fitted.residual, fitted.scale)
    c = fitted.trend_design[after].mean(axis=0) - fitted.trend_design[before].mean(axis=0)
    return math.sqrt(max(float(c @ covariance[-p:, -p:] @ c), 0.0))
