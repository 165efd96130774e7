"""Disk space per local filesystem and I/O per disk from psutil.

Mounts are chosen as on Linux (local, disk-backed types, once per device), with the names
Windows and macOS give theirs. Which disks count is a predicate: on a machine with /sys the
Linux rule (whole disks on hardware), elsewhere every disk psutil lists but the virtual kinds
of ``SKIPPED_DISK_PREFIXES``. Windows and macOS do not count time with I/O in flight, so
``disk_io_utilization_ratio`` is reported on Linux and FreeBSD only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from agent.collectors.base import Sample
from agent.collectors.disks import (
    SECTOR_BYTES,
    SKIPPED_DISK_PREFIXES,
    DiskIo,
    Mount,
    disk_io_samples,
    local_mounts,
    space_samples,
)
from agent.collectors.procfs import clamp_ratio, sample

# Local filesystem types as Windows and macOS name them (psutil's fstype, lowercased).
OTHER_LOCAL_FILESYSTEMS = frozenset({"apfs", "hfs", "refs", "fat", "fat32"})


def mounts_of(partitions: list[Any]) -> list[Mount]:
    """psutil's ``disk_partitions(all=True)`` -> the local mounts, once per device."""
    entries = [
        Mount(device=part.device, mountpoint=part.mountpoint, fstype=part.fstype.lower())
        for part in partitions
        # Windows marks optical and network drives in the options, whatever their type.
        if not {"cdrom", "remote"} & set(part.opts.split(","))
    ]
    return local_mounts(entries, OTHER_LOCAL_FILESYSTEMS)


def space_of(mountpoint: str, used: int, free: int) -> list[Sample]:
    """Used fraction and bytes free as ``df`` shows them (psutil's used/free already do)."""
    usable = used + free
    if usable <= 0:
        return []
    return [
        sample("disk_used_ratio", clamp_ratio(used / usable), mountpoint=mountpoint),
        sample("disk_free_bytes", free, mountpoint=mountpoint),
    ]


def io_of(counters: Any) -> DiskIo:
    """One disk of psutil's ``disk_io_counters(perdisk=True)``.

    Bytes become 512-byte sectors, as /proc/diskstats counts them: on Linux psutil derived
    the bytes from those sectors, elsewhere at most 511 bytes a period are lost.
    """
    busy = getattr(counters, "busy_time", None)
    return DiskIo(
        reads=counters.read_count,
        read_sectors=counters.read_bytes // SECTOR_BYTES,
        read_ms=counters.read_time,
        writes=counters.write_count,
        write_sectors=counters.write_bytes // SECTOR_BYTES,
        write_ms=counters.write_time,
        io_ms=int(busy) if busy is not None else None,
    )


def any_disk(name: str) -> bool:
    """Every disk but loop, RAM and other virtual devices."""
    return not name.startswith(SKIPPED_DISK_PREFIXES)


class PsutilDiskCollector:
    """Space per mount point on every call, I/O per disk from the second call on."""

    name = "disks"

    def __init__(self, is_disk: Callable[[str], bool] = any_disk) -> None:
        self._is_disk = is_disk
        self._previous: tuple[float, dict[str, DiskIo]] | None = None

    def collect(self, now: float) -> list[Sample]:
        def usage(mountpoint: str, label: str) -> list[Sample]:
            space = psutil.disk_usage(mountpoint)
            return space_of(label, space.used, space.free)

        samples = space_samples(mounts_of(psutil.disk_partitions(all=True)), usage)
        counters = psutil.disk_io_counters(perdisk=True, nowrap=True) or {}
        disks = {name: io_of(value) for name, value in counters.items() if self._is_disk(name)}
        if self._previous is not None:
            then, before = self._previous
            samples += disk_io_samples(before, disks, now - then)
        self._previous = (now, disks)
        return samples
