"""Processes read from /proc, as the app matcher and the per-app collector need them."""

from __future__ import annotations

import os

from agent.processes import ProcessInfo, ProcessUsage
from agent.procfs import ProcFS


class ProcfsProcesses:
    """A :class:`agent.processes.ProcessSource` over one /proc tree.

    ``start`` is ``starttime`` in clock ticks, exact, so a reused pid is always told apart.
    One read of ``/proc/PID/stat`` gives both the facts and the usage (rss is its field 24,
    the same count ``statm`` holds).
    """

    def __init__(self, procfs: ProcFS, page_size: int | None = None) -> None:
        self.procfs = procfs
        self._page_size = page_size if page_size is not None else os.sysconf("SC_PAGE_SIZE")

    def pids(self) -> set[int]:
        return set(self.procfs.pids())

    def info(self, pid: int) -> ProcessInfo | None:
        try:
            stat = self.procfs.stat(pid)
        except (OSError, ValueError):
            return None  # ended between listing and reading
        return ProcessInfo(
            pid=pid,
            ppid=stat.ppid,
            name=stat.comm,
            exited=stat.exited,
            start=stat.starttime,
        )

    def exe_name(self, pid: int) -> str | None:
        try:
            return self.procfs.exe_name(pid)
        except OSError:
            return None  # another user's process, a kernel thread, or gone

    def argv(self, pid: int) -> list[str]:
        try:
            return self.procfs.cmdline(pid)
        except OSError:
            return []

    def usage(self, pid: int) -> ProcessUsage | None:
        try:
            stat = self.procfs.stat(pid)
        except (OSError, ValueError):
            return None
        return ProcessUsage(
            start=stat.starttime,
            cpu_seconds=stat.own_cpu_ticks / self.procfs.clock_ticks,
            rss_bytes=stat.rss_pages * self._page_size,
        )
