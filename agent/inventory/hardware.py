"""What the machine is made of: CPU, memory, disks, maker and model, OS and kernel.

Read from /proc, /sys and /etc only (no dmidecode, no root needed). Anything unreadable is
reported as None (or ``"unknown"`` for a disk's kind) rather than failing the inventory: a
virtual machine has no DMI table, many ARM boards no cpufreq.

Firmware and drivers write what they like into these strings (control characters, escape
sequences, hundreds of characters of padding), and the advisor refuses a whole batch for one
it cannot take: every string goes through :func:`agent.text.clean_name`, and a number outside
the advisor's range (a broken card reader claiming exabytes) is left out.
"""

from __future__ import annotations

import platform
import shlex
from collections.abc import Callable
from pathlib import Path

from agent.collectors.procfs import parse_key_values, read_optional_text, read_text
from agent.shared.wire import Disk, DiskKind, Hardware
from agent.shared.wire_limits import MAX_DESCRIPTION, MAX_SHORT_NAME
from agent.text import clean_name

# Same rule as the disk I/O collector: no virtual block devices, no optical drives.
SKIPPED_BLOCK_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "sr")
# The advisor's limits (advisor/api/batch_rules.py).
MAX_DISKS = 1_024
MAX_DISK_BYTES = 2**60
MAX_MEMORY_BYTES = 2**50
MAX_CPU_THREADS = 65_536
MAX_CPU_MHZ = 100_000.0
# Firmware that was never filled in says so in words; these tell nothing about the machine.
DMI_PLACEHOLDERS = frozenset(
    {
        "default string",
        "not applicable",
        "not specified",
        "system manufacturer",
        "system product name",
        "to be filled by o.e.m.",
    }
)


def parse_cpuinfo(text: str) -> tuple[str | None, int | None, int | None, float | None]:
    """``(model, physical cores, threads, MHz)`` from /proc/cpuinfo.

    Cores are the distinct ``(physical id, core id)`` pairs; without them (many virtual
    machines, ARM) each thread counts as a core. MHz is the highest ``cpu MHz`` seen.
    """
    model: str | None = None
    threads = 0
    cores: set[tuple[str, str]] = set()
    mhz: float | None = None
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, colon, value = line.partition(":")
            if colon:
                fields[key.strip()] = value.strip()
        if "processor" not in fields:
            continue
        threads += 1
        model = model or fields.get("model name") or fields.get("Processor")
        physical_id, core_id = fields.get("physical id"), fields.get("core id")
        if physical_id is not None and core_id is not None:
            cores.add((physical_id, core_id))
        try:
            speed = float(fields["cpu MHz"])
        except (KeyError, ValueError):
            continue
        if not 0.0 < speed <= MAX_CPU_MHZ:  # also NaN, which float() takes
            continue
        mhz = speed if mhz is None else max(mhz, speed)
    if model is not None:
        model = clean_name(model, MAX_DESCRIPTION)
    if not 0 < threads <= MAX_CPU_THREADS:
        return model, None, None, mhz
    return model, len(cores) or threads, threads, mhz


