"""Processes read through psutil, for machines without /proc (Windows, macOS).

Importing this module imports psutil (about 1.4 MB of the agent's RSS budget); only the
portable collector set does, and only where /proc is absent.
"""

from __future__ import annotations

from pathlib import PurePath

import psutil

from agent.processes import ProcessInfo, ProcessUsage

_INFO_ATTRS = ["ppid", "name", "status", "create_time"]


def program_name(name: str) -> str:
    """A program's name without Windows' ``.exe``, so ``firefox`` matches ``firefox.exe``."""
    return name[:-4] if name.lower().endswith(".exe") else name


class PsutilProcesses:
    """A :class:`agent.processes.ProcessSource` over psutil.

    The facts fed to the matcher are the ones the /proc reader gives: ``name`` (psutil's
    name, which on Linux is ``comm`` widened from argv[0] when cut), the executable's
    basename, the arguments, and the creation time as the start that tells a reused pid apart.
    """

    def pids(self) -> set[int]:
        return set(psutil.pids())

    def info(self, pid: int) -> ProcessInfo | None:
        try:
            facts = psutil.Process(pid).as_dict(attrs=_INFO_ATTRS, ad_value=None)
        except psutil.NoSuchProcess:
            return None
        return ProcessInfo(
            pid=pid,
            ppid=facts["ppid"] or 0,
            name=program_name(facts["name"] or ""),
            exited=facts["status"] in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD),
            start=facts["create_time"] or 0.0,
        )

    def exe_name(self, pid: int) -> str | None:
        try:
            exe = psutil.Process(pid).exe()
        except psutil.Error:
            return None
        return program_name(PurePath(exe).name) if exe else None

    def argv(self, pid: int) -> list[str]:
        try:
            return psutil.Process(pid).cmdline()
        except psutil.Error:
            return []

    def usage(self, pid: int) -> ProcessUsage | None:
        # A fresh handle every time: a kept one would not notice its pid being reused.
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                cpu = process.cpu_times()
                rss = process.memory_info().rss
            return ProcessUsage(process.create_time(), cpu.user + cpu.system, rss)
        except psutil.Error:
            return None
