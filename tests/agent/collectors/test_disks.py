from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.collectors.base import Sample
from agent.collectors.disks import (
    DiskCollector,
    DiskIo,
    Mount,
    io_samples,
    label_of,
    parse_diskstats,
    parse_mounts,
    usage_samples,
)
from tests.agent.hostile import LONG_MOUNT, hostile_machine

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SDA = DiskIo(
    reads=100000,
    read_sectors=8000000,
    read_ms=50000,
    writes=200000,
    write_sectors=16000000,
    write_ms=150000,
    io_ms=120000,
)
# sda five seconds later: 400 reads of 10 MiB in 800 ms, 600 writes of 20 MiB in 1200 ms,
# busy 2500 ms.
SDA_LATER = (
    "   8       0 sda 100400 5000 8020480 50800 200600 10000 16040960 151200 0 122500 202000"
    " 0 0 0 0 1000 2000"
)


def _statvfs(blocks: int, bfree: int, bavail: int, frsize: int = 4096) -> os.statvfs_result:
    return os.statvfs_result((frsize, frsize, blocks, bfree, bavail, 0, 0, 0, 0, 255))


FILESYSTEMS = {
    "/": _statvfs(blocks=1000, bfree=300, bavail=250),
    "/boot/efi": _statvfs(blocks=100, bfree=90, bavail=90, frsize=512),
    "/srv/data archive": _statvfs(blocks=2000, bfree=1500, bavail=1500),
}


def _fake_statvfs(path: str) -> os.statvfs_result:
    try:
        return FILESYSTEMS[path]
    except KeyError:
        raise FileNotFoundError(path) from None


def _by_key(samples: list[Sample]) -> dict[tuple[str, str], float]:
    return {(sample.name, sample.labels[0][1]): sample.value for sample in samples}


def test_it_keeps_local_filesystems_once_per_device_at_their_first_mount_point() -> None:
    text = (FIXTURES / "proc" / "desktop" / "mounts").read_text()

    assert parse_mounts(text) == [
        Mount("/dev/mapper/vg-root", "/", "ext4"),
        Mount("/dev/sda1", "/boot/efi", "vfat"),
        Mount("/dev/sdb1", "/srv/data archive", "ext4"),
    ]


def test_it_reports_usage_like_df_leaving_out_the_root_reserve() -> None:
    # 700 blocks used, 250 free for users, 50 reserved for root: df shows 700 / 950.
    samples = usage_samples("/", _statvfs(blocks=1000, bfree=300, bavail=250))

    assert [(sample.name, sample.labels) for sample in samples] == [
        ("disk_used_ratio", (("mountpoint", "/"),)),
        ("disk_free_bytes", (("mountpoint", "/"),)),
    ]
    assert samples[0].value == pytest.approx(700 / 950)
    assert samples[1].value == 250 * 4096


def test_it_reports_nothing_for_a_filesystem_without_blocks() -> None:
    assert usage_samples("/x", _statvfs(blocks=0, bfree=0, bavail=0)) == []


def test_it_reads_the_counters_of_every_diskstats_line() -> None:
    devices = parse_diskstats((FIXTURES / "proc" / "desktop" / "diskstats").read_text())

    assert devices["sda"] == SDA
    assert set(devices) == {
        "loop0",
        "sda",
        "sda1",
        "sda2",
        "sdb",
        "sdb1",
        "mmcblk0",
        "dm-0",
        "zram0",
    }


def test_it_works_out_throughput_utilisation_and_latency_over_a_period() -> None:
    after = parse_diskstats(SDA_LATER)["sda"]

    assert _by_key(io_samples("sda", SDA, after, 5.0)) == {
        ("disk_read_bytes_per_second", "sda"): 10 * 1024**2 / 5,
        ("disk_write_bytes_per_second", "sda"): 20 * 1024**2 / 5,
        ("disk_io_utilization_ratio", "sda"): 0.5,
        ("disk_io_latency_seconds", "sda"): pytest.approx(0.002),
    }


