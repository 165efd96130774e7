"""A tested candidate finding: what every fleet method hands to the run's false discovery control.

Each method (version changes, change points, trends, pressure, cohorts) turns its tests into
:class:`Candidate` values with a p-value. :mod:`advisor.analysis.fleet` puts every p-value of
the run through Benjamini-Hochberg, keeps candidates with ``q <= alpha`` and a large enough
effect, and only then computes their intervals (``interval``, a bootstrap over hosts): the
expensive part is paid for findings, not for the thousands of tests behind them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from advisor.analysis.findings import Cause, Kind, Quantiles

__all__ = ["Candidate", "fixed", "quantiles"]

IntArray = npt.NDArray[np.int64]


@dataclass
class Candidate:
    """One test that may become a finding; ``estimate`` and ``interval`` on the log scale.

    ``hosts`` are host codes; ``report`` False marks a candidate that counts as a test but
    is only reported under a condition its method checks (``keep``) once intervals are known.
    """

    kind: Kind
    app: str
    scope: dict[str, str]
    p_value: float
    estimate: float
    hosts: IntArray
    since: float
    before: Quantiles
    after: Quantiles
    cause: Cause
    confidence: float
    method: str
    interval: Callable[[], tuple[float, float]]
    detail: dict[str, float] = field(default_factory=dict)
    keep: Callable[[Candidate, tuple[float, float]], bool] | None = None
    q_value: float = math.nan


def quantiles(log_values: npt.ArrayLike, count: int | None = None) -> Quantiles:
    """10/50/90 % quantiles in seconds of log load times; ``count`` defaults to their number."""
    v = np.asarray(log_values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size if count is None else count)
    if v.size == 0:
        return Quantiles(n, math.nan, math.nan, math.nan)
    p10, p50, p90 = np.exp(np.quantile(v, [0.1, 0.5, 0.9]))
    return Quantiles(n, float(p10), float(p50), float(p90))


def fixed(bounds: tuple[float, float]) -> Callable[[], tuple[float, float]]:
    """An ``interval`` that is already known."""

    def interval() -> tuple[float, float]:
        return bounds

    return interval
