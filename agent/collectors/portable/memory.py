"""Memory and swap from psutil. Major page faults are not offered by psutil: left out."""

from __future__ import annotations

import sys

import psutil

from agent.collectors.base import Sample
from agent.collectors.memory import MemoryReading, memory_gauges
from agent.collectors.procfs import counter_rate, sample


def swap_rates(before: tuple[int, int], after: tuple[int, int], seconds: float) -> list[Sample]:
    """Swap-in/out bytes per second from psutil's cumulative ``sin``/``sout`` bytes."""
    samples: list[Sample] = []
    for name, old, new in (
        ("swap_in_bytes_per_second", before[0], after[0]),
        ("swap_out_bytes_per_second", before[1], after[1]),
    ):
        rate = counter_rate(old, new, seconds)
        if rate is not None:
            samples.append(sample(name, rate))
    return samples


class PsutilMemoryCollector:
    """Memory gauges on every call, swap rates from the second call on (not on Windows)."""

    name = "memory"

    def __init__(self, swap_counters: bool = sys.platform != "win32") -> None:
        # psutil documents sin/sout as always 0 on Windows: a rate of 0 would be a lie.
        self._swap_counters = swap_counters
        self._previous: tuple[float, tuple[int, int]] | None = None

    def collect(self, now: float) -> list[Sample]:
        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
        reading = MemoryReading(
            total_bytes=memory.total,
            available_bytes=memory.available,
            swap_total_bytes=swap.total,
            swap_free_bytes=swap.free,
            swap_in_pages=0,
            swap_out_pages=0,
            major_faults=0,
        )
        samples = memory_gauges(reading)
        if self._swap_counters:
            counters = (swap.sin, swap.sout)
            if self._previous is not None:
                then, before = self._previous
                samples += swap_rates(before, counters, now - then)
            self._previous = (now, counters)
        return samples
