"""Passive launch timing: notice new processes of watched apps and time them until ready.

Which process belongs to which app is decided by :mod:`agent.processes`, the rule the per-app
resource collector uses too, so launches and resource use are counted over the same processes.

Cheap by construction. Every ``scan_interval`` the watcher lists /proc (about a microsecond a
process) and classifies only pids it has not seen: one read of ``/proc/PID/stat`` (name,
parent, start time in one file), plus the executable's name and ``argv[0]`` when the name is a
watched name cut at 15 characters, plus the command line only for apps with a
``cmdline_pattern``. A pid that does not match gets one more look at the next scan, because a
shell forks before it execs the app. Only launching process trees are sampled, every
``poll_interval``, and only until their ready signal fires or they time out.

A launch is a new process that is itself an instance of an app while its parent does not
belong to that app. Not launches: processes running when the watcher starts (its first scan
classifies them), and new processes under a running instance (browsers spawn helpers).

Start: the process's creation time, from ``starttime`` in /proc/PID/stat (clock ticks since
boot, truncated, so half a tick is added) and the boot clock. psutil's ``create_time()`` adds
the boot time rounded to a whole second, too coarse for timing launches.

Descendants are found without reading every process: a child is always newer than its parent,
so the new pids of each scan that belong to the launch's app are matched to the trees being
followed by their parent pid. CPU and page faults of descendants that exit unseen still count
once their parent reaps them.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.config import AppConfig
from agent.launches.procfs import LaunchProcFS
from agent.launches.ready import (
    CpuSettled,
    LibrariesSettled,
    LogLineSeen,
    PortListening,
    ProcessStarted,
    classify_start,
)
from agent.launches.recorder import LaunchRecorder
from agent.processes import AppMembership, Classified
from agent.processes_procfs import ProcfsProcesses
from agent.procfs import GONE
from agent.shared.wire import LaunchEvent, LaunchOutcome

log = logging.getLogger(__name__)

_LOG_READ_LIMIT = 1 << 20
_LOG_HISTORY = 3


@dataclass
class WatcherStats:
    """The watcher's own health, read by the /metrics exporter. Totals since start."""

    scans: int = 0
    scans_skipped: int = 0  # no pid allocated since the last scan: /proc not listed
    scan_cpu_seconds: float = 0.0
    polls: int = 0
    poll_cpu_seconds: float = 0.0
    processes_inspected: int = 0
    launches_tracked_now: int = 0
    launches_recorded: int = 0
    timeouts: int = 0
    failures: int = 0
    errors: int = 0


def assign_descendants(new_parents: dict[int, int], owners: dict[int, object]) -> dict[int, object]:
    """Which followed tree each new pid joins.

    ``new_parents`` maps each new pid to its parent; ``owners`` maps pids already in a tree to
    that tree. A new pid joins the tree its chain of new ancestors leads to.

    >>> assign_descendants({11: 10, 12: 11, 13: 1}, {10: "a"})
    {11: 'a', 12: 'a'}
    """
    joined: dict[int, object] = {}
    known = dict(owners)
    for pid in sorted(new_parents):
        chain: list[int] = []
        current = pid
        while current in new_parents and current not in known and len(chain) <= len(new_parents):
            chain.append(current)
            current = new_parents[current]
        owner = known.get(current)
        if owner is None:
            continue
        for member in chain:
            known[member] = joined[member] = owner
    return joined


@dataclass(frozen=True, slots=True)
class _Finished:
    outcome: LaunchOutcome
    duration: float
    complete: bool
    detail: str | None = None


class LogTail:
    """Follows a log file from where it was when the launch began, looking for a line.

    The file may not exist yet (it is then read from its start when it appears), and may be
    rotated or truncated (read again from the start).
    """

    def __init__(self, path: Path, pattern: str, start: tuple[int, int] | None):
        self._path = path
        self._pattern = re.compile(pattern)
        self._inode: int | None = start[0] if start is not None else None
        self._offset = start[1] if start is not None else 0
        self._partial = b""

    def poll(self) -> float | None:
        """The file's modification time (Unix seconds) once a matching line was read."""
        try:
            handle = self._path.open("rb")
        except (FileNotFoundError, PermissionError):
            return None
        with handle:
            info = os.fstat(handle.fileno())
            replaced = self._inode is not None and info.st_ino != self._inode
            if replaced or info.st_size < self._offset:
                self._offset, self._partial = 0, b""
            self._inode = info.st_ino
            handle.seek(self._offset)
            data = handle.read(_LOG_READ_LIMIT)
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in [*lines, self._partial]:
            if self._pattern.search(line.decode("utf-8", errors="replace")):
                return info.st_mtime
        return None


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where a log file was at some moment: its identity, size and last write (Unix time)."""

    inode: int
    size: int
    modified: float


def log_file_position(path: Path) -> LogPosition | None:
    """The log file's position now, None if it does not exist (yet)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return LogPosition(info.st_ino, info.st_size, info.st_mtime)


