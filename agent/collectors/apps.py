"""CPU, RSS and process count of each watched application's process trees.

Runs every few seconds on desktops with hundreds of processes, so it never scans them all in
depth: listing /proc costs about a microsecond per pid, while reading each process costs far
more. Each pid is classified once, when first seen, and the verdict (app or None, with the
start time that identifies the process) is cached until the pid vanishes. Only processes
that belong to an app are read on every call.

A process belongs to an app when its name is one of the app's ``process_names`` (and its
command line matches ``cmdline_pattern`` when one is set), or when an ancestor belongs to it.
The name is the kernel's ``comm`` (cut at 15 characters), else the basename of argv[0], else,
for a cut ``comm``, the basename of the executable.

Caveats: a process caught between fork and exec is classified under its parent's name and
keeps that verdict; the CPU time of processes that ended during a period is not counted;
pid reuse is detected (by start time) for processes of apps only.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.collectors.base import Sample
from agent.collectors.procfs import sample
from agent.config import AppConfig

# The kernel keeps 16 bytes of the name, NUL included.
COMM_MAX = 15


@dataclass(frozen=True, slots=True)
class ProcStat:
    """What the collector needs from /proc/PID/stat."""

    comm: str
    ppid: int
    cpu_ticks: int  # utime + stime
    start_ticks: int  # start time after boot; tells a reused pid apart


@dataclass(frozen=True, slots=True)
class _Known:
    """The cached verdict on one pid. A verdict never changes, so the ppid is not kept."""

    app: str | None
    start_ticks: int


@dataclass(frozen=True, slots=True)
class AppUsage:
    """One app at one reading: summed over its processes."""

    cpu_ticks: int
    rss_pages: int
    processes: int


def parse_proc_stat(text: str) -> ProcStat:
    """/proc/PID/stat -> comm, ppid, utime + stime and start time (clock ticks).

    ``comm`` may hold spaces and parentheses, so the fields are counted from the last ``)``.
    """
    opening, closing = text.find("("), text.rfind(")")
    fields = text[closing + 2 :].split()
    if opening < 0 or closing < opening or len(fields) < 20:
        raise ValueError(f"malformed /proc/PID/stat: {text[:80]!r}")
    # fields[0] is field 3 of proc(5): state; ppid is 4, utime 14, stime 15, starttime 22.
    return ProcStat(
        comm=text[opening + 1 : closing],
        ppid=int(fields[1]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        start_ticks=int(fields[19]),
    )


def parse_statm_rss_pages(text: str) -> int:
    """Resident pages, the second field of /proc/PID/statm."""
    return int(text.split()[1])


def _program_names(argv: Sequence[str]) -> set[str]:
    if not argv or not argv[0]:
        return set()
    # Some programs (Chromium, Electron apps) rewrite their whole command line into argv[0].
    return {Path(argv[0]).name, Path(argv[0].split()[0]).name}


class AppMatcher:
    """Decides which app, if any, a process is itself an instance of (pure, no I/O).

    The command line and executable are passed as callables so they are read only when the
    process's ``comm`` alone cannot decide.
    """

    def __init__(self, apps: Sequence[AppConfig]) -> None:
        self._apps = [
            (
                app.name,
                frozenset(app.process_names),
                re.compile(app.cmdline_pattern) if app.cmdline_pattern else None,
            )
            for app in apps
        ]

    def match(
        self,
        comm: str,
        read_cmdline: Callable[[], list[str]],
        read_exe: Callable[[], str | None],
    ) -> str | None:
        """The first app, in configuration order, whose names and pattern the process fits."""
        cmdline: list[str] | None = None
        exe_name: str | None = None
        exe_read = False
        for app, names, pattern in self._apps:
            fits = comm in names
            if not fits:
                if cmdline is None:
                    cmdline = read_cmdline()
                fits = bool(_program_names(cmdline) & names)
            if not fits and len(comm) == COMM_MAX:
                if not exe_read:
                    exe = read_exe()
                    exe_name, exe_read = (Path(exe).name if exe else None), True
                fits = exe_name in names
            if fits and pattern is not None:
                if cmdline is None:
                    cmdline = read_cmdline()
                fits = pattern.search(" ".join(cmdline)) is not None
            if fits:
                return app
        return None


def resolve_apps(
    own: dict[int, tuple[str | None, int]], known: dict[int, str | None]
) -> dict[int, str | None]:
    """The app of each new pid: its own match, else the app of its nearest matched ancestor.

    ``own`` maps each new pid to ``(its own match, ppid)``; ``known`` holds the verdicts of pids
    seen before. A chain that leaves both (ppid 0, a parent already gone) ends with None.
    """
    resolved: dict[int, str | None] = {}
    for start in own:
        chain: list[int] = []
        pid = start
        app: str | None = None
        while True:
            if pid in resolved:
                app = resolved[pid]
                break
            if pid in own:
                own_app, ppid = own[pid]
                if own_app is not None:
                    app = own_app
                    break
                if pid in chain:  # a ppid loop, possible only with pid reuse mid-read
                    break
                chain.append(pid)
                pid = ppid
                continue
            app = known.get(pid)
            break
        for member in chain:
            resolved[member] = app
        resolved.setdefault(start, app)
    return resolved


def usage_samples(
    apps: Sequence[str],
    usage: dict[str, AppUsage],
    seconds: float | None,
    clock_ticks: int,
    page_size: int,
) -> list[Sample]:
    """Samples for every watched app, running or not.

    ``usage`` holds the CPU ticks spent during a period of ``seconds`` (not cumulative totals);
    CPU is left out when ``seconds`` is None (the first reading) or not positive.
    """
    samples: list[Sample] = []
    for app in apps:
        current = usage.get(app, AppUsage(0, 0, 0))
        if seconds is not None and seconds > 0:
            cpu = current.cpu_ticks / clock_ticks / seconds
            samples.append(sample("app_cpu_utilization_ratio", cpu, app=app))
        samples.append(sample("app_rss_bytes", current.rss_pages * page_size, app=app))
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
    ) -> None:
        self._app_names = [app.name for app in apps]
        self._matcher = AppMatcher(apps)
        self._proc_root = proc_root
        self._proc_prefix = f"{proc_root}/"
        self._clock_ticks = clock_ticks if clock_ticks is not None else os.sysconf("SC_CLK_TCK")
        self._page_size = page_size if page_size is not None else os.sysconf("SC_PAGE_SIZE")
        self._known: dict[int, _Known] = {}
        self._ticks: dict[int, int] = {}
        self._previous_time: float | None = None

    def collect(self, now: float) -> list[Sample]:
        """List /proc, classify new pids, read the processes of watched apps."""
        if not self._app_names:
            return []
        pids = self._list_pids()
        for pid in self._known.keys() - pids:
            del self._known[pid]
        stats = self._reread_app_processes()
        stats.update(self._classify_new(pids - self._known.keys()))

        usage: dict[str, AppUsage] = {}
        ticks: dict[int, int] = {}
        for pid, stat in stats.items():
            app = self._known[pid].app
            if app is None:
                continue
            try:
                rss = parse_statm_rss_pages(self._read(pid, "statm"))
            except (OSError, ValueError, IndexError):
                continue  # ended since its stat was read
            ticks[pid] = stat.cpu_ticks
            # A pid without a previous reading started during this period: all its time counts.
            spent = max(stat.cpu_ticks - self._ticks.get(pid, 0), 0)
            before = usage.get(app, AppUsage(0, 0, 0))
            usage[app] = AppUsage(
                cpu_ticks=before.cpu_ticks + spent,
                rss_pages=before.rss_pages + rss,
                processes=before.processes + 1,
            )
        seconds = None if self._previous_time is None else now - self._previous_time
        samples = usage_samples(self._app_names, usage, seconds, self._clock_ticks, self._page_size)
        self._ticks = ticks
        self._previous_time = now
        return samples

    def _list_pids(self) -> set[int]:
        # os.listdir skips building a Path per entry: this runs over every pid, every call.
        names = os.listdir(self._proc_root)  # noqa: PTH208
        return {int(name) for name in names if name.isdigit()}

    def _read(self, pid: int, name: str) -> str:
        # Plain os.open/os.read: a quarter of the cost of pathlib on these hot, tiny files.
        fd = os.open(f"{self._proc_prefix}{pid}/{name}", os.O_RDONLY)
        try:
            chunks = [os.read(fd, 4096)]
            while len(chunks[-1]) == 4096:
                chunks.append(os.read(fd, 4096))
        finally:
            os.close(fd)
        return b"".join(chunks).decode(errors="replace")

    def _read_stat(self, pid: int) -> ProcStat | None:
        try:
            return parse_proc_stat(self._read(pid, "stat"))
        except (OSError, ValueError):
            return None  # ended between listing and reading

    def _reread_app_processes(self) -> dict[int, ProcStat]:
        """Fresh stat of every known app process; a reused or ended pid is forgotten."""
        stats: dict[int, ProcStat] = {}
        for pid, known in list(self._known.items()):
            if known.app is None:
                continue
            stat = self._read_stat(pid)
            if stat is None or stat.start_ticks != known.start_ticks:
                del self._known[pid]
                # A reused pid is a new process: none of its time was seen before.
                self._ticks.pop(pid, None)
                continue
            stats[pid] = stat
        return stats

    def _classify_new(self, pids: set[int]) -> dict[int, ProcStat]:
        stats: dict[int, ProcStat] = {}
        own: dict[int, tuple[str | None, int]] = {}
        for pid in pids:
            stat = self._read_stat(pid)
            if stat is None:
                continue
            stats[pid] = stat
            own[pid] = (
                self._matcher.match(
                    stat.comm,
                    functools.partial(self._read_cmdline, pid),
                    functools.partial(self._read_exe, pid),
                ),
                stat.ppid,
            )
        known_apps = {pid: known.app for pid, known in self._known.items()}
        for pid, app in resolve_apps(own, known_apps).items():
            self._known[pid] = _Known(app=app, start_ticks=stats[pid].start_ticks)
        return stats

    def _read_cmdline(self, pid: int) -> list[str]:
        try:
            raw = (self._proc_root / str(pid) / "cmdline").read_bytes()
        except OSError:
            return []
        return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]

    def _read_exe(self, pid: int) -> str | None:
        try:
            return str((self._proc_root / str(pid) / "exe").readlink())
        except OSError:
            return None  # another user's process, or a kernel thread
