"""Multiple-testing control across many series: Benjamini-Hochberg false discovery rate.

A fleet analysis tests thousands of series (app x host, app x version x department) at once;
at a 5 % level per test, hundreds would be "significant" by chance. Benjamini-Hochberg keeps
the expected share of false findings among the reported ones at ``alpha`` instead
(``scipy.stats.false_discovery_control``, valid for independent or positively dependent
tests, which is what series of one fleet are). Missing p-values (NaN: a test that could not
run) are left out of the count and stay NaN.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["discoveries", "q_values"]

FloatArray = npt.NDArray[np.float64]


def q_values(p_values: npt.ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order given.

    A test is a discovery at false discovery rate ``alpha`` when its q-value is at most
    ``alpha``. NaN p-values stay NaN and do not count as tests.

        >>> q_values([0.01, 0.04, 0.03, 0.2]).round(3).tolist()
        [0.04, 0.053, 0.053, 0.2]
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    q = np.full(p.shape, np.nan)
    tested = np.isfinite(p)
    if tested.any():
        clipped = np.clip(p[tested], 0.0, 1.0)
        q[tested] = stats.false_discovery_control(clipped, method="bh")
    return q


def discoveries(p_values: npt.ArrayLike, alpha: float = 0.05) -> npt.NDArray[np.bool_]:
    """Which tests are discoveries with the false discovery rate controlled at ``alpha``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    q = q_values(p_values)
    return np.asarray(np.isfinite(q) & (q <= alpha))