def log_start(
    before: LogPosition | None, at_sight: LogPosition | None, started_wall: float
) -> tuple[int, int] | None:
    """Where to read a launch's log from, as ``(inode, offset)``; None: from the beginning.

    ``before`` was taken at a scan before the process existed, ``at_sight`` when it was
    noticed. If the file was last written before the process was created, everything in it
    then is older than the launch: read from ``at_sight``. Otherwise the app may already have
    logged its ready line: read from ``before`` (which may include a few lines of others).
    """
    if at_sight is not None and at_sight.modified < started_wall:
        return at_sight.inode, at_sight.size
    if before is not None:
        return before.inode, before.size
    return None


class _Launch:
    """One launch being followed: its process tree, its readings and its ready signal."""

    def __init__(
        self,
        app: AppConfig,
        pid: int,
        starttime: float,
        started: float,
        started_wall: float,
        procfs: LaunchProcFS,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        log_from: tuple[int, int] | None,
    ):
        ready = app.ready
        self.app = app
        self.pid = pid
        self.tree: set[int] = set()
        self.started = started
        self.started_wall = started_wall
        self.major_faults: int | None = None
        self.signal_name = ready.signal
        self.detail: str | None = None
        self._starttime = starttime
        self._procfs = procfs
        self._clock = clock
        self._wall_clock = wall_clock
        self._last_raw_ticks = 0
        self._ticks = 0
        self._cpu_history: list[tuple[float, float]] = []
        self._cpu = self._new_cpu_signal()
        self._libraries = LibrariesSettled(started, settle_for=ready.settle_for)
        self._port = PortListening(started)
        self._log_signal = LogLineSeen(started)
        self._log_tail = (
            LogTail(ready.log_path, ready.log_pattern, log_from)
            if ready.log_path and ready.log_pattern
            else None
        )

    def step(self) -> _Finished | None:
        """Take one reading of the tree; the outcome once the launch is over."""
        at = self._clock()
        try:
            main = self._procfs.stat(self.pid)
        except GONE:
            return self._failed(at)
        if main.exited or main.starttime != self._starttime:
            return self._failed(at)
        ticks, faults = main.cpu_ticks, main.major_faults
        for pid in list(self.tree):
            try:
                member = self._procfs.stat(pid)
            except GONE:
                self.tree.discard(pid)
                continue
            ticks += member.cpu_ticks
            faults += member.major_faults
        # A descendant re-parented away from the tree takes its CPU with it: count only growth.
        self._ticks += max(0, ticks - self._last_raw_ticks)
        self._last_raw_ticks = ticks
        self.major_faults = max(self.major_faults or 0, faults)
        ready_at = self._observe(at, self._ticks / self._procfs.clock_ticks)
        timeout = self.app.ready.timeout
        if ready_at is not None and ready_at - self.started <= timeout:
            return _Finished("ok", max(0.0, ready_at - self.started), complete=True)
        if at - self.started >= timeout:
            return _Finished("timeout", timeout, complete=True)
        return None

    def _observe(self, at: float, cpu_seconds: float) -> float | None:
        signal = self.signal_name
        if signal == "cpu_settled":
            return self._cpu.observe(at, cpu_seconds)
        if signal == "libraries_settled":
            self._cpu_history.append((at, cpu_seconds))
            try:
                count = self._procfs.shared_objects(self.pid)
            except PermissionError:
                return self._fall_back_to_cpu()
            except GONE:
                return None  # exited between two reads: the next step records it
            return self._libraries.observe(at, count)
        if signal == "port":
            return self._port.observe(at, self.app.ready.port in self._procfs.listening_ports())
        if signal == "log_line" and self._log_tail is not None:
            written = self._log_tail.poll()
            if written is None:
                return self._log_signal.observe(at, False)
            return self._log_signal.observe(at, True, at - (self._wall_clock() - written))
        return ProcessStarted(self.started).observe(at)

    def _new_cpu_signal(self) -> CpuSettled:
        ready = self.app.ready
        return CpuSettled(
            self.started,
            threshold=ready.cpu_threshold,
            settle_for=ready.settle_for,
            resolution=1 / self._procfs.clock_ticks,
        )

    def _fall_back_to_cpu(self) -> float | None:
        """Another user's memory map is hidden without ptrace rights: time the CPU instead."""
        self.signal_name = "cpu_settled"
        self.detail = "libraries_settled needs ptrace access to the app; used cpu_settled"
        ready_at = None
        for at, cpu_seconds in self._cpu_history:
            ready_at = self._cpu.observe(at, cpu_seconds)
        return ready_at

    def _failed(self, at: float) -> _Finished:
        return _Finished(
            "failed",
            max(0.0, at - self.started),
            complete=False,
            detail=f"the process exited before it was ready ({self.signal_name})",
        )


