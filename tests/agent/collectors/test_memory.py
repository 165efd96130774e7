from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.collectors.base import Sample
from agent.collectors.memory import (
    MemoryCollector,
    MemoryReading,
    memory_gauges,
    memory_rates,
    parse_memory,
)

PAGE = 4096


def _values(samples: list[Sample]) -> dict[str, float]:
    return {sample.name: sample.value for sample in samples}


def _reading(**changes: int) -> MemoryReading:
    values = {
        "total_bytes": 16 * 1024**3,
        "available_bytes": 4 * 1024**3,
        "swap_total_bytes": 2 * 1024**3,
        "swap_free_bytes": 1024**3,
        "swap_in_pages": 1000,
        "swap_out_pages": 2000,
        "major_faults": 5000,
    }
    values.update(changes)
    return MemoryReading(**values)


def _set(path: Path, key: str, value: int) -> None:
    path.write_text(re.sub(rf"^({key}:?\s+)\d+", rf"\g<1>{value}", path.read_text(), flags=re.M))


def test_it_falls_back_to_free_plus_cache_without_memavailable() -> None:
    reading = parse_memory(
        "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n", ""
    )

    assert reading.available_bytes == 420 * 1024
    assert reading.swap_total_bytes == 0
    assert reading.major_faults == 0


def test_it_reports_available_used_ratio_and_swap_in_use() -> None:
    assert _values(memory_gauges(_reading())) == {
        "memory_available_bytes": 4 * 1024**3,
        "memory_used_ratio": 0.75,
        "swap_used_bytes": 1024**3,
    }


def test_it_turns_swapped_pages_into_bytes_per_second() -> None:
    after = _reading(swap_in_pages=1500, swap_out_pages=4000, major_faults=5250)

    assert _values(memory_rates(_reading(), after, 5.0, PAGE)) == {
        "swap_in_bytes_per_second": 500 * PAGE / 5,
        "swap_out_bytes_per_second": 2000 * PAGE / 5,
        "major_page_faults_per_second": 50.0,
    }


def test_it_skips_a_rate_whose_counter_went_backwards() -> None:
    after = _reading(swap_in_pages=10, swap_out_pages=2000, major_faults=5000)

    assert "swap_in_bytes_per_second" not in _values(memory_rates(_reading(), after, 5.0, PAGE))


def test_it_reads_the_fixture_and_adds_rates_on_the_second_call(proc_root: Path) -> None:
    collector = MemoryCollector(proc_root=proc_root, page_size=PAGE)

    first = _values(collector.collect(10.0))
    _set(proc_root / "vmstat", "pswpin", 1100)
    _set(proc_root / "vmstat", "pswpout", 2300)
    _set(proc_root / "vmstat", "pgmajfault", 5040)
    _set(proc_root / "meminfo", "MemAvailable", 2048000)
    second = _values(collector.collect(12.0))

    assert first == {
        "memory_available_bytes": 4096000 * 1024,
        "memory_used_ratio": 0.75,
        "swap_used_bytes": (2097148 - 1048574) * 1024,
    }
    assert second == {
        "memory_available_bytes": 2048000 * 1024,
        "memory_used_ratio": pytest.approx(0.875),
        "swap_used_bytes": (2097148 - 1048574) * 1024,
        "swap_in_bytes_per_second": 100 * PAGE / 2,
        "swap_out_bytes_per_second": 300 * PAGE / 2,
        "major_page_faults_per_second": 20.0,
    }
