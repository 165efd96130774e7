"""The one rule for "this process belongs to that app", shared by every reader of processes.

The per-app resource collectors (on /proc and on psutil) and the launch watcher all decide
membership here, from the same facts, so an app's CPU, memory and launches are counted over
the same processes. Nothing in this module does I/O: a :class:`ProcessSource` reads.

The rule. A process is *itself* an instance of the first app, in configuration order, whose
``process_names`` hold one of its names and, when the app sets a ``cmdline_pattern``, whose
pattern is found in its arguments joined by spaces. Its name is the kernel's ``comm``; when
that is a configured name cut at 15 characters (the kernel keeps 16 bytes with the NUL), the
basename of its executable and of ``argv[0]`` (or of argv[0]'s first word, for programs that
rewrite their whole command line into it) count too. A process that is not itself an instance
belongs to the app of its nearest ancestor that belongs to one, so an app is its process trees
(browser helpers, a shell the app started). A process that has exited (zombie) belongs to no
app: it holds no memory, and a launch cannot begin with it. A kernel thread has no executable
or arguments, so it can only match by ``comm``.

Membership is decided once per process, when first seen, and kept until the pid vanishes or is
reused (a new start time). A process first seen after the first refresh that matched nothing is
looked at once more on the next refresh, and classified again if its name changed since: a
shell forks before it execs the app. (Processes already running at the first refresh get no
second look: that would read every process twice.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Protocol

from agent.config import AppConfig

COMM_LENGTH = 15


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """What a reader learns of a process in one cheap look.

    ``start`` tells two processes with the same pid apart: start ticks after boot on /proc,
    creation time on psutil. ``name`` is ``comm`` on Linux, psutil's name elsewhere.
    """

    pid: int
    ppid: int
    name: str
    exited: bool
    start: float


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """One reading of what a process costs: CPU time so far and resident memory."""

    start: float
    cpu_seconds: float
    rss_bytes: int


class ProcessSource(Protocol):
    """Reads processes of one machine: /proc (``ProcfsProcesses``) or psutil.

    Every method may be asked about a pid that just ended: it then returns None or empty
    rather than raising, and so does a process hidden from this user.
    """

    def pids(self) -> set[int]:
        """Every process id now."""
        ...

    def info(self, pid: int) -> ProcessInfo | None:
        """Parent, name, state and start of one process."""
        ...

    def exe_name(self, pid: int) -> str | None:
        """Basename of the executable (hidden for other users' processes without ptrace)."""
        ...

    def argv(self, pid: int) -> list[str]:
        """The arguments; empty for kernel threads and zombies."""
        ...

    def usage(self, pid: int) -> ProcessUsage | None:
        """CPU seconds of the process itself and its resident bytes."""
        ...


def program_names(argv: Sequence[str]) -> set[str]:
    """Basenames ``argv[0]`` may name: ``["/usr/lib/slack/slack --type=gpu"]`` -> both forms."""
    if not argv or not argv[0]:
        return set()
    first = argv[0]
    return {PurePath(first).name, PurePath(first.split()[0]).name}


class AppMatcher:
    """Which app, if any, a process is itself an instance of (see the module docstring).

    Arguments and executable are passed as callables so they are read only when ``comm``
    alone cannot decide; for most processes nothing but ``comm`` is looked at.
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
        self._cut_names = frozenset(
            name[:COMM_LENGTH]
            for app in apps
            for name in app.process_names
            if len(name) > COMM_LENGTH
        )

    def match(
        self,
        name: str,
        argv: Callable[[], list[str]],
        exe_name: Callable[[], str | None],
    ) -> str | None:
        """The first app whose names (and pattern) the process fits, or None."""
        full_names: set[str] | None = None
        if name in self._cut_names:
            full_names = program_names(argv())
            exe = exe_name()
            if exe:
                full_names.add(exe)
        cmdline: str | None = None
        for app, names, pattern in self._apps:
            if name not in names and not (full_names and full_names & names):
                continue
            if pattern is not None:
                if cmdline is None:
                    cmdline = " ".join(argv())
                if pattern.search(cmdline) is None:
                    continue
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


@dataclass(frozen=True, slots=True)
class Verdict:
    """Where one process stands: the app it belongs to and the app it is itself, if any."""

    app: str | None
    own: str | None
    ppid: int
    start: float


@dataclass(frozen=True, slots=True)
class Classified:
    """A process (re)classified by one refresh; ``again`` when it was looked at a second time."""

    info: ProcessInfo
    verdict: Verdict
    again: bool


class AppMembership:
    """Which app each running process belongs to, kept up to date by :meth:`refresh`.

    Example::

        membership = AppMembership(config.apps)
        membership.refresh(source.pids(), source)
        membership.members()  # {"firefox": {2000, 2050}, "erp": {3100}}
    """

    def __init__(self, apps: Sequence[AppConfig]) -> None:
        self._matcher = AppMatcher(apps)
        self._known: dict[int, Verdict] = {}
        self._recheck: dict[int, str] = {}
        self._refreshed = False

    @property
    def rechecks_pending(self) -> bool:
        """Processes wait for their second look, so the next refresh must list /proc."""
        return bool(self._recheck)

    def verdict(self, pid: int) -> Verdict | None:
        return self._known.get(pid)

    def app_of(self, pid: int) -> str | None:
        verdict = self._known.get(pid)
        return verdict.app if verdict is not None else None

    def members(self) -> dict[str, set[int]]:
        """The pids of each app that has any."""
        apps: dict[str, set[int]] = {}
        for pid, verdict in self._known.items():
            if verdict.app is not None:
                apps.setdefault(verdict.app, set()).add(pid)
        return apps

    def forget(self, pid: int) -> None:
        """Drop a pid found reused or ended; if listed again it is classified afresh."""
        self._known.pop(pid, None)
        self._recheck.pop(pid, None)

    def refresh(self, pids: Iterable[int], source: ProcessSource) -> list[Classified]:
        """Forget vanished pids, classify new ones, give unmatched ones their second look."""
        current = set(pids)
        for pid in self._known.keys() - current:
            del self._known[pid]
        recheck, self._recheck = self._recheck, {}
        infos: dict[int, tuple[ProcessInfo, bool]] = {}
        for pid in sorted(current - self._known.keys()):
            info = source.info(pid)
            if info is not None:
                infos[pid] = (info, False)
        for pid, name in recheck.items():
            if pid not in self._known:
                continue
            info = source.info(pid)
            if info is not None and info.name != name and info.start == self._known[pid].start:
                del self._known[pid]
                infos[pid] = (info, True)
        own = {pid: (self._own_app(info, source), info.ppid) for pid, (info, _) in infos.items()}
        known = {pid: verdict.app for pid, verdict in self._known.items()}
        classified: list[Classified] = []
        for pid, app in resolve_apps(own, known).items():
            info, again = infos[pid]
            verdict = Verdict(
                app=None if info.exited else app,
                own=own[pid][0],
                ppid=info.ppid,
                start=info.start,
            )
            self._known[pid] = verdict
            if self._refreshed and verdict.own is None and not info.exited and not again:
                self._recheck[pid] = info.name
            classified.append(Classified(info, verdict, again))
        self._refreshed = True
        return classified

    def _own_app(self, info: ProcessInfo, source: ProcessSource) -> str | None:
        if info.exited:
            return None
        return self._matcher.match(
            info.name, lambda: source.argv(info.pid), lambda: source.exe_name(info.pid)
        )
