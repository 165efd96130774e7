"""Synthetic load-time series for the analysis tests: log-normal levels, heavy tails, outliers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def heavy_tailed(
    rng: np.random.Generator,
    n: int,
    *,
    sigma: float = 0.25,
    df: float = 3.0,
    outliers: float = 0.02,
) -> FloatArray:
    """``n`` load times around 1 s: Student-t noise on the log scale, plus a share of
    ``outliers`` 3-10 times slower (a cold cache, a stalled disk)."""
    values = np.exp(sigma * rng.standard_t(df, size=n))
    hit = rng.random(n) < outliers
    values[hit] *= rng.uniform(3.0, 10.0, size=int(hit.sum()))
    return values


def steps(
    rng: np.random.Generator, n: int, changes: dict[int, float], **noise: float
) -> FloatArray:
    """Heavy-tailed load times whose level is multiplied by ``1 + effect`` from each index on."""
    values = heavy_tailed(rng, n, **noise)
    for index, effect in changes.items():
        values[index:] *= 1.0 + effect
    return values
