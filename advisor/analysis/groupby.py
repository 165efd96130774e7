"""Vectorised group-bys for the fleet analysis: medians and bootstraps without Python loops.

Tens of millions of launches are grouped (by host, app, day, ...) with one sort each. A
group median needs the values sorted within their group; instead of a two-key ``lexsort``
(slow on that many rows) the group code and the value are packed into one float,
``group + 0.5 * (value - low) / span``, which ``np.sort`` orders in a few hundred
milliseconds; the values are unpacked from the sorted keys afterwards. The packing costs
precision: ``span * 2**(bits(groups) - 51)``, about 1e-5 on a log scale of span 10 with
``2**33`` groups, far below anything a load time can tell.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "GroupMedians",
    "GroupQuantiles",
    "bootstrap_median",
    "group_means",
    "group_medians",
    "group_quantiles",
    "histogram_medians",
]

FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
MAX_GROUP_BITS = 40  # beyond this the packed values lose more than 1e-3 of their span


class GroupMedians:
    """Per group present (ascending ``group`` codes): how many values and their median."""

    __slots__ = ("count", "group", "median")

    def __init__(self, group: Int64Array, count: Int64Array, median: FloatArray) -> None:
        self.group = group
        self.count = count
        self.median = median

    def __len__(self) -> int:
        return len(self.group)


class GroupQuantiles:
    """Per group present (ascending ``group`` codes): how many values, and ``quantiles``
    (groups x probabilities) interpolated linearly, as ``np.quantile``'s default does."""

    __slots__ = ("count", "group", "quantiles")

    def __init__(self, group: Int64Array, count: Int64Array, quantiles: FloatArray) -> None:
        self.group = group
        self.count = count
        self.quantiles = quantiles

    def __len__(self) -> int:
        return len(self.group)


def group_quantiles(
    group: npt.ArrayLike, values: npt.ArrayLike, probabilities: npt.ArrayLike
) -> GroupQuantiles:
    """The ``probabilities`` quantiles of ``values`` in each group (non-negative integer
    codes); NaN values dropped. One packed sort, as :func:`group_medians`.

    >>> g = group_quantiles([1, 1, 1, 1, 0], [4.0, 1.0, 3.0, 2.0, 7.0], [0.0, 0.5, 0.9])
    >>> g.group.tolist(), g.count.tolist(), np.round(g.quantiles, 6).tolist()
    ([0, 1], [1, 4], [[7.0, 7.0, 7.0], [1.0, 2.5, 3.7]])
    """
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    sorted_codes, unpacked = _packed_sort(group, values)
    if sorted_codes.size == 0:
        return GroupQuantiles(
            np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, probs.size))
        )
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    counts = np.diff(np.r_[starts, sorted_codes.size])
    position = (counts - 1)[:, None] * probs[None, :]
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, (counts - 1)[:, None])
    share = position - below
    low = unpacked[starts[:, None] + below]
    high = unpacked[starts[:, None] + above]
    return GroupQuantiles(sorted_codes[starts], counts.astype(np.int64), low + (high - low) * share)


def _packed_sort(group: npt.ArrayLike, values: npt.ArrayLike) -> tuple[Int64Array, FloatArray]:
    """Group codes and values (NaN dropped) sorted by group, then value (module docstring)."""
    codes = np.asarray(group, dtype=np.int64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    keep = np.isfinite(v)
    codes, v = codes[keep], v[keep]
    if codes.size == 0:
        return np.empty(0, np.int64), np.empty(0)
    if codes.min() < 0 or int(codes.max()).bit_length() > MAX_GROUP_BITS:
        raise ValueError(f"group codes must lie in [0, 2**{MAX_GROUP_BITS}), not {codes.max()}")
    low = float(v.min())
    span = float(v.max()) - low or 1.0
    key = codes.astype(np.float64)
    key += (v - low) * (0.5 / span)
    key.sort()
    sorted_codes = np.floor(key).astype(np.int64)
    unpacked = (key - sorted_codes) * (span / 0.5) + low
    return sorted_codes, unpacked


def group_medians(group: npt.ArrayLike, values: npt.ArrayLike) -> GroupMedians:
    """The median of ``values`` in each group (non-negative integer codes); NaN values dropped.

    >>> g = group_medians([2, 0, 2, 2, 0], [5.0, 1.0, 1.0, 3.0, 2.0])
    >>> g.group.tolist(), g.count.tolist(), np.round(g.median, 6).tolist()
    ([0, 2], [2, 3], [1.5, 3.0])
    """
    sorted_codes, unpacked = _packed_sort(group, values)
    if sorted_codes.size == 0:
        return GroupMedians(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    counts = np.diff(np.r_[starts, sorted_codes.size])
    lower = unpacked[starts + (counts - 1) // 2]
    upper = unpacked[starts + counts // 2]
    return GroupMedians(sorted_codes[starts], counts.astype(np.int64), (lower + upper) / 2)


def group_means(group: npt.ArrayLike, values: npt.ArrayLike, size: int) -> FloatArray:
    """The mean of ``values`` per group code ``0..size-1`` (NaN values and empty groups: NaN).

    >>> group_means([0, 0, 2], [1.0, 3.0, float("nan")], 3).tolist()
    [2.0, nan, nan]
    """
    codes = np.asarray(group, dtype=np.int64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    keep = np.isfinite(v)
    sums = np.bincount(codes[keep], weights=v[keep], minlength=size)
    counts = np.bincount(codes[keep], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def bootstrap_median(
    values: npt.ArrayLike, *, confidence: float, n_resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of the median of ``values`` (e.g. one shift per host)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2 or n_resamples < 1:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    # Bounded memory: resample in batches of about a million values.
    batch = max(1, 1_000_000 // v.size)
    medians = np.concatenate(
        [
            np.median(v[rng.integers(0, v.size, (min(batch, n_resamples - done), v.size))], axis=1)
            for done in range(0, n_resamples, batch)
        ]
    )
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)


def histogram_medians(histograms: FloatArray, edges: FloatArray) -> FloatArray:
    """The median of each row of binned counts (rows x bins), interpolated within its bin."""
    cumulative = np.cumsum(histograms, axis=1)
    half = cumulative[:, -1:] / 2
    index = np.minimum((cumulative < half).sum(axis=1), histograms.shape[1] - 1)
    rows = np.arange(histograms.shape[0])
    below = np.where(index > 0, cumulative[rows, np.maximum(index - 1, 0)], 0.0)
    inside = histograms[rows, index]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(inside > 0, (half[:, 0] - below) / inside, 0.5)
    width = edges[1] - edges[0]
    return np.asarray(edges[index] + np.clip(share, 0.0, 1.0) * width, dtype=np.float64)
