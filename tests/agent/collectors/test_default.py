from __future__ import annotations

import os
import time
from pathlib import Path

from agent.collectors.apps import AppCollector
from agent.collectors.base import Collector, Sample
from agent.collectors.cpu import CpuCollector
from agent.collectors.default import build_collectors
from agent.collectors.disks import DiskCollector
from agent.collectors.memory import MemoryCollector
from agent.collectors.network import NetworkCollector
from agent.collectors.pressure import PressureCollector
from agent.config import AppConfig, Config
from agent.shared.metricdefs import METRICS

WATCHED = (
    AppConfig(name="firefox", process_names=("firefox",)),
    AppConfig(name="python", process_names=("python3", "python", "pytest")),
)


def _fake_statvfs(path: str) -> os.statvfs_result:
    return os.statvfs_result((4096, 4096, 1000, 400, 300, 0, 0, 0, 0, 255))


def _advance_counters(proc_root: Path) -> None:
    """Move CPU ticks and disk I/O on, so every rate sample has a period to cover."""
    stat = proc_root / "stat"
    lines = stat.read_text().splitlines()
    stat.write_text("\n".join(["cpu  10500 500 3200 81000 1100 250 350 100 0 0", *lines[1:]]))
    diskstats = proc_root / "diskstats"
    diskstats.write_text(
        diskstats.read_text().replace(
            "sda 100000 5000 8000000 50000", "sda 100400 5000 8020480 50800"
        )
    )


def _check_against_metricdefs(samples: list[Sample]) -> None:
    for sample in samples:
        assert isinstance(sample, Sample)
        assert sample.name in METRICS, f"{sample.name} has no MetricDef"
        assert tuple(key for key, _ in sample.labels) == METRICS[sample.name].labels


def test_every_sample_of_the_fixture_machine_is_described(proc_root: Path, sys_root: Path) -> None:
    collectors: list[Collector] = [
        CpuCollector(proc_root=proc_root),
        MemoryCollector(proc_root=proc_root, page_size=4096),
        PressureCollector(proc_root=proc_root),
        DiskCollector(proc_root=proc_root, sys_root=sys_root, statvfs=_fake_statvfs),
        NetworkCollector(proc_root=proc_root, sys_root=sys_root),
        AppCollector(WATCHED, proc_root=proc_root, clock_ticks=100, page_size=4096),
    ]

    samples = [sample for collector in collectors for sample in collector.collect(1.0)]
    _advance_counters(proc_root)
    samples += [sample for collector in collectors for sample in collector.collect(6.0)]

    _check_against_metricdefs(samples)
    assert {sample.name for sample in samples} == set(METRICS)


def test_it_builds_the_app_collector_only_when_apps_are_watched() -> None:
    without = build_collectors(Config())
    with_apps = build_collectors(Config(apps=WATCHED))

    assert [c.name for c in without] == ["cpu", "memory", "pressure", "disks", "network"]
    assert [c.name for c in with_apps] == [
        "cpu",
        "memory",
        "pressure",
        "disks",
        "network",
        "apps",
    ]


def test_every_collector_runs_against_this_machines_real_proc() -> None:
    # Only the shape is checked: the live host's numbers are nobody's business here.
    collectors = build_collectors(Config(apps=WATCHED))

    samples = [sample for collector in collectors for sample in collector.collect(time.monotonic())]
    samples += [
        sample for collector in collectors for sample in collector.collect(time.monotonic() + 1)
    ]

    assert samples
    _check_against_metricdefs(samples)
