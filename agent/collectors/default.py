"""The standard set of resource collectors, wired from the configuration.

On Linux the collectors read /proc and /sys directly; where /proc is absent (Windows, macOS)
the psutil set of :mod:`agent.collectors.portable` takes their place, imported only then so
the Linux agent does not load psutil.
"""

from __future__ import annotations

from pathlib import Path

from agent.collectors.apps import AppCollector
from agent.collectors.base import Collector
from agent.collectors.cpu import CpuCollector
from agent.collectors.disks import DiskCollector
from agent.collectors.memory import MemoryCollector
from agent.collectors.network import NetworkCollector
from agent.collectors.pressure import PressureCollector
from agent.config import Config


def has_procfs(proc_root: Path) -> bool:
    """True where a Linux /proc is mounted at ``proc_root``."""
    return (proc_root / "stat").is_file()


def build_collectors(
    config: Config, *, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")
) -> list[Collector]:
    """Every resource collector; the per-app one only when apps are configured."""
    if not has_procfs(proc_root):
        from agent.collectors.portable.build import build_portable_collectors

        return build_portable_collectors(config, sys_root=sys_root)
    return build_procfs_collectors(config, proc_root=proc_root, sys_root=sys_root)


def build_procfs_collectors(
    config: Config, *, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")
) -> list[Collector]:
    """The Linux set: /proc and /sys read directly."""
    collectors: list[Collector] = [
        CpuCollector(proc_root=proc_root),
        MemoryCollector(proc_root=proc_root),
        PressureCollector(proc_root=proc_root),
        DiskCollector(proc_root=proc_root, sys_root=sys_root),
        NetworkCollector(proc_root=proc_root, sys_root=sys_root),
    ]
    if config.apps:
        collectors.append(AppCollector(config.apps, proc_root=proc_root))
    return collectors
