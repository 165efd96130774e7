"""The standard set of resource collectors, wired from the configuration."""

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


def build_collectors(
    config: Config, *, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")
) -> list[Collector]:
    """Every resource collector; the per-app one only when apps are configured."""
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
