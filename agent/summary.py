"""Turn the samples of one interval into per-metric summaries (count, sum, min, max, quantiles).

Pure: no clock, no I/O. The sampler feeds samples as they come and calls :meth:`flush` at the
end of each interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from agent.collectors.base import Sample
from agent.wire import MetricSummary

QUANTILES = (0.5, 0.9, 0.99)


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile (the "type 7" of R and NumPy's default) of sorted values."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def summarise(name: str, labels: dict[str, str], values: list[float]) -> MetricSummary:
    """Summary of one series over one interval. ``values`` must not be empty."""
    ordered = sorted(values)
    p50, p90, p99 = (quantile(ordered, q) for q in QUANTILES)
    return MetricSummary(
        name=name,
        labels=labels,
        count=len(ordered),
        sum=math.fsum(ordered),
        min=ordered[0],
        max=ordered[-1],
        p50=p50,
        p90=p90,
        p99=p99,
    )


class IntervalAccumulator:
    """Collects samples for the current interval; not thread-safe (one sampler owns it)."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}

    def add(self, samples: Iterable[Sample]) -> None:
        for sample in samples:
            if math.isfinite(sample.value):
                self._series.setdefault((sample.name, sample.labels), []).append(sample.value)

    def __len__(self) -> int:
        return len(self._series)

    def flush(self) -> list[MetricSummary]:
        """Summaries of everything added since the last flush, sorted by name and labels."""
        series, self._series = self._series, {}
        return [
            summarise(name, dict(labels), values)
            for (name, labels), values in sorted(series.items())
        ]
