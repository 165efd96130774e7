"""The portable collector set, wired from the configuration."""

from __future__ import annotations

import functools
from pathlib import Path

from agent.collectors.apps import AppCollector
from agent.collectors.base import Collector
from agent.collectors.disks import is_physical_disk
from agent.collectors.network import is_physical_interface
from agent.collectors.portable.cpu import PsutilCpuCollector
from agent.collectors.portable.disks import PsutilDiskCollector, any_disk
from agent.collectors.portable.memory import PsutilMemoryCollector
from agent.collectors.portable.network import PsutilNetworkCollector, is_physical_name
from agent.config import Config
from agent.processes_psutil import PsutilProcesses


def build_portable_collectors(config: Config, *, sys_root: Path = Path("/sys")) -> list[Collector]:
    """CPU, memory, disks, network and (when apps are configured) apps, all through psutil.

    No pressure collector: PSI exists on Linux only. Where a /sys tree exists (Linux without
    /proc mounted, or the cross-check test), disks and interfaces are chosen by the Linux
    rules, so both sets report the same devices.
    """
    has_sys = (sys_root / "block").is_dir()
    collectors: list[Collector] = [
        PsutilCpuCollector(),
        PsutilMemoryCollector(),
        PsutilDiskCollector(functools.partial(is_physical_disk, sys_root) if has_sys else any_disk),
        PsutilNetworkCollector(
            functools.partial(is_physical_interface, sys_root) if has_sys else is_physical_name
        ),
    ]
    if config.apps:
        collectors.append(AppCollector(config.apps, source=PsutilProcesses()))
    return collectors
