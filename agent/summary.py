"""Turn the samples of one interval into per-metric summaries (count, sum, min, max, quantiles).

Pure: no clock, no I/O. The sampler feeds samples as they come and calls :meth:`flush` at the
end of each interval.

What a summary may hold is bounded by the advisor's limits (advisor/api/batch_rules.py), which
refuse a whole batch for one value out of range: a sample beyond :data:`MAX_VALUE` (a counter
that jumped, a rate over a microsecond) is left out like NaN, and an interval keeps at most
:data:`MAX_SERIES` series. The collectors stay far below that (about 30 to 50 series on a
desktop; agent.config, agent.collectors.disks bound the apps, mounts and disks).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from agent.collectors.base import Sample
from agent.shared.wire import MetricSummary

QUANTILES = (0.5, 0.9, 0.99)
MAX_VALUE = 1e21
"""The advisor's largest magnitude of a summary's min, max and quantiles (a zettabyte)."""
MAX_SERIES = 10_000
"""The advisor's most metric summaries per batch."""
EARLIEST_TIME = 946_684_800.0
"""2000-01-01T00:00:00Z, the advisor's earliest time: before it, a clock that was never set
(a dead RTC battery reads 1970)."""
MAX_INTERVAL_SECONDS = 92 * 86_400.0
"""The advisor's longest interval: one spanning a suspend is as long as the suspend."""


def interval_start(wall_start: float, wall_end: float, elapsed: float) -> float:
    """When an interval that ended at ``wall_end`` began, as the batch should say it.

    ``wall_start`` is the wall clock read when it began and ``elapsed`` the monotonic seconds
    since. Normally ``wall_start``. But the wall clock can be stepped meanwhile: back (NTP, a
    dual-boot machine whose RTC keeps local time), making the interval end before it starts,
    which the advisor refuses; or forward from a clock never set (1970). The two readings are
    then on different scales, and the monotonic clock's ``elapsed`` is the measure left: the
    interval is placed to end at ``wall_end``. (It does not count a suspend, which samples do
    not cover either.) ``wall_end`` itself must not be before :data:`EARLIEST_TIME`.

    >>> interval_start(1_764_000_000.0, 1_764_000_060.0, 60.0)
    1764000000.0
    >>> interval_start(1_764_003_600.0, 1_764_000_060.0, 60.0)  # stepped back an hour
    1764000000.0
    """
    if EARLIEST_TIME <= wall_start <= wall_end and wall_end - wall_start <= MAX_INTERVAL_SECONDS:
        return wall_start
    return max(wall_end - min(max(elapsed, 0.0), MAX_INTERVAL_SECONDS), EARLIEST_TIME)


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
    """Collects samples for the current interval; not thread-safe (one sampler owns it).

    Samples of a series past the first ``max_series`` are left out and counted in
    :attr:`dropped_series`.
    """

    def __init__(self, max_series: int = MAX_SERIES) -> None:
        self._series: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}
        self._max_series = max_series
        self.dropped_series = 0

    def add(self, samples: Iterable[Sample]) -> None:
        series = self._series
        for sample in samples:
            value = sample.value
            # Also false for NaN, which compares false with everything.
            if not -MAX_VALUE <= value <= MAX_VALUE:
                continue
            key = (sample.name, sample.labels)
            values = series.get(key)
            if values is None:
                if len(series) >= self._max_series:
                    self.dropped_series += 1
                    continue
                values = series[key] = []
            values.append(value)

    def __len__(self) -> int:
        return len(self._series)

    def flush(self) -> list[MetricSummary]:
        """Summaries of everything added since the last flush, sorted by name and labels."""
        series, self._series = self._series, {}
        return [
            summarise(name, dict(labels), values)
            for (name, labels), values in sorted(series.items())
        ]