def parse_os_release(text: str) -> tuple[str | None, str | None]:
    """``(name, version)`` from os-release: NAME (else PRETTY_NAME) and VERSION_ID."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, equals, raw = line.partition("=")
        if not equals or key.strip().startswith("#"):
            continue
        try:
            words = shlex.split(raw)
        except ValueError:
            continue  # unbalanced quotes: skip the line, as systemd does
        values[key.strip()] = " ".join(words)
    name = values.get("NAME") or values.get("PRETTY_NAME") or None
    version = values.get("VERSION_ID") or None
    return _describe(name, MAX_DESCRIPTION), _describe(version, MAX_DESCRIPTION)


def disk_kind(rotational: str | None) -> DiskKind:
    """``"1"`` -> hdd, ``"0"`` -> ssd, anything else (unreadable) -> unknown."""
    if rotational == "1":
        return "hdd"
    if rotational == "0":
        return "ssd"
    return "unknown"


def read_disks(sys_root: Path) -> list[Disk]:
    """Each physical disk under /sys/block, by name; empty slots (size 0) are left out."""
    block = sys_root / "block"
    if not block.is_dir():
        return []
    disks: list[Disk] = []
    for entry in sorted(block.iterdir()):
        name = entry.name
        if name.startswith(SKIPPED_BLOCK_PREFIXES):
            continue
        if len(disks) == MAX_DISKS:
            break  # a storage server's thousand LUNs: the advisor takes no more
        size = read_optional_text(entry / "size")
        if size is None or not size.isdigit() or not 0 < int(size) * 512 <= MAX_DISK_BYTES:
            continue  # a card reader without a card, a device going away, or a broken one
        rotational = read_optional_text(entry / "queue" / "rotational")
        kind = disk_kind(rotational)
        disks.append(
            Disk(
                name=clean_name(name, MAX_SHORT_NAME),
                kind=kind,
                # /sys/block/X/size counts 512-byte sectors whatever the device's sector size.
                size_bytes=int(size) * 512,
                model=_describe(read_optional_text(entry / "device" / "model"), MAX_DESCRIPTION),
                rotational=None if kind == "unknown" else kind == "hdd",
            )
        )
    return disks


def _describe(value: str | None, limit: int) -> str | None:
    return None if value is None else clean_name(value, limit)


def _dmi(sys_root: Path, field: str, limit: int = MAX_DESCRIPTION) -> str | None:
    value = read_optional_text(sys_root / "class" / "dmi" / "id" / field)
    if value is None or value.lower() in DMI_PLACEHOLDERS:
        return None
    return clean_name(value, limit)


def _max_mhz(sys_root: Path) -> float | None:
    khz = read_optional_text(
        sys_root / "devices" / "system" / "cpu" / "cpu0" / "cpufreq" / "cpuinfo_max_freq"
    )
    if khz is None or not khz.isdigit() or not 0 < int(khz) / 1000 <= MAX_CPU_MHZ:
        return None
    return int(khz) / 1000


def read_hardware(
    *,
    proc_root: Path = Path("/proc"),
    sys_root: Path = Path("/sys"),
    etc_root: Path = Path("/etc"),
    machine: Callable[[], str] = platform.machine,
) -> Hardware:
    """The machine's hardware as the inventory reports it.

    Raises OSError only when /proc/meminfo cannot be read; every other source is optional.
    """
    cpuinfo = read_optional_text(proc_root / "cpuinfo") or ""
    model, cores, threads, cpuinfo_mhz = parse_cpuinfo(cpuinfo)
    meminfo = parse_key_values(read_text(proc_root / "meminfo"))
    os_release = read_optional_text(etc_root / "os-release")
    os_name, os_version = parse_os_release(os_release) if os_release else (None, None)
    return Hardware(
        cpu_model=model,
        cpu_cores=cores,
        cpu_threads=threads,
        cpu_max_mhz=_max_mhz(sys_root) or cpuinfo_mhz,
        # Required fields, so a value past the advisor's range is cut to it, not left out.
        memory_bytes=min(max(meminfo.get("MemTotal", 0) * 1024, 0), MAX_MEMORY_BYTES),
        swap_bytes=min(max(meminfo.get("SwapTotal", 0) * 1024, 0), MAX_MEMORY_BYTES),
        disks=read_disks(sys_root),
        machine_vendor=_dmi(sys_root, "sys_vendor"),
        machine_model=_dmi(sys_root, "product_name"),
        bios_date=_dmi(sys_root, "bios_date", MAX_SHORT_NAME),
        os_name=os_name,
        os_version=os_version,
        kernel=_describe(
            read_optional_text(proc_root / "sys" / "kernel" / "osrelease"), MAX_DESCRIPTION
        ),
        arch=_describe(machine() or None, MAX_SHORT_NAME),
    )
