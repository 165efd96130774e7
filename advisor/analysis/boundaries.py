"""Load times before and after a known version change, across the hosts that made it.

A host's version history (its inventories) says when an app changed version: the boundary
is the first inventory showing the new version; launches between the last inventory with
the old version and that one are left out, as either version may have run them. Because the
time is known, no search is needed and the comparison has the power of every launch on both
sides, pooled over the hosts that moved.

Method
------
- Per host, launches within ``window`` before and after its boundary (and not after ``now``:
  a skewed clock can put launches in the future). Hosts with fewer than ``min_before``
  launches before are left out (no baseline) and counted.
- Each host's log load times are centred on the median of its own launches before, so the
  pooled samples compare each host with itself: a fleet whose fast machines upgraded first
  does not show a shift that is only a change of mix.
- **Effect**: the relative change of the median, ``exp(median(after) - median(before)) - 1``
  of the centred logs, with a percentile bootstrap interval; beside it the Hodges-Lehmann
  shift (median of pairwise differences). :mod:`advisor.analysis.effects`.
- **Test**: Mann-Whitney U, two-sided, on the centred logs (``scipy.stats.mannwhitneyu``).
  Across many boundaries (app x version x department) :func:`compare_boundaries` adds
  Benjamini-Hochberg q-values (:mod:`advisor.analysis.fdr`).
- **Finding**: q-value at most ``alpha`` and a relative change of at least
  ``min_effect`` in size, with at least ``min_after`` launches after the change. The target
  the issue sets: shifts of 20 % or more with at least 30 launches after must be found.

Callers compare like with like: cold and warm starts are separate series (a cold start
takes twice as long, and their mix changes with the time of day).

The analysis job runs the vectorised form, :mod:`advisor.analysis.fleet_versions`; this module
is its reference, written out host by host, and a test checks that the two agree
(tests/advisor/analysis/test_fleet_versions_reference.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from scipy import stats

from advisor.analysis.effects import Shift, hodges_lehmann, median_shift
from advisor.analysis.fdr import q_values

__all__ = [
    "Boundary",
    "BoundaryComparison",
    "Distribution",
    "HostLaunches",
    "VersionSeen",
    "boundaries_from_history",
    "compare_at_boundary",
    "compare_boundaries",
]

FloatArray = npt.NDArray[np.float64]
K = TypeVar("K")
DAY_SECONDS = 86400.0
DEFAULT_WINDOW = 14 * DAY_SECONDS
DEFAULT_MIN_EFFECT = 0.1
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True, slots=True)
class VersionSeen:
    """An inventory of a host: ``version`` of the app was installed at ``at``."""

    at: float
    version: str


@dataclass(frozen=True, slots=True)
class Boundary:
    """``host_id`` moved from ``from_version`` to ``to_version``, first seen at ``at``.

    ``last_before`` is the last time the old version was seen (None when unknown); launches
    in ``[last_before, at)`` are left out of the comparison.
    """

    host_id: str
    at: float
    from_version: str
    to_version: str
    last_before: float | None = None


@dataclass(frozen=True, slots=True)
class HostLaunches:
    """Launch times ``t`` (seconds) and load times ``values`` (seconds) of one app on a host."""

    host_id: str
    t: npt.ArrayLike
    values: npt.ArrayLike


@dataclass(frozen=True, slots=True)
class Distribution:
    """Load times of one side (seconds, not centred): count and ``quantiles`` (10-90 %)."""

    count: int
    quantiles: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class BoundaryComparison:
    """Before against after one version boundary, pooled over the hosts that crossed it.

    ``shift`` is the median shift of the centred log load times (``shift.relative``: 0.2 is
    20 % slower), ``hodges_lehmann`` the relative Hodges-Lehmann shift. ``hosts`` compared,
    ``hosts_skipped`` without a baseline. NaN figures when a side is empty.
    """

    hosts: int
    hosts_skipped: int
    before: Distribution
    after: Distribution
    shift: Shift
    hodges_lehmann: float
    p_value: float
    q_value: float
    found: bool


def boundaries_from_history(host_id: str, history: Sequence[VersionSeen]) -> list[Boundary]:
    """Every version change in a host's inventories (in time order), as boundaries.

    >>> [b.to_version for b in boundaries_from_history("h", [VersionSeen(0, "1"),
    ...     VersionSeen(10, "1"), VersionSeen(20, "2")])]
    ['2']
    """
    found: list[Boundary] = []
    previous: VersionSeen | None = None
    for seen in sorted(history, key=lambda s: s.at):
        if previous is not None and seen.version != previous.version:
            found.append(
                Boundary(
                    host_id=host_id,
                    at=seen.at,
                    from_version=previous.version,
                    to_version=seen.version,
                    last_before=previous.at,
                )
            )
        previous = seen
    return found


def compare_at_boundary(
    launches: Sequence[HostLaunches],
    boundaries: Sequence[Boundary],
    *,
    now: float,
    window: float = DEFAULT_WINDOW,
    min_before: int = 5,
    min_after: int = 30,
    min_effect: float = DEFAULT_MIN_EFFECT,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> BoundaryComparison:
    """Compare load times before and after ``boundaries`` (one per host) across ``launches``.

    Hosts with a boundary but no launches are skipped; launches of hosts without a boundary
    are ignored. See the module docstring for the method and the finding rule.
    """
    by_host: dict[str, HostLaunches] = {h.host_id: h for h in launches}
    before_c: list[FloatArray] = []
    after_c: list[FloatArray] = []
    before_raw: list[FloatArray] = []
    after_raw: list[FloatArray] = []
    skipped = 0
    for boundary in boundaries:
        host = by_host.get(boundary.host_id)
        if host is None:
            skipped += 1
            continue
        before, after = _sides(host, boundary, now, window)
        if before.size < min_before:
            skipped += 1
            continue
        centre = float(np.median(np.log(before)))
        before_c.append(np.log(before) - centre)
        after_c.append(np.log(after) - centre)
        before_raw.append(before)
        after_raw.append(after)
    x = np.concatenate(before_c) if before_c else np.empty(0)
    y = np.concatenate(after_c) if after_c else np.empty(0)
    if x.size == 0 or y.size == 0:
        shift = Shift(math.nan, math.nan, math.nan, confidence)
        hl, p_value = math.nan, math.nan
    else:
        shift = median_shift(x, y, confidence=confidence, n_resamples=n_resamples, seed=seed)
        hl = math.expm1(hodges_lehmann(x, y, seed=seed))
        p_value = float(stats.mannwhitneyu(y, x, alternative="two-sided").pvalue)
    result = BoundaryComparison(
        hosts=len(before_c),
        hosts_skipped=skipped,
        before=_distribution(before_raw),
        after=_distribution(after_raw),
        shift=shift,
        hodges_lehmann=hl,
        p_value=p_value,
        q_value=p_value,
        found=False,
    )
    return _judge(result, alpha=alpha, min_effect=min_effect, min_after=min_after)


def compare_boundaries(
    groups: Mapping[K, tuple[Sequence[HostLaunches], Sequence[Boundary]]],
    *,
    now: float,
    window: float = DEFAULT_WINDOW,
    min_before: int = 5,
    min_after: int = 30,
    min_effect: float = DEFAULT_MIN_EFFECT,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> dict[K, BoundaryComparison]:
    """:func:`compare_at_boundary` for many groups (e.g. app x version x department), with
    Benjamini-Hochberg q-values across them deciding ``found``."""
    results = {
        key: compare_at_boundary(
            launches,
            boundaries,
            now=now,
            window=window,
            min_before=min_before,
            min_after=min_after,
            min_effect=min_effect,
            alpha=alpha,
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
        )
        for key, (launches, boundaries) in groups.items()
    }
    keys = list(results)
    q = q_values([results[k].p_value for k in keys])
    return {
        k: _judge(
            replace(results[k], q_value=float(qk)),
            alpha=alpha,
            min_effect=min_effect,
            min_after=min_after,
        )
        for k, qk in zip(keys, q, strict=True)
    }


def _sides(
    host: HostLaunches, boundary: Boundary, now: float, window: float
) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(host.t, dtype=np.float64).reshape(-1)
    v = np.asarray(host.values, dtype=np.float64).reshape(-1)
    if t.shape != v.shape:
        raise ValueError(f"host {host.host_id}: t has {t.size} points but values has {v.size}")
    usable = np.isfinite(v) & (v > 0) & (t <= now)
    old_until = boundary.at if boundary.last_before is None else boundary.last_before
    before = v[usable & (t >= boundary.at - window) & (t < old_until)]
    after = v[usable & (t >= boundary.at) & (t < boundary.at + window)]
    return before, after


def _distribution(parts: list[FloatArray]) -> Distribution:
    values = np.concatenate(parts) if parts else np.empty(0)
    if values.size == 0:
        return Distribution(0, tuple(math.nan for _ in QUANTILES))
    return Distribution(int(values.size), tuple(float(q) for q in np.quantile(values, QUANTILES)))


def _judge(
    result: BoundaryComparison, *, alpha: float, min_effect: float, min_after: int
) -> BoundaryComparison:
    found = bool(
        np.isfinite(result.q_value)
        and result.q_value <= alpha
        and result.after.count >= min_after
        and abs(result.shift.relative) >= min_effect
    )
    return replace(result, found=found)
