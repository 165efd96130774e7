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

__all__ = ["Candidate", "fixed"]

IntArray = npt.NDArray[np.int64]


@dataclass
class Candidate:
    """One test that may become a finding; ``estimate`` and ``interval`` on the log scale.

    ``hosts`` are host codes, the hosts the effect is measured on. ``sides`` gives the
    load-time distributions compared (before, after), computed for findings only.
    ``keep``, when set, is a condition its method checks once the interval is known (a
    department of a rollout is reported apart only where it differs from the whole).
    ``remeasure``, when set, gives the same finding measured without some hosts (None when
    it no longer holds): a department's change found on hosts that a more precise finding
    already explains.
    """

    kind: Kind
    app: str
    scope: dict[str, str]
    p_value: float
    estimate: float
    hosts: IntArray
    since: float
    sides: Callable[[], tuple[Quantiles, Quantiles]]
    cause: Cause
    confidence: float
    method: str
    interval: Callable[[], tuple[float, float]]
    detail: dict[str, float] = field(default_factory=dict)
    keep: Callable[[Candidate, tuple[float, float]], bool] | None = None
    remeasure: Callable[[IntArray], Candidate | None] | None = None
    q_value: float = math.nan


def fixed(bounds: tuple[float, float]) -> Callable[[], tuple[float, float]]:
    """An ``interval`` that is already known."""

    def interval() -> tuple[float, float]:
        return bounds

    return interval
