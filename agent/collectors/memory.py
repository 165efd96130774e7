"""Memory, swap and paging (/proc/meminfo, /proc/vmstat)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from agent.collectors.base import Sample
from agent.collectors.procfs import clamp_ratio, counter_rate, parse_key_values, read_text, sample


@dataclass(frozen=True, slots=True)
class MemoryReading:
    """Gauges from /proc/meminfo (bytes) and counters from /proc/vmstat (pages, events)."""

    total_bytes: int
    available_bytes: int
    swap_total_bytes: int
    swap_free_bytes: int
    swap_in_pages: int
    swap_out_pages: int
    major_faults: int


def parse_memory(meminfo: str, vmstat: str) -> MemoryReading:
    """Raw numbers from the text of /proc/meminfo and /proc/vmstat."""
    info = parse_key_values(meminfo)
    if "MemAvailable" in info:
        available_kib = info["MemAvailable"]
    else:
        # Kernels before 3.14 lack MemAvailable: free plus page cache is the usual estimate.
        available_kib = info["MemFree"] + info.get("Buffers", 0) + info.get("Cached", 0)
    counters = parse_key_values(vmstat)
    return MemoryReading(
        total_bytes=info["MemTotal"] * 1024,
        available_bytes=available_kib * 1024,
        swap_total_bytes=info.get("SwapTotal", 0) * 1024,
        swap_free_bytes=info.get("SwapFree", 0) * 1024,
        swap_in_pages=counters.get("pswpin", 0),
        swap_out_pages=counters.get("pswpout", 0),
        major_faults=counters.get("pgmajfault", 0),
    )


def memory_gauges(reading: MemoryReading) -> list[Sample]:
    """Available memory, the used fraction (1 - available / total) and swap in use."""
    used_ratio = 1.0 - reading.available_bytes / reading.total_bytes if reading.total_bytes else 0.0
    return [
        sample("memory_available_bytes", reading.available_bytes),
        sample("memory_used_ratio", clamp_ratio(used_ratio)),
        sample("swap_used_bytes", max(reading.swap_total_bytes - reading.swap_free_bytes, 0)),
    ]


def memory_rates(
    before: MemoryReading, after: MemoryReading, seconds: float, page_size: int
) -> list[Sample]:
    """Swap-in/out in bytes per second and major page faults per second over a period."""
    samples: list[Sample] = []
    for name, old, new, scale in (
        ("swap_in_bytes_per_second", before.swap_in_pages, after.swap_in_pages, page_size),
        ("swap_out_bytes_per_second", before.swap_out_pages, after.swap_out_pages, page_size),
        ("major_page_faults_per_second", before.major_faults, after.major_faults, 1),
    ):
        rate = counter_rate(old, new, seconds)
        if rate is not None:
            samples.append(sample(name, rate * scale))
    return samples


class MemoryCollector:
    """Memory gauges on every call, swap and fault rates from the second call on."""

    name = "memory"

    def __init__(self, proc_root: Path = Path("/proc"), page_size: int | None = None) -> None:
        self._proc_root = proc_root
        self._page_size = page_size if page_size is not None else os.sysconf("SC_PAGE_SIZE")
        self._previous: tuple[float, MemoryReading] | None = None

    def collect(self, now: float) -> list[Sample]:
        """Read /proc/meminfo and /proc/vmstat."""
        reading = parse_memory(
            read_text(self._proc_root / "meminfo"), read_text(self._proc_root / "vmstat")
        )
        samples = memory_gauges(reading)
        if self._previous is not None:
            then, before = self._previous
            samples += memory_rates(before, reading, now - then, self._page_size)
        self._previous = (now, reading)
        return samples
