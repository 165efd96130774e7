from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from agent.collectors import pressure, procfs
from agent.collectors.base import Sample
from agent.collectors.pressure import (
    PressureCollector,
    parse_pressure,
    pressure_samples,
    read_pressure,
)


def _values(samples: list[Sample]) -> dict[str, float]:
    return {sample.name: sample.value for sample in samples}


def test_it_reads_the_total_counters_of_some_and_full() -> None:
    text = (
        "some avg10=1.20 avg60=0.90 avg300=0.60 total=2000000\n"
        "full avg10=0.40 avg60=0.30 avg300=0.20 total=500000\n"
    )

    assert parse_pressure("memory", text) == {
        ("memory", "some"): 2000000,
        ("memory", "full"): 500000,
    }


def test_it_turns_stalled_microseconds_into_a_fraction_of_the_period() -> None:
    before = {("io", "some"): 3_000_000, ("io", "full"): 1_000_000, ("cpu", "some"): 0}
    after = {("io", "some"): 4_250_000, ("io", "full"): 1_500_000, ("cpu", "some"): 0}

    assert _values(pressure_samples(before, after, 5.0)) == {
        "pressure_io_some_ratio": 0.25,
        "pressure_io_full_ratio": 0.1,
        "pressure_cpu_some_ratio": 0.0,
    }


def test_it_caps_the_ratio_at_one_when_the_counter_ran_ahead_of_the_clock() -> None:
    samples = pressure_samples({("io", "some"): 0}, {("io", "some"): 5_100_000}, 5.0)

    assert _values(samples) == {"pressure_io_some_ratio": 1.0}


def test_it_reports_every_resource_from_the_second_call_on(proc_root: Path) -> None:
    collector = PressureCollector(proc_root=proc_root)

    first = collector.collect(50.0)
    (proc_root / "pressure" / "memory").write_text(
        "some avg10=0 avg60=0 avg300=0 total=3000000\nfull avg10=0 avg60=0 avg300=0 total=700000\n"
    )
    second = _values(collector.collect(54.0))

    assert first == []
    assert second == {
        "pressure_cpu_some_ratio": 0.0,
        "pressure_cpu_full_ratio": 0.0,
        "pressure_memory_some_ratio": 0.25,
        "pressure_memory_full_ratio": 0.05,
        "pressure_io_some_ratio": 0.0,
        "pressure_io_full_ratio": 0.0,
    }


def test_it_reports_nothing_on_a_kernel_without_pressure_files(proc_root: Path) -> None:
    shutil.rmtree(proc_root / "pressure")
    collector = PressureCollector(proc_root=proc_root)

    assert collector.collect(1.0) == []
    assert collector.collect(2.0) == []


def test_it_leaves_out_cpu_full_on_kernels_that_do_not_report_it(proc_root: Path) -> None:
    (proc_root / "pressure" / "cpu").write_text("some avg10=0 avg60=0 avg300=0 total=1000000\n")
    collector = PressureCollector(proc_root=proc_root)

    collector.collect(1.0)
    names = {sample.name for sample in collector.collect(2.0)}

    assert "pressure_cpu_some_ratio" in names
    assert "pressure_cpu_full_ratio" not in names


def test_it_skips_files_the_kernel_refuses_to_read_when_psi_is_disabled(
    proc_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_read_text = procfs.read_text

    def refuse_cpu(path: Path | str) -> str:
        if Path(path).name == "cpu":
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_read_text(path)

    monkeypatch.setattr(pressure, "read_text", refuse_cpu)

    assert set(read_pressure(proc_root / "pressure")) == {
        ("memory", "some"),
        ("memory", "full"),
        ("io", "some"),
        ("io", "full"),
    }
