"""The per-app collector (on /proc and on psutil) and the launch watcher count the same
processes for each app, on the recorded ``workstation`` /proc tree (see
tests/fixtures/README-procfs.md): an app with children and a grandchild, a zombie child,
a kernel thread, names with spaces and parentheses, a cut name, a command-line pattern, and
one app started from inside another."""

from __future__ import annotations

import shutil
from pathlib import Path

import psutil
import pytest

from agent.collectors.apps import AppCollector
from agent.config import AppConfig, ReadySection
from agent.launches.recorder import LaunchRecorder
from agent.launches.watcher import LaunchWatcher
from agent.processes_psutil import PsutilProcesses
from agent.shared.wire import LaunchEvent

WORKSTATION = Path(__file__).resolve().parents[1] / "fixtures" / "proc" / "workstation"
# A port nobody opens in the recorded tree: launches stay followed, never ready.
PATIENT = ReadySection(signal="port", port=1, timeout=600.0)
APPS = (
    AppConfig(name="firefox", process_names=("firefox",), ready=PATIENT),
    AppConfig(name="toolbox", process_names=("jetbrains-toolbox",), ready=PATIENT),
    AppConfig(
        name="erp", process_names=("java",), cmdline_pattern=r"erp-client\.jar", ready=PATIENT
    ),
    AppConfig(name="odd", process_names=("my (odd) app",), ready=PATIENT),
    AppConfig(name="libreoffice", process_names=("soffice.bin",), ready=PATIENT),
)
# Worked out by hand from the tree: 1040 is a zombie, 1210 runs another jar, 40 is a kernel
# thread, and 1400 (LibreOffice opened from Firefox) is LibreOffice's, not Firefox's.
EXPECTED = {
    "firefox": {1000, 1010, 1020, 1030},
    "toolbox": {1100},
    "erp": {1200},
    "odd": {1300, 1310},
    "libreoffice": {1400},
}
SYSTEM = ("1", "2", "40", "900")


def _watcher(proc_root: Path) -> LaunchWatcher:
    events: list[LaunchEvent] = []
    return LaunchWatcher(APPS, LaunchRecorder(on_record=events.append), proc_root=proc_root)


def test_the_collector_and_the_watcher_give_each_app_the_same_processes() -> None:
    collector = AppCollector(APPS, proc_root=WORKSTATION, clock_ticks=100, page_size=4096)
    watcher = _watcher(WORKSTATION)

    collector.collect(0.0)
    watcher.scan_once()

    assert collector.members() == EXPECTED
    assert watcher.members() == EXPECTED


def test_launches_are_followed_over_the_processes_the_collector_counts(tmp_path: Path) -> None:
    root = tmp_path / "proc"
    root.mkdir()
    for name in (*SYSTEM, "uptime", "loadavg", "stat"):
        copy = shutil.copytree if (WORKSTATION / name).is_dir() else shutil.copy
        copy(WORKSTATION / name, root / name)
    (root / "loadavg").write_text("0.52 0.58 0.59 1/467 900\n")
    watcher = _watcher(root)
    watcher.scan_once()  # before the apps started

    for directory in WORKSTATION.iterdir():
        if directory.name.isdigit() and directory.name not in SYSTEM:
            shutil.copytree(directory, root / directory.name)
    (root / "loadavg").write_text("0.52 0.58 0.59 1/467 1400\n")
    watcher.scan_once()

    collector = AppCollector(APPS, proc_root=root, clock_ticks=100, page_size=4096)
    collector.collect(0.0)
    assert watcher.following() == EXPECTED
    assert collector.members() == EXPECTED
    assert watcher.stats.launches_tracked_now == 5


def test_the_psutil_reader_gives_each_app_the_same_processes_and_usage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = psutil.PAGESIZE if hasattr(psutil, "PAGESIZE") else 4096
    procfs = AppCollector(APPS, proc_root=WORKSTATION, page_size=page)
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(WORKSTATION))
    portable = AppCollector(APPS, source=PsutilProcesses())

    from_procfs = procfs.collect(0.0)
    from_psutil = portable.collect(0.0)

    assert portable.members() == procfs.members() == EXPECTED
    assert from_psutil == from_procfs
