"""The psutil set: its pure parts on recorded psutil values, its selection, and a cross-check
against the /proc set on this machine. The cross-check is the one place the live host is read
for numbers: it compares two readers of the same machine over the same window, not the machine
against expectations."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.collectors.base import Collector, Sample
from agent.collectors.cpu import CpuTimes
from agent.collectors.default import build_collectors, build_procfs_collectors
from agent.collectors.disks import Mount
from agent.collectors.portable.build import build_portable_collectors
from agent.collectors.portable.cpu import cpu_times_of
from agent.collectors.portable.disks import io_of, mounts_of, space_of
from agent.collectors.portable.network import is_physical_name
from agent.config import AppConfig, Config
from agent.shared.metricdefs import METRICS
from tests.conftest import REPO

# psutil's named tuples, as recorded from psutil 7.2 on Windows 11 and macOS 14.
WindowsCpu = namedtuple("WindowsCpu", "user system idle interrupt dpc")
Partition = namedtuple("Partition", "device mountpoint fstype opts")
MacDiskIo = namedtuple(
    "MacDiskIo", "read_count write_count read_bytes write_bytes read_time write_time"
)

TOKEN = "fleetsight-crosscheck-7f3a"
BUSY_APP = (
    "import sys, time\n"
    "held = bytearray(40_000_000)\n"  # resident: every page is written
    "for i in range(0, len(held), 4096): held[i] = 1\n"
    "end = time.monotonic() + 60\n"
    "while time.monotonic() < end:\n"
    "    t = time.monotonic() + 0.01\n"
    "    while time.monotonic() < t: pass\n"
    "    time.sleep(0.01)\n"
)
WATCHED = (
    AppConfig(
        name="busy",
        process_names=("python", "python3", "python3.11"),
        cmdline_pattern=TOKEN,
    ),
)


def test_windows_cpu_times_put_interrupts_and_dpcs_where_linux_puts_irqs() -> None:
    times = cpu_times_of(WindowsCpu(user=10.5, system=2.25, idle=80.0, interrupt=0.5, dpc=0.25))

    assert times == CpuTimes(
        user=10500, nice=0, system=2250, idle=80000, iowait=0, irq=500, softirq=250, steal=0
    )


def test_local_mounts_of_windows_and_macos_are_kept_once_and_optical_drives_left_out() -> None:
    partitions = [
        Partition("C:\\", "C:\\", "NTFS", "rw,fixed"),
        Partition("D:\\", "D:\\", "CDFS", "ro,cdrom"),
        Partition("E:\\", "E:\\", "", "cdrom"),
        Partition("\\\\srv\\share", "Z:\\", "NTFS", "rw,remote"),  # a network drive
        Partition("/dev/disk3s1s1", "/", "apfs", "ro,local,rootfs"),
        Partition("devfs", "/dev", "devfs", "rw,local"),
        Partition("/dev/disk3s1s1", "/System/Volumes/Snap", "apfs", "ro"),
    ]

    assert mounts_of(partitions) == [
        Mount("C:\\", "C:\\", "ntfs"),
        Mount("/dev/disk3s1s1", "/", "apfs"),
    ]


def test_space_is_reported_like_df() -> None:
    assert space_of("/", used=750, free=250) == [
        Sample("disk_used_ratio", 0.75, (("mountpoint", "/"),)),
        Sample("disk_free_bytes", 250.0, (("mountpoint", "/"),)),
    ]
    assert space_of("/empty", used=0, free=0) == []


def test_a_disk_without_busy_time_gets_no_utilisation() -> None:
    counters = MacDiskIo(10, 20, 10 * 4096, 20 * 4096, 15, 30)

    assert io_of(counters).io_ms is None
    assert io_of(counters).read_sectors == 80


@pytest.mark.parametrize(
    ("name", "physical"),
    [
        ("en0", True),
        ("Ethernet", True),
        ("Local Area Connection", True),
        ("Wi-Fi", True),
        ("lo0", False),
        ("Loopback Pseudo-Interface 1", False),
        ("utun3", False),
        ("vEthernet (WSL)", False),
        ("awdl0", False),
    ],
)
def test_interfaces_are_told_physical_by_name_where_there_is_no_sys(
    name: str, physical: bool
) -> None:
    assert is_physical_name(name) is physical


def test_the_psutil_set_is_chosen_where_proc_is_absent(tmp_path: Path) -> None:
    collectors = build_collectors(Config(apps=WATCHED), proc_root=tmp_path / "no-proc")

    assert [type(c).__name__ for c in collectors] == [
        "PsutilCpuCollector",
        "PsutilMemoryCollector",
        "PsutilDiskCollector",
        "PsutilNetworkCollector",
        "AppCollector",
    ]


def test_the_linux_run_path_does_not_import_psutil() -> None:
    code = (
        "import json, sys\n"
        "from agent.collectors.default import build_collectors\n"
        "from agent.config import Config, AppConfig\n"
        "build_collectors(Config(apps=(AppConfig(name='x', process_names=('x',)),)))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout))

    assert "agent.collectors.apps" in loaded
    assert {"psutil", "agent.collectors.portable.build"} & loaded == set()


# --- both sets on this machine -----------------------------------------------------------------

LINUX_ONLY = {"major_page_faults_per_second"}  # psutil has no system-wide fault counter


@pytest.fixture
def busy_app() -> Iterator[None]:
    process = subprocess.Popen([sys.executable, "-c", BUSY_APP, TOKEN])
    time.sleep(0.5)  # its memory is written
    yield
    process.kill()
    process.wait()


def _by_key(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, sample.labels): sample.value for sample in samples}


def _collect(collectors: list[Collector]) -> list[Sample]:
    return [sample for c in collectors for sample in c.collect(time.monotonic())]


@pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="needs Linux to compare with")
def test_both_sets_agree_on_this_machine(busy_app: None) -> None:
    config = Config(apps=WATCHED)
    procfs, portable = build_procfs_collectors(config), build_portable_collectors(config)
    _collect(procfs), _collect(portable)
    time.sleep(1.0)
    # Collector by collector, so both read each source within milliseconds of each other.
    linux: list[Sample] = []
    other: list[Sample] = []
    by_name = {c.name: c for c in portable}
    for collector in procfs:
        linux += collector.collect(time.monotonic())
        if collector.name in by_name:
            other += by_name[collector.name].collect(time.monotonic())
    ours, psutils = _by_key(linux), _by_key(other)

    # Names, label sets and units (the unit is in the name) are the same, bar what only
    # Linux measures.
    linux_only = {name for name, _ in ours if name.startswith("pressure_")} | LINUX_ONLY
    assert {key for key in ours if key[0] not in linux_only} == set(psutils)
    for name, labels in psutils:
        assert tuple(key for key, _ in labels) == METRICS[name].labels

    def close(name: str, absolute: float, relative: float = 0.0) -> None:
        for key, value in psutils.items():
            if key[0] == name:
                limit = max(absolute, relative * abs(ours[key]))
                assert abs(value - ours[key]) <= limit, (key, value, ours[key])

    # Gauges read the same kernel counters a few milliseconds apart.
    close("memory_available_bytes", 64 << 20, 0.02)
    close("memory_used_ratio", 0.02)
    close("swap_used_bytes", 16 << 20, 0.02)
    close("disk_free_bytes", 64 << 20, 0.01)
    close("disk_used_ratio", 0.01)
    close("load1", 0.5)
    close("load5", 0.3)
    close("load15", 0.2)
    # Ratios over the same one-second window, offset by the milliseconds between the reads.
    close("cpu_utilization_ratio", 0.15)
    close("cpu_iowait_ratio", 0.1)
    close("cpu_steal_ratio", 0.1)
    close("disk_io_utilization_ratio", 0.15)
    close("app_cpu_utilization_ratio", 0.15)
    close("app_rss_bytes", 8 << 20, 0.05)
    close("app_processes", 0)
    # Traffic comes in bursts: rates are never negative and of the same order.
    for name in (
        "disk_read_bytes_per_second",
        "disk_write_bytes_per_second",
        "network_receive_bytes_per_second",
        "network_transmit_bytes_per_second",
    ):
        close(name, 1 << 20, 0.5)
    assert all(value >= 0 for value in psutils.values())
    # The busy app really ran and was counted by both: the band above is not vacuous.
    assert ours[("app_processes", (("app", "busy"),))] == 1
    assert ours[("app_rss_bytes", (("app", "busy"),))] > 40_000_000
    assert ours[("app_cpu_utilization_ratio", (("app", "busy"),))] > 0.2
