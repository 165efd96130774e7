"""Disk space per mount point (/proc/mounts + statvfs) and I/O per physical disk (/proc/diskstats).

Which mounts count: local, disk-backed filesystem types only (``LOCAL_FILESYSTEMS``); tmpfs,
proc, overlay, squashfs, network filesystems and the like are skipped. A device mounted at
several places (bind mounts, btrfs subvolumes) is reported once, at its first mount point in
/proc/mounts, which is the original mount.

Which disks count: whole devices listed in /sys/block that have a ``device`` link, i.e. sit on
real hardware (or a virtual machine's virtio/SCSI disk). Loop, RAM, zram, device-mapper and md
devices have none and are skipped, so I/O through LVM, LUKS or RAID is counted once, on the
physical disks underneath. Partitions are not in /sys/block, so they are skipped too. Optical
drives (``sr*``) are skipped by name.

Mount points and device names become label values, which the advisor refuses (with the whole
batch) when they hold a control character or pass 1,024 characters. A path may hold anything
but NUL, so a mount point's label shows such characters escaped (``/media/usb\\x0adisk`` for a
newline), and a mount point whose label would still be too long is skipped: cut, it could name
another mount. At most :data:`MAX_MOUNTS` mounts and :data:`MAX_DISKS` disks are reported, so
a batch stays within the advisor's 10,000 summaries (2 per mount, 4 per disk) on any machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.collectors.base import Sample
from agent.collectors.procfs import (
    clamp_ratio,
    read_text,
    sample,
    unescape_mount_field,
)
from agent.shared.wire_limits import MAX_LABEL_VALUE
from agent.text import clean_name

LOCAL_FILESYSTEMS = frozenset(
    {
        "bcachefs",
        "btrfs",
        "exfat",
        "ext2",
        "ext3",
        "ext4",
        "f2fs",
        "fuseblk",  # ntfs-3g and other FUSE filesystems on a block device
        "hfsplus",
        "jfs",
        "msdos",
        "ntfs",
        "ntfs3",
        "reiserfs",
        "vfat",
        "xfs",
        "zfs",
    }
)
SKIPPED_DISK_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "sr")
# /proc/diskstats counts in 512-byte sectors whatever the device's own sector size.
SECTOR_BYTES = 512
MAX_MOUNTS = 500
MAX_DISKS = 500

StatVfs = Callable[[str], os.statvfs_result]


@dataclass(frozen=True, slots=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str


@dataclass(frozen=True, slots=True)
class DiskIo:
    """Counters of one line of /proc/diskstats (times in milliseconds)."""

    reads: int
    read_sectors: int
    read_ms: int
    writes: int
    write_sectors: int
    write_ms: int
    io_ms: int | None  # time with I/O in flight; None where the system does not count it


def parse_mounts(text: str) -> list[Mount]:
    """Local filesystem mounts of /proc/mounts, one per device, in file order."""
    entries: list[Mount] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            device, mountpoint = unescape_mount_field(fields[0]), unescape_mount_field(fields[1])
            entries.append(Mount(device=device, mountpoint=mountpoint, fstype=fields[2]))
    return local_mounts(entries)


def local_mounts(
    entries: Iterable[Mount], extra_types: frozenset[str] = frozenset()
) -> list[Mount]:
    """The mounts of local filesystems (``LOCAL_FILESYSTEMS`` or ``extra_types``), once each.

    A device or mount point seen before (a bind mount, a btrfs subvolume) is skipped.
    """
    mounts: list[Mount] = []
    seen_devices: set[str] = set()
    seen_mountpoints: set[str] = set()
    for mount in entries:
        if mount.fstype not in LOCAL_FILESYSTEMS and mount.fstype not in extra_types:
            continue
        if mount.device in seen_devices or mount.mountpoint in seen_mountpoints:
            continue
        seen_devices.add(mount.device)
        seen_mountpoints.add(mount.mountpoint)
        mounts.append(mount)
    return mounts


def label_of(name: str) -> str | None:
    """A mount point or device name as a label value the advisor takes, None if none fits.

    >>> label_of("/media/usb\\ndisk")
    '/media/usb\\\\x0adisk'
    """
    label = clean_name(name, len(name) * 6)  # room for every character escaped: never cut
    return label if len(label) <= MAX_LABEL_VALUE else None


def usage_samples(mountpoint: str, stat: os.statvfs_result) -> list[Sample]:
    """Used fraction and bytes free of one filesystem, as ``df`` shows them.

    Like ``df``, blocks reserved for root count as neither used nor free for the ratio, and
    free bytes are those an unprivileged user can still write.
    """
    if stat.f_blocks == 0:
        return []
    used = stat.f_blocks - stat.f_bfree
    usable = used + stat.f_bavail
    ratio = used / usable if usable > 0 else 0.0
    return [
        sample("disk_used_ratio", clamp_ratio(ratio), mountpoint=mountpoint),
        sample("disk_free_bytes", stat.f_bavail * stat.f_frsize, mountpoint=mountpoint),
    ]


def parse_diskstats(text: str) -> dict[str, DiskIo]:
    """Each device of /proc/diskstats by name (partitions and virtual devices included)."""
    devices: dict[str, DiskIo] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 14:
            continue
        numbers = [int(value) for value in fields[3:14]]
        devices[fields[2]] = DiskIo(
            reads=numbers[0],
            read_sectors=numbers[2],
            read_ms=numbers[3],
            writes=numbers[4],
            write_sectors=numbers[6],
            write_ms=numbers[7],
            io_ms=numbers[9],
        )
    return devices


def io_samples(device: str, before: DiskIo, after: DiskIo, seconds: float) -> list[Sample]:
    """Throughput, busy fraction and mean latency of one disk over a period.

    The latency is the mean time per completed read or write; it is left out for a period
    without completed I/O rather than reported as zero. Nothing is returned if a counter went
    backwards (the device was replaced).
    """
    busy = None if after.io_ms is None or before.io_ms is None else after.io_ms - before.io_ms
    deltas = [
        after.reads - before.reads,
        after.read_sectors - before.read_sectors,
        after.read_ms - before.read_ms,
        after.writes - before.writes,
        after.write_sectors - before.write_sectors,
        after.write_ms - before.write_ms,
        0 if busy is None else busy,
    ]
    if seconds <= 0 or min(deltas) < 0:
        return []
    reads, read_sectors, read_ms, writes, write_sectors, write_ms, _ = deltas
    samples = [
        sample("disk_read_bytes_per_second", read_sectors * SECTOR_BYTES / seconds, device=device),
        sample(
            "disk_write_bytes_per_second", write_sectors * SECTOR_BYTES / seconds, device=device
        ),
    ]
    if busy is not None:
        samples.append(
            sample("disk_io_utilization_ratio", clamp_ratio(busy / 1000 / seconds), device=device)
        )
    completed = reads + writes
    if completed > 0:
        latency = (read_ms + write_ms) / 1000 / completed
        samples.append(sample("disk_io_latency_seconds", latency, device=device))
    return samples


def is_physical_disk(sys_root: Path, name: str) -> bool:
    """A whole disk on real (or virtual-machine) hardware, per the module's rules."""
    if name.startswith(SKIPPED_DISK_PREFIXES):
        return False
    return (sys_root / "block" / name / "device").exists()


