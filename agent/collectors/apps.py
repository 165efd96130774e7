"""CPU, RSS and process count of each watched application's process trees.

Which process belongs to which app is decided by :mod:`agent.processes`, the rule the launch
watcher uses too; this module only adds up what those processes cost. The processes come from
a :class:`~agent.processes.ProcessSource`: /proc on Linux, psutil elsewhere.

Runs every few seconds on desktops with hundreds of processes, so it never reads them all on
every call: listing pids costs about a microsecond each, reading a process far more. Each pid
is classified once, when first seen (see :class:`~agent.processes.AppMembership`); only
processes that belong to an app are read on every call.

Caveats: the CPU time of processes that ended during a period is not counted; pid reuse is
detected (by start time) for processes of apps only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.collectors.base import Sample
from agent.collectors.procfs import sample
from agent.config import AppConfig
from agent.processes import AppMembership, ProcessSource, ProcessUsage
from agent.processes_procfs import ProcfsProcesses
from agent.procfs import ProcFS


@dataclass(frozen=True, slots=True)
class AppUsage:
    """One app at one reading: summed over its processes."""

    cpu_seconds: float
    rss_bytes: int
    processes: int


def add_up(
    readings: dict[int, tuple[str, ProcessUsage]], previous_cpu: dict[int, float]
) -> dict[str, AppUsage]:
    """Per app: CPU spent since ``previous_cpu`` was read, resident bytes, process count.

    A pid without a previous reading started during the period: all its time counts.
    """
    usage: dict[str, AppUsage] = {}
    for pid, (app, reading) in readings.items():
        spent = max(reading.cpu_seconds - previous_cpu.get(pid, 0.0), 0.0)
        before = usage.get(app, AppUsage(0.0, 0, 0))
        usage[app] = AppUsage(
            cpu_seconds=before.cpu_seconds + spent,
            rss_bytes=before.rss_bytes + reading.rss_bytes,
            processes=before.processes + 1,
        )
    return usage


def usage_samples(
    apps: Sequence[str], usage: dict[str, AppUsage], seconds: float | None
) -> list[Sample]:
    """Samples for every watched app, running or not.

    ``usage`` holds the CPU seconds spent during a period of ``seconds`` (not cumulative
    totals); CPU is left out when ``seconds`` is None (the first reading) or not positive.
    """
    samples: list[Sample] = []
    for app in apps:
        current = usage.get(app, AppUsage(0.0, 0, 0))
        if seconds is not None and seconds > 0:
            cpu = current.cpu_seconds / seconds
            samples.append(sample("app_cpu_utilization_ratio", cpu, app=app))
        samples.append(sample("app_rss_bytes", current.rss_bytes, app=app))
        samples.append(sample("app_processes", current.processes, app=app))
    return samples


class AppCollector:
    """Per-app CPU (fraction of one core, from the second call on), RSS and process count."""

    name = "apps"

    def __init__(
        self,
        apps: Sequence[AppConfig],
        proc_root: Path = Path("/proc"),
        clock_ticks: int | None = None,
        page_size: int | None = None,
        *,
        source: ProcessSource | None = None,
    ) -> None:
        """Reads /proc under ``proc_root`` unless another ``source`` (psutil) is given."""
        self._app_names = [app.name for app in apps]
        self._membership = AppMembership(apps)
        self._source = source or ProcfsProcesses(ProcFS(proc_root, clock_ticks), page_size)
        self._cpu: dict[int, float] = {}
        self._previous_time: float | None = None

    def members(self) -> dict[str, set[int]]:
        """The pids counted for each app at the last call."""
        return self._membership.members()

    def collect(self, now: float) -> list[Sample]:
        """List processes, classify new pids, read the processes of watched apps."""
        if not self._app_names:
            return []
        source = self._source
        readings: dict[int, tuple[str, ProcessUsage]] = {}
        pids = source.pids()
        for app, members in self._membership.members().items():
            for pid in members & pids:
                self._read(source, pid, app, readings)
        for classified in self._membership.refresh(pids, source):
            if classified.verdict.app is not None:
                self._read(source, classified.info.pid, classified.verdict.app, readings)
        usage = add_up(readings, self._cpu)
        seconds = None if self._previous_time is None else now - self._previous_time
        self._cpu = {pid: reading.cpu_seconds for pid, (_, reading) in readings.items()}
        self._previous_time = now
        return usage_samples(self._app_names, usage, seconds)

    def _read(
        self,
        source: ProcessSource,
        pid: int,
        app: str,
        readings: dict[int, tuple[str, ProcessUsage]],
    ) -> None:
        verdict = self._membership.verdict(pid)
        reading = source.usage(pid)
        if verdict is None or reading is None or reading.start != verdict.start:
            # Ended, or its pid reused by a new process: the next call classifies that afresh.
            self._membership.forget(pid)
            self._cpu.pop(pid, None)
            return
        readings[pid] = (app, reading)
