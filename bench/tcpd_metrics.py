"""The two metrics of the Turing change-point benchmark (TCPD), from their definitions.

Re-implemented from the definitions in G. J. J. van den Burg and C. K. I. Williams, "An
Evaluation of Change Point Detection Algorithms" (arXiv:2003.06222), section "Evaluation
metrics"; no code of theirs is used. A change point is the 0-based index of the first point
of a new segment; every set of change points (each annotator's and the prediction) also
holds the trivial change point 0, the start of the series, as the paper does so that
precision and recall are always defined.

F1, with several annotators
    ``TP(T, X)`` is the number of true change points in ``T`` that can be paired with a
    predicted one in ``X`` at most ``margin`` points away, each predicted point used for
    one true point at most (the largest such pairing). Precision is
    ``TP(T*, X) / |X|`` against the union ``T*`` of all annotators' sets; recall is the
    mean over annotators ``k`` of ``TP(T_k, X) / |T_k|``; F1 is their harmonic mean.

Covering
    A set of change points splits ``0 .. n-1`` into segments. The covering of a ground
    truth segmentation ``G`` by a predicted one ``G'`` is
    ``(1/n) * sum over A in G of |A| * max over A' in G' of |A & A'| / |A | A'|``;
    with several annotators, the mean of the covering of each annotator's segmentation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["covering", "f_measure", "segments", "true_positives"]

MARGIN = 5


def _with_start(points: Iterable[int]) -> list[int]:
    return sorted({0, *(int(p) for p in points)})


def true_positives(truth: Iterable[int], predicted: Iterable[int], margin: int = MARGIN) -> int:
    """Largest number of true points paired one-to-one with predictions within ``margin``.

    Every window ``[t - margin, t + margin]`` has the same width, so taking the true points
    in order and giving each the earliest unused prediction still in its window is an
    optimal pairing.

        >>> true_positives([10, 12], [11])
        1
    """
    points = sorted(set(predicted))
    used = 0
    matched = 0
    for t in sorted(set(truth)):
        while used < len(points) and points[used] < t - margin:
            used += 1
        if used < len(points) and points[used] <= t + margin:
            matched += 1
            used += 1
    return matched


def f_measure(
    annotations: Mapping[str, Sequence[int]], predicted: Sequence[int], margin: int = MARGIN
) -> tuple[float, float, float]:
    """``(f1, precision, recall)`` of ``predicted`` against several annotators' sets.

    >>> f_measure({"1": [10], "2": [10, 20]}, [11])[0]  # P = 1, R = (1 + 2/3) / 2
    0.9090909090909091
    """
    if not annotations:
        raise ValueError("at least one annotator is needed")
    x = _with_start(predicted)
    per_annotator = [_with_start(points) for points in annotations.values()]
    union = sorted(set().union(*per_annotator))
    precision = true_positives(union, x, margin) / len(x)
    recall = sum(true_positives(t, x, margin) / len(t) for t in per_annotator) / len(per_annotator)
    if precision + recall == 0:
        return 0.0, precision, recall
    return 2 * precision * recall / (precision + recall), precision, recall


def segments(change_points: Iterable[int], n_obs: int) -> list[tuple[int, int]]:
    """The half-open segments ``[start, end)`` that ``change_points`` make of ``0 .. n_obs-1``.

    Points at 0 or outside ``1 .. n_obs-1`` split nothing and are ignored.

        >>> segments([10], 30)
        [(0, 10), (10, 30)]
    """
    if n_obs < 1:
        raise ValueError(f"a series needs at least one point, not {n_obs}")
    inner = sorted({int(p) for p in change_points if 0 < int(p) < n_obs})
    bounds = [0, *inner, n_obs]
    return list(itertools.pairwise(bounds))


def _jaccard(a: tuple[int, int], b: tuple[int, int]) -> float:
    overlap = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - overlap
    return overlap / union


def _cover(truth: list[tuple[int, int]], predicted: list[tuple[int, int]], n_obs: int) -> float:
    return sum((a[1] - a[0]) * max(_jaccard(a, b) for b in predicted) for a in truth) / n_obs


def covering(
    annotations: Mapping[str, Sequence[int]], predicted: Sequence[int], n_obs: int
) -> float:
    """Mean over annotators of the covering of their segmentation by the predicted one.

    >>> covering({"1": [10]}, [10], 30)
    1.0
    """
    if not annotations:
        raise ValueError("at least one annotator is needed")
    mine = segments(predicted, n_obs)
    return sum(_cover(segments(t, n_obs), mine, n_obs) for t in annotations.values()) / len(
        annotations
    )
