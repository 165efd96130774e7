"""Vectorised group-bys for the fleet analysis: medians, quantiles and means without Python loops.

Tens of millions of launches are grouped (by host, app, day, ...) with one sort each. A
group median needs the values sorted within their group; instead of a two-key ``lexsort``
(slow on that many rows) the group code and the value are packed into one float,
``group + 0.5 * (value - low) / span``, which ``np.sort`` orders in a few hundred
milliseconds; the values are unpacked from the sorted keys afterwards. The packing costs
precision: ``span * 2**(bits(groups) - 51)``, about 1e-5 on a log scale of span 10 with
``2**33`` groups, far below anything a load time can tell.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "GroupMedians",
    "GroupQuantiles",
    "group_means",
    "group_medians",
    "group_quantiles",
    "group_weighted_medians",
    "weighted_quantiles",
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


def group_weighted_medians(
    group: npt.ArrayLike, values: npt.ArrayLike, weights: npt.ArrayLike
) -> GroupMedians:
    """The weighted median of ``values`` in each group, with the total weight as ``count``.

    Daily rows stand for their launches: a host's level over a window is the median of its
    days' medians weighted by their launch counts, close to the median of the launches
    themselves. The median is the value where the cumulative weight reaches half the total;
    where it lands exactly on half, the mean of that value and the next (equal weights give
    the ordinary median). Non-positive weights and NaN values are dropped.

    >>> g = group_weighted_medians([0, 0, 0, 1, 1], [1.0, 2.0, 9.0, 4.0, 6.0], [1, 3, 1, 1, 1])
    >>> g.group.tolist(), g.count.tolist(), g.median.tolist()
    ([0, 1], [5, 2], [2.0, 5.0])
    """
    codes = np.asarray(group, dtype=np.int64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    keep = np.isfinite(v) & (w > 0)
    codes, v, w = codes[keep], v[keep], w[keep]
    if codes.size == 0:
        return GroupMedians(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    order = np.lexsort((v, codes))
    codes, v, w = codes[order], v[order], w[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    cumulative = np.cumsum(w)
    before = np.r_[0.0, cumulative][starts]
    totals = np.add.reduceat(w, starts)
    half = before + totals / 2
    low = np.searchsorted(cumulative, half, side="left")
    high = np.minimum(np.searchsorted(cumulative, half, side="right"), codes.size - 1)
    counts = np.rint(totals).astype(np.int64)
    return GroupMedians(codes[starts], counts, (v[low] + v[high]) / 2)


def weighted_quantiles(
    values: npt.ArrayLike, weights: npt.ArrayLike, probabilities: npt.ArrayLike
) -> FloatArray:
    """Quantiles of ``values`` weighted by ``weights``: the value where the cumulative weight
    first reaches each probability's share of the total (NaN without any weight).

    >>> weighted_quantiles([3.0, 1.0, 2.0], [1.0, 1.0, 2.0], [0.1, 0.5, 0.9]).tolist()
    [1.0, 2.0, 3.0]
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    keep = np.isfinite(v) & (w > 0)
    v, w = v[keep], w[keep]
    if v.size == 0:
        return np.full(probs.size, np.nan)
    order = np.argsort(v, kind="stable")
    cumulative = np.cumsum(w[order])
    index = np.searchsorted(cumulative, probs * cumulative[-1], side="left")
    return np.asarray(v[order][np.minimum(index, v.size - 1)], dtype=np.float64)


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
