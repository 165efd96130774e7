"""Cold and warm starts: one finding when a change moved both alike, one per kind when not.

A cold start reads the app from disk, a warm one from the page cache: a new version, a slow
disk or memory pressure can move one and not the other. Pooling them dilutes a change of one
kind by the launches of the other (a 35 % slower cold start is a 10 % slower "launch" when
three of four launches are warm) and makes the mix of the day part of the effect. So every
effect is measured per start kind, and a finding names the kind in ``scope["start"]``
(``"cold"`` or ``"warm"``) unless the change is the same for both, when the scope says
nothing and the effect is measured on both (:func:`kinds_differ`, :func:`terms_differ`).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.host_effects import signed_rank_p, trimmed_mean

__all__ = ["KIND_NAMES", "both_kinds", "kinds_differ", "terms_differ", "with_start"]

FloatArray = npt.NDArray[np.float64]
KIND_NAMES = ("warm", "cold")
"""Start kinds by code: ``cold`` False is warm (0), True is cold (1)."""


def with_start(scope: dict[str, str], kind: int | None) -> dict[str, str]:
    """``scope`` with ``start`` set to the kind's name (``kind`` None: both, no key)."""
    return dict(scope) if kind is None else {**scope, "start": KIND_NAMES[kind]}


def split_margin(params: FleetParameters) -> float:
    """The smallest cold-warm difference (log scale) that splits a finding: the smallest
    effect worth a finding. A few hosts' cold starts (one a day) are noisy, and a lower bar
    split findings of equal effects now and then, changing their keys from run to run."""
    return math.log1p(params.min_effect)


def kinds_differ(cold_minus_warm: npt.ArrayLike, params: FleetParameters) -> bool:
    """Whether per-host differences ``cold shift - warm shift`` (hosts measured on both
    kinds) say the kinds moved differently: their trimmed mean at least
    :func:`split_margin` and their signed-rank p-value at most ``alpha``.

    >>> params = FleetParameters()
    >>> kinds_differ(np.full(20, 0.3) + np.linspace(-0.1, 0.1, 20), params)
    True
    >>> kinds_differ(np.linspace(-0.1, 0.12, 20), params)
    False
    """
    d = np.asarray(cold_minus_warm, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size < params.min_hosts:
        return False
    if abs(trimmed_mean(d)) < split_margin(params):
        return False
    p = signed_rank_p(d)
    return math.isfinite(p) and p <= params.alpha


def terms_differ(difference: float, low: float, high: float, params: FleetParameters) -> bool:
    """The same rule for a difference estimated with an interval (a model's interaction
    term): at least :func:`split_margin` and an interval that excludes zero."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return False
    return abs(difference) >= split_margin(params) and not low <= 0.0 <= high


def both_kinds(warm: FloatArray, cold: FloatArray) -> FloatArray:
    """Per host, the mean of its warm and cold shifts where it has both, else the one it has
    (NaN where it has neither): one value per host for a finding about both kinds."""
    both = np.where(np.isfinite(warm) & np.isfinite(cold), (warm + cold) / 2, np.nan)
    return np.asarray(np.where(np.isfinite(both), both, np.where(np.isfinite(warm), warm, cold)))
