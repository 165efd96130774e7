"""The one reader of per-process files under /proc, and the one ``/proc/PID/stat`` parser.

Both the per-app resource collector and the launch watcher read processes through this
module, so they see a process the same way. Parsing is a plain function over text, tested on
recorded lines; :class:`ProcFS` only opens files under an injected root, so tests point it at a
recorded /proc tree. Methods raise ``FileNotFoundError`` or ``ProcessLookupError`` when the
process is gone and ``PermissionError`` when the kernel hides a file from this user; callers
decide what that means.
"""

from __future__ import annotations

import os
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from agent.collectors.procfs import read_text

LIVE_PROC = Path("/proc")
GONE = (FileNotFoundError, ProcessLookupError)
"""Errors that mean "the process no longer exists"."""

# Fields after the name up to rss (field 24 of proc(5)); every kernel since 2.6 writes 52.
_STAT_FIELDS = 22


@dataclass(frozen=True, slots=True)
class PidStat:
    """The fields of ``/proc/PID/stat`` the agent uses. Times are clock ticks, rss is pages."""

    pid: int
    comm: str
    state: str
    ppid: int
    majflt: int
    cmajflt: int
    utime: int
    stime: int
    cutime: int
    cstime: int
    starttime: int
    rss_pages: int

    @property
    def own_cpu_ticks(self) -> int:
        """CPU of the process itself (what ``top`` shows)."""
        return self.utime + self.stime

    @property
    def cpu_ticks(self) -> int:
        """CPU of the process and of its children it has reaped."""
        return self.utime + self.stime + self.cutime + self.cstime

    @property
    def major_faults(self) -> int:
        """Major page faults of the process and of its children it has reaped."""
        return self.majflt + self.cmajflt

    @property
    def exited(self) -> bool:
        """A zombie (``Z``) or dead (``X``) task has exited, even if not reaped yet."""
        return self.state in ("Z", "X")


def parse_pid_stat(text: str) -> PidStat:
    """Parse one ``/proc/PID/stat`` line; ValueError when it is not one.

    The command name sits in parentheses and may itself hold spaces and parentheses
    (``4242 (my (odd) app) S 812 ...``), so the fields are split after the LAST ``)``.
    """
    head, closing, tail = text.rpartition(")")
    pid_text, opening, comm = head.partition(" (")
    fields = tail.split()
    if not closing or not opening or len(fields) < _STAT_FIELDS:
        raise ValueError(f"malformed /proc/PID/stat: {text[:80]!r}")
    return PidStat(
        pid=int(pid_text),
        comm=comm,
        state=fields[0],
        ppid=int(fields[1]),
        majflt=int(fields[9]),
        cmajflt=int(fields[10]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        cutime=int(fields[13]),
        cstime=int(fields[14]),
        starttime=int(fields[19]),
        rss_pages=max(int(fields[21]), 0),
    )


def parse_newest_pid(loadavg_text: str) -> int:
    """The most recently allocated pid: the last field of ``/proc/loadavg``.

    ``"0.35 0.41 0.39 1/331 48213"`` -> ``48213``.
    """
    return int(loadavg_text.split()[4])


def parse_uptime(text: str) -> float:
    """Seconds since boot from ``/proc/uptime`` (the first of its two numbers)."""
    return float(text.split()[0])


class ProcFS:
    """Reads the processes of one /proc tree (the live one by default)."""

    def __init__(self, root: Path = LIVE_PROC, clock_ticks: int | None = None):
        self.root = root
        self._prefix = f"{root}/"
        self.clock_ticks = clock_ticks or os.sysconf("SC_CLK_TCK")
        self._loadavg_fd: int | None = None
        self._closer: weakref.finalize[..., ProcFS] | None = None

    def pids(self) -> list[int]:
        """Every process id: the numeric names in the root, about a microsecond each.

        ``listdir`` rather than ``scandir``: no entry objects, half the CPU here.
        """
        return [int(name) for name in os.listdir(self.root) if name.isdigit()]  # noqa: PTH208

    def newest_pid(self) -> int | None:
        """The last pid the kernel handed out (threads included), or None if unreadable.

        One 50-byte read, about a tenth of listing /proc: while it stays the same, no process
        can have started, so the listing can be skipped. The file stays open and is read again
        from its start: on a machine that has been asleep in between, opening the path costs
        more than the read (~70 of ~110 µs).
        """
        if self._loadavg_fd is None:
            try:
                self._loadavg_fd = os.open(self._prefix + "loadavg", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
            self._closer = weakref.finalize(self, os.close, self._loadavg_fd)
        try:
            return parse_newest_pid(os.pread(self._loadavg_fd, 256, 0).decode())
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        """Close the file kept open for :meth:`newest_pid` (also done when collected)."""
        if self._closer is not None:
            self._closer()
        self._loadavg_fd = self._closer = None

    def comm(self, pid: int) -> str:
        """The kernel's process name, cut at 15 characters."""
        return self.read(f"{pid}/comm").rstrip("\n")

    def exe_name(self, pid: int) -> str:
        """Basename of the executable; needs ptrace access to the process."""
        return (self.root / str(pid) / "exe").readlink().name.removesuffix(" (deleted)")

    def cmdline(self, pid: int) -> list[str]:
        """The arguments, empty for kernel threads and zombies."""
        raw = self.read(f"{pid}/cmdline")
        return raw.rstrip("\0").split("\0") if raw else []

    def stat(self, pid: int) -> PidStat:
        """The parsed ``/proc/PID/stat``; ValueError if the kernel wrote something else."""
        return parse_pid_stat(self.read(f"{pid}/stat"))

    def uptime(self) -> float:
        """Seconds since boot, the clock of ``starttime``.

        /proc/uptime prints that clock to 10 ms; on the live /proc the clock itself is read,
        to the nanosecond, so start times are not blurred twice.
        """
        if self.root == LIVE_PROC:
            return time.clock_gettime(time.CLOCK_BOOTTIME)
        return parse_uptime(self.read("uptime"))

    def read(self, relative: str) -> str:
        """A file under the root as text, e.g. ``read("42/maps")``."""
        return read_text(f"{self._prefix}{relative}")
