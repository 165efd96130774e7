"""The collector contract.

A collector turns one look at the machine into samples. Reading (psutil, /proc, /sys) is kept
apart from turning readings into samples, so the arithmetic is tested on recorded fixtures.
Rates need two readings: a collector keeps its previous reading and returns no rate samples on
its first call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Sample:
    """One instantaneous value.

    ``name`` is a Prometheus-style metric name without the ``fleetsight_`` prefix and with its
    base unit (``memory_available_bytes``, ``cpu_utilization_ratio``); ``labels`` is a sorted
    tuple of ``(key, value)`` pairs of low cardinality (a device, a mount point, an app name).
    """

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


class Collector(Protocol):
    """Reads one part of the machine.

    ``collect`` may raise (a missing file, a vanished process); the sampler catches it, counts
    it in ``fleetsight_agent_collector_errors_total{collector=name}`` and carries on, so one
    broken source never stops the others. ``now`` is the sampler's monotonic clock in seconds,
    used for rates.
    """

    name: str

    def collect(self, now: float) -> list[Sample]: ...
