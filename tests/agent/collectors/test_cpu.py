from __future__ import annotations

from pathlib import Path

import pytest

from agent.collectors.base import Sample
from agent.collectors.cpu import CpuCollector, CpuTimes, cpu_samples, parse_loadavg, parse_stat

BEFORE = CpuTimes(
    user=10000, nice=500, system=3000, idle=80000, iowait=1000, irq=200, softirq=300, steal=0
)
# +500 user, +200 system, +1000 idle, +100 iowait, +50 irq, +50 softirq, +100 steal = 2000 ticks
AFTER_LINE = "cpu  10500 500 3200 81000 1100 250 350 100 0 0"


def _values(samples: list[Sample]) -> dict[str, float]:
    return {sample.name: sample.value for sample in samples}


def test_it_reads_the_aggregate_cpu_line_without_guest_time() -> None:
    text = "cpu  10000 500 3000 80000 1000 200 300 0 70 5\ncpu0 1 2 3 4 5 6 7 8 9 10\n"

    assert parse_stat(text) == BEFORE
    assert parse_stat(text).total == 95000


def test_it_reads_old_stat_lines_without_steal_as_zero_steal() -> None:
    assert parse_stat("cpu 1 2 3 4 5 6 7\n").steal == 0


def test_it_refuses_a_stat_file_without_the_cpu_line() -> None:
    with pytest.raises(ValueError, match="cpu"):
        parse_stat("intr 1 2 3\n")


def test_it_splits_cpu_time_into_busy_iowait_and_steal() -> None:
    ratios = _values(cpu_samples(BEFORE, parse_stat(AFTER_LINE)))

    assert ratios == {
        "cpu_utilization_ratio": pytest.approx(0.40),
        "cpu_iowait_ratio": pytest.approx(0.05),
        "cpu_steal_ratio": pytest.approx(0.05),
    }


def test_it_gives_no_ratios_when_no_tick_passed() -> None:
    assert cpu_samples(BEFORE, BEFORE) == []


def test_it_reads_the_three_load_averages() -> None:
    assert parse_loadavg("1.25 0.80 0.50 2/612 48211\n") == (1.25, 0.80, 0.50)


def test_it_reports_load_first_and_cpu_ratios_from_the_second_call(proc_root: Path) -> None:
    collector = CpuCollector(proc_root=proc_root)

    first = _values(collector.collect(100.0))
    stat = proc_root / "stat"
    lines = stat.read_text().splitlines()
    stat.write_text("\n".join([AFTER_LINE, *lines[1:]]) + "\n")
    (proc_root / "loadavg").write_text("2.00 1.00 0.75 3/615 48300\n")
    second = _values(collector.collect(105.0))

    assert first == {"load1": 1.25, "load5": 0.80, "load15": 0.50}
    assert second == {
        "cpu_utilization_ratio": pytest.approx(0.40),
        "cpu_iowait_ratio": pytest.approx(0.05),
        "cpu_steal_ratio": pytest.approx(0.05),
        "load1": 2.0,
        "load5": 1.0,
        "load15": 0.75,
    }


def test_it_raises_when_proc_stat_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        CpuCollector(proc_root=tmp_path).collect(1.0)