def test_it_leaves_out_latency_when_no_io_completed() -> None:
    names = {sample.name for sample in io_samples("sdb", SDA, SDA, 5.0)}

    assert names == {
        "disk_read_bytes_per_second",
        "disk_write_bytes_per_second",
        "disk_io_utilization_ratio",
    }


def test_it_reports_nothing_for_a_disk_whose_counters_went_backwards() -> None:
    assert io_samples("sda", SDA, DiskIo(0, 0, 0, 0, 0, 0, 0), 5.0) == []


def test_it_reports_space_then_io_of_physical_disks_only(proc_root: Path, sys_root: Path) -> None:
    collector = DiskCollector(proc_root=proc_root, sys_root=sys_root, statvfs=_fake_statvfs)

    first = _by_key(collector.collect(0.0))
    diskstats = proc_root / "diskstats"
    lines = [
        SDA_LATER if line.split()[2] == "sda" else line
        for line in diskstats.read_text().splitlines()
    ]
    diskstats.write_text("\n".join(lines) + "\n")
    second = _by_key(collector.collect(5.0))

    assert first == {
        ("disk_used_ratio", "/"): pytest.approx(700 / 950),
        ("disk_free_bytes", "/"): 250 * 4096,
        ("disk_used_ratio", "/boot/efi"): pytest.approx(0.1),
        ("disk_free_bytes", "/boot/efi"): 90 * 512,
        ("disk_used_ratio", "/srv/data archive"): 0.25,
        ("disk_free_bytes", "/srv/data archive"): 1500 * 4096,
    }
    io = {key: value for key, value in second.items() if key not in first}
    assert {device for _, device in io} == {"sda", "sdb", "mmcblk0"}
    assert io[("disk_io_latency_seconds", "sda")] == pytest.approx(0.002)
    assert io[("disk_read_bytes_per_second", "sda")] == 10 * 1024**2 / 5
    assert io[("disk_io_utilization_ratio", "sdb")] == 0.0
    assert ("disk_io_latency_seconds", "sdb") not in io


def test_it_skips_a_mount_point_it_cannot_stat(proc_root: Path, sys_root: Path) -> None:
    def refuse_root(path: str) -> os.statvfs_result:
        if path == "/":
            raise PermissionError(path)
        return _fake_statvfs(path)

    collector = DiskCollector(proc_root=proc_root, sys_root=sys_root, statvfs=refuse_root)

    mountpoints = {sample.labels[0][1] for sample in collector.collect(0.0)}

    assert mountpoints == {"/boot/efi", "/srv/data archive"}


def test_a_mount_point_label_shows_control_characters_escaped_and_a_too_long_one_is_skipped(
    tmp_path: Path,
) -> None:
    machine = hostile_machine(tmp_path)
    seen: list[str] = []

    def any_filesystem(path: str) -> os.statvfs_result:
        seen.append(path)
        return _statvfs(blocks=100, bfree=50, bavail=50)

    collector = DiskCollector(proc_root=machine.proc, sys_root=machine.sys, statvfs=any_filesystem)

    labels = {sample.labels[0][1] for sample in collector.collect(0.0)}

    assert labels == {
        "/",
        "/boot/efi",
        "/srv/data archive",
        "/media/alice/USB\\x0aSTICK",
        "/media/alice/\\x1b[31mRED\\x1b[0m",
        "/media/alice/caf\u00e9\\u202etxt.exe",
    }
    # The filesystem is asked about by its real path; the one too long to label is not asked.
    assert "/media/alice/USB\nSTICK" in seen
    assert LONG_MOUNT not in seen


def test_at_most_max_mounts_mount_points_are_reported(
    proc_root: Path, sys_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agent.collectors.disks.MAX_MOUNTS", 2)
    collector = DiskCollector(proc_root=proc_root, sys_root=sys_root, statvfs=_fake_statvfs)

    mountpoints = {sample.labels[0][1] for sample in collector.collect(0.0)}

    assert mountpoints == {"/", "/boot/efi"}


def test_a_label_is_never_cut() -> None:
    assert label_of("/x\n" * 170) == "/x\\x0a" * 170  # 1,020 characters
    assert label_of("/x\n" * 171) is None  # 1,026