def _next_due(due: float, interval: float, now: float) -> float:
    """The next tick of a fixed schedule; missed ticks are skipped, not caught up."""
    due += interval
    return due if due > now else now + interval


class LaunchWatcher:
    """Notices launches of watched apps and records how long each took to become ready.

    ``start()`` runs the loop in a daemon thread; ``scan_once()`` and ``poll_once()`` are its
    two steps, public for tests. The loop never dies: a failing step is logged, counted in
    ``stats.errors`` and the loop goes on. ``version_of(app_name)`` is called once per
    recorded launch from the loop's thread, so it should be cached and cheap.

    Example::

        watcher = LaunchWatcher(config.apps, recorder, version_of=inventory.version_of)
        watcher.start()
        ...
        watcher.stop()
    """

    def __init__(
        self,
        apps: Sequence[AppConfig],
        recorder: LaunchRecorder,
        *,
        version_of: Callable[[str], str | None] = lambda app: None,
        proc_root: Path = Path("/proc"),
        scan_interval: float = 0.5,
        poll_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.stats = WatcherStats()
        self._apps = {app.name: app for app in apps}
        self._membership = AppMembership(apps)
        self._log_paths = tuple(
            app.ready.log_path
            for app in apps
            if app.ready.signal == "log_line" and app.ready.log_path is not None
        )
        self._recorder = recorder
        self._version_of = version_of
        self._procfs = LaunchProcFS(proc_root)
        self._source = ProcfsProcesses(self._procfs)
        self._scan_interval = scan_interval
        self._poll_interval = poll_interval
        self._clock = clock
        self._wall_clock = wall_clock
        self._baseline_taken = False
        self._newest_pid: int | None = None
        self._launches: dict[int, _Launch] = {}
        self._log_history: deque[dict[Path, LogPosition | None]] = deque(maxlen=_LOG_HISTORY)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""

    # --- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop in a daemon thread. Its first scan only notes what already runs."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="launch-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to stop after its current step and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still reading: its file closes when the watcher is collected
        self._procfs.close()

    def _run(self) -> None:
        next_scan = next_poll = self._clock()
        while not self._stop.is_set():
            if self._clock() >= next_scan:
                following = bool(self._launches)
                self._guarded(self.scan_once)
                next_scan = _next_due(next_scan, self._scan_interval, self._clock())
                if not following:
                    next_poll = self._clock() + self._poll_interval
            if self._launches and self._clock() >= next_poll:
                self._guarded(self.poll_once)
                next_poll = _next_due(next_poll, self._poll_interval, self._clock())
            due = min(next_scan, next_poll) if self._launches else next_scan
            self._stop.wait(max(0.0, due - self._clock()))

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:
            self.stats.errors += 1
            # A broken /proc fails every step the same way: say it once, count every time.
            if repr(exc) != self._last_error:
                self._last_error = repr(exc)
                log.exception("launch watcher step failed; carrying on")

    # --- scanning for new processes -------------------------------------------------------

    def scan_once(self) -> None:
        """List /proc, inspect the pids not seen before and start following new launches.

        The first scan only remembers what is running: those processes are not launches.
        """
        with self._lock:
            began = time.thread_time()
            try:
                self._scan()
            finally:
                self.stats.scans += 1
                self.stats.scan_cpu_seconds += time.thread_time() - began
                self.stats.launches_tracked_now = len(self._launches)

    def _scan(self) -> None:
        # Log positions are taken before listing, so they precede every process the list misses.
        self._log_history.append({path: log_file_position(path) for path in self._log_paths})
        newest = self._procfs.newest_pid()
        unchanged = newest is not None and newest == self._newest_pid
        self._newest_pid = newest
        if unchanged and self._baseline_taken and not self._membership.rechecks_pending:
            self.stats.scans_skipped += 1
            return
        classified = self._membership.refresh(self._procfs.pids(), self._source)
        if not self._baseline_taken:
            self._baseline_taken = True
            return
        self.stats.processes_inspected += len(classified)
        parents: dict[int, int] = {}
        launched: list[_Launch] = []
        for item in classified:
            if not item.again:
                parents[item.info.pid] = item.info.ppid
            launch = self._launch_of(item, log_age=3 if item.again else 2)
            if launch is not None:
                launched.append(launch)
        self._adopt(parents)
        for launch in launched:
            self._step(launch)

    def members(self) -> dict[str, set[int]]:
        """The pids of each app, by the rule the per-app collector counts them with."""
        with self._lock:
            return self._membership.members()

    def following(self) -> dict[str, set[int]]:
        """The processes of each app's launches being followed: their first pids and trees."""
        with self._lock:
            trees: dict[str, set[int]] = {}
            for launch in self._launches.values():
                trees.setdefault(launch.app.name, set()).update({launch.pid, *launch.tree})
            return trees

    def _launch_of(self, item: Classified, log_age: int) -> _Launch | None:
        verdict = item.verdict
        if verdict.own is None or verdict.app != verdict.own:
            return None  # not itself an app's process, or exited
        if self._membership.app_of(verdict.ppid) == verdict.own:
            return None  # a helper of a running instance
        app = self._apps[verdict.own]
        started, started_wall = self._start_times(verdict.start)
        start = None
        if app.ready.log_path is not None:
            positions = self._log_history[max(0, len(self._log_history) - log_age)]
            before = positions.get(app.ready.log_path)
            start = log_start(before, log_file_position(app.ready.log_path), started_wall)
        launch = _Launch(
            app,
            item.info.pid,
            verdict.start,
            started,
            started_wall,
            self._procfs,
            self._clock,
            self._wall_clock,
            start,
        )
        self._launches[item.info.pid] = launch
        return launch

    def _start_times(self, starttime: float) -> tuple[float, float]:
        """Creation time on the monotonic clock and as Unix time."""
        uptime = self._procfs.uptime()
        now, wall = self._clock(), self._wall_clock()
        created = (starttime + 0.5) / self._procfs.clock_ticks
        age = max(0.0, uptime - created)
        return now - age, wall - age

    def _adopt(self, parents: dict[int, int]) -> None:
        owners: dict[int, object] = {}
        for launch in self._launches.values():
            owners[launch.pid] = launch
            owners.update(dict.fromkeys(launch.tree, launch))
        for pid, owner in assign_descendants(parents, owners).items():
            # A helper that is itself another app's process is that app's, not this launch's.
            if isinstance(owner, _Launch) and self._membership.app_of(pid) == owner.app.name:
                owner.tree.add(pid)

    # --- following launches ------------------------------------------------------------------

    def poll_once(self) -> None:
        """Take one reading of every launch being followed; record those that are over."""
        with self._lock:
            began = time.thread_time()
            try:
                for launch in list(self._launches.values()):
                    self._step(launch)
            finally:
                self.stats.polls += 1
                self.stats.poll_cpu_seconds += time.thread_time() - began
                self.stats.launches_tracked_now = len(self._launches)

    def _step(self, launch: _Launch) -> None:
        try:
            finished = launch.step()
        except Exception:
            # One unreadable launch must not stop the others; it is dropped, not retried.
            self.stats.errors += 1
            del self._launches[launch.pid]
            log.exception("stopped following a launch of %s", launch.app.name)
            return
        if finished is not None:
            del self._launches[launch.pid]
            self._record(launch, finished)

    def _record(self, launch: _Launch, finished: _Finished) -> None:
        event = LaunchEvent(
            app=launch.app.name,
            version=self._version(launch.app.name),
            method="passive",
            outcome=finished.outcome,
            started_at=launch.started_wall,
            duration_seconds=finished.duration,
            ready_signal=launch.signal_name,
            start_kind=classify_start(
                launch.major_faults,
                complete=finished.complete and launch.signal_name != "process_start",
            ),
            detail=finished.detail or launch.detail,
        )
        self._recorder.record(event)
        self.stats.launches_recorded += 1
        if finished.outcome == "timeout":
            self.stats.timeouts += 1
        elif finished.outcome == "failed":
            self.stats.failures += 1

    def _version(self, app: str) -> str | None:
        try:
            return self._version_of(app)
        except Exception:
            log.exception("cannot tell the version of %s", app)
            return None