class DiskCollector:
    """Space per mount point on every call, I/O per physical disk from the second call on."""

    name = "disks"

    def __init__(
        self,
        proc_root: Path = Path("/proc"),
        sys_root: Path = Path("/sys"),
        statvfs: StatVfs = os.statvfs,
    ) -> None:
        self._proc_root = proc_root
        self._sys_root = sys_root
        self._statvfs = statvfs
        self._previous: tuple[float, dict[str, DiskIo]] | None = None

    def collect(self, now: float) -> list[Sample]:
        """Read /proc/mounts, statvfs each local mount, read /proc/diskstats."""

        def usage(mountpoint: str, label: str) -> list[Sample]:
            return usage_samples(label, self._statvfs(mountpoint))

        samples = space_samples(parse_mounts(read_text(self._proc_root / "mounts")), usage)
        disks = {
            name: counters
            for name, counters in parse_diskstats(read_text(self._proc_root / "diskstats")).items()
            if is_physical_disk(self._sys_root, name)
        }
        if self._previous is not None:
            then, before = self._previous
            samples += disk_io_samples(before, disks, now - then)
        self._previous = (now, disks)
        return samples


def space_samples(mounts: list[Mount], usage: Callable[[str, str], list[Sample]]) -> list[Sample]:
    """Space samples of at most :data:`MAX_MOUNTS` mounts with a usable label.

    ``usage(mountpoint, label)`` reads one filesystem; an OSError skips it (a mount point we
    may not enter: another user's, a vanished USB stick).
    """
    samples: list[Sample] = []
    labels: set[str] = set()
    for mount in mounts:
        label = label_of(mount.mountpoint)
        if label is None or label in labels or len(labels) == MAX_MOUNTS:
            continue
        try:
            samples += usage(mount.mountpoint, label)
        except OSError:
            continue
        labels.add(label)
    return samples


def disk_io_samples(
    before: dict[str, DiskIo], after: dict[str, DiskIo], seconds: float
) -> list[Sample]:
    """I/O samples of at most :data:`MAX_DISKS` disks present in both readings."""
    samples: list[Sample] = []
    for name in sorted(after)[:MAX_DISKS]:
        label = label_of(name)
        if name in before and label is not None:
            samples += io_samples(label, before[name], after[name], seconds)
    return samples
