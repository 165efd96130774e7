"""The launch watcher: against a fake /proc with a fake clock, and against real processes.

Real-process tests run the watcher's thread on the live /proc and launch tests/agent/launches/
fake_app.py under a unique process name; they check what was recorded, with bounds loose
enough for a loaded machine (bench/launch_accuracy.py measures accuracy).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.config import AppConfig, ReadySection
from agent.launches.procfs import (
    LaunchProcFS,
    count_shared_objects,
    listen_dump_request,
    parse_diag_ports,
    parse_listening_ports,
)
from agent.launches.recorder import LaunchRecorder
from agent.launches.watcher import (
    LaunchWatcher,
    LogPosition,
    LogTail,
    assign_descendants,
    log_start,
)
from agent.procfs import parse_newest_pid, parse_pid_stat
from agent.shared.wire import LaunchEvent
from tests.agent.launches.fake_app import READY_LINE, make_launcher
from tests.conftest import free_port

FAKE_APP = Path(__file__).with_name("fake_app.py")
LOOSE = 0.3  # seconds: a correctness bound for a shared 2-core machine, not the accuracy target
WAIT = 30.0

# --- recorded /proc snippets -------------------------------------------------------------------

STAT_WITH_ODD_NAME = (
    "4242 (Web Content (2)) S 4100 4100 4100 0 -1 4194560 51234 0 17 3 812 96 4 1 20 0 31 0 "
    "2236611 2936475648 61870 18446744073709551615 1 1 0 0 0 0 0 16781312 1082133752 0 0 0 17 "
    "1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
)
MAPS = """\
55d0c4a00000-55d0c4a2f000 r--p 00000000 08:01 1311 /usr/bin/python3.11
7f1c2a000000-7f1c2a022000 r--p 00000000 08:01 2231 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1c2a022000-7f1c2a19a000 r-xp 00022000 08:01 2231 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1c2a200000-7f1c2a210000 r--p 00000000 08:01 2390 /usr/lib/x86_64-linux-gnu/libm.so.6
7f1c2a300000-7f1c2a304000 r--p 00000000 08:01 9001 /opt/app/lib/libplugin.so (deleted)
7f1c2a400000-7f1c2a421000 rw-p 00000000 00:00 0 [heap]
7f1c2a500000-7f1c2a501000 r--p 00000000 08:01 9002 /opt/app/share/icons.sofa
7f1c2a600000-7f1c2a601000 r--s 00000000 00:05 77 /memfd:wayland-shm (deleted)
"""
NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41\
 1 0000000000000000 100 0 0 10 0
   1: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 42\
 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17\
 1 0000000000000000 100 0 0 10 0
"""


def test_stat_is_split_after_the_last_parenthesis_of_the_name() -> None:
    stat = parse_pid_stat(STAT_WITH_ODD_NAME)
    assert (stat.pid, stat.comm, stat.state, stat.ppid) == (4242, "Web Content (2)", "S", 4100)
    assert (stat.cpu_ticks, stat.major_faults, stat.starttime) == (913, 20, 2236611)


def test_shared_objects_are_counted_once_per_file_including_deleted_ones() -> None:
    assert count_shared_objects(MAPS) == 3


def test_listening_ports_are_the_local_ports_in_listen_state() -> None:
    assert parse_listening_ports(NET_TCP) == {8080, 22}


def test_sock_diag_answers_give_their_source_ports_until_done() -> None:
    def answer(port: int) -> bytes:
        body = bytes([2, 10, 0, 0]) + port.to_bytes(2, "big") + bytes(66)
        return (
            (16 + len(body)).to_bytes(4, "little") + (20).to_bytes(2, "little") + bytes(10) + body
        )

    done = (20).to_bytes(4, "little") + (3).to_bytes(2, "little") + bytes(14)
    ports: set[int] = set()
    assert parse_diag_ports(answer(8080) + answer(631), ports) is False
    assert parse_diag_ports(done, ports) is True
    assert ports == {8080, 631}
    assert len(listen_dump_request(socket.AF_INET)) == 16 + 56


def test_new_pids_join_the_tree_their_new_ancestors_lead_to() -> None:
    joined = assign_descendants({11: 10, 12: 11, 13: 1, 21: 20}, {10: "a", 20: "b"})
    assert joined == {11: "a", 12: "a", 21: "b"}


def test_log_tail_reads_only_what_was_written_after_its_start(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(f"{READY_LINE} (an earlier run)\n")
    tail = LogTail(log, READY_LINE, (log.stat().st_ino, log.stat().st_size))
    assert tail.poll() is None
    with log.open("a") as handle:
        handle.write(f"{READY_LINE}\n")
    assert tail.poll() == log.stat().st_mtime


def test_log_tail_starts_over_when_the_log_is_rotated(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x" * 100 + "\n")
    tail = LogTail(log, READY_LINE, (log.stat().st_ino, log.stat().st_size))
    log.rename(tmp_path / "app.log.1")
    log.write_text(f"{READY_LINE}\n")
    assert tail.poll() is not None


def test_a_log_untouched_since_the_process_was_created_is_read_from_where_it_was_seen() -> None:
    before, at_sight = LogPosition(7, 100, 50.0), LogPosition(7, 180, 90.0)
    assert log_start(before, at_sight, started_wall=95.0) == (7, 180)


def test_a_log_written_since_the_process_was_created_is_read_from_the_scan_before() -> None:
    before, at_sight = LogPosition(7, 100, 50.0), LogPosition(7, 180, 96.0)
    assert log_start(before, at_sight, started_wall=95.0) == (7, 100)
    assert log_start(None, at_sight, started_wall=95.0) is None


def test_log_tail_waits_for_a_log_created_after_the_launch(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    tail = LogTail(log, READY_LINE, None)
    assert tail.poll() is None
    log.write_text(f"{READY_LINE}\n")
    assert tail.poll() is not None


# --- the watcher on a fake /proc with a fake clock ---------------------------------------------

BOOT_OFFSET = 1_700_000_000.0  # wall clock = uptime + this, in the fake world


def stat_line(pid: int, comm: str, ppid: int, utime: int, starttime: int, state: str) -> str:
    fields = [state, ppid, pid, pid, 0, -1, 4194304, 100, 0, 0, 0, utime, 0, 0, 0, 20, 0, 1, 0]
    fields += [starttime, 1000000, 100]
    return f"{pid} ({comm[:15]}) " + " ".join(str(value) for value in fields) + "\n"


@dataclass
class FakeWorld:
    """A fake /proc whose uptime is the fake monotonic clock."""

    root: Path
    now: float = 1000.0
    processes: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir()
        self.tick(0.0)

    def tick(self, seconds: float) -> None:
        self.now = round(self.now + seconds, 6)
        (self.root / "uptime").write_text(f"{self.now:.2f} 0.00\n")

    def clock(self) -> float:
        return self.now

    def wall_clock(self) -> float:
        return self.now + BOOT_OFFSET

    def spawn(self, pid: int, comm: str, ppid: int = 1, argv: list[str] | None = None) -> None:
        """A process created 0.2 s ago (in the previous scan interval)."""
        created = round((self.now - 0.2) * 100)
        self.processes[pid] = {"comm": comm, "ppid": ppid, "utime": 0, "start": created}
        self.write(pid)
        (self.root / str(pid) / "cmdline").write_text("\0".join(argv or [comm]) + "\0")

    def update(self, pid: int, **changes: Any) -> None:
        self.processes[pid].update(changes)
        self.write(pid)

    def exit(self, pid: int) -> None:
        del self.processes[pid]
        shutil.rmtree(self.root / str(pid))

    def write(self, pid: int) -> None:
        info = self.processes[pid]
        directory = self.root / str(pid)
        directory.mkdir(exist_ok=True)
        (directory / "comm").write_text(info["comm"][:15] + "\n")
        stat = stat_line(pid, info["comm"], info["ppid"], info["utime"], info["start"], "S")
        (directory / "stat").write_text(stat)


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    fake = FakeWorld(tmp_path / "proc")
    fake.spawn(1, "systemd", ppid=0)
    return fake


def fake_watcher(
    world: FakeWorld, apps: list[AppConfig], events: list[LaunchEvent]
) -> LaunchWatcher:
    watcher = LaunchWatcher(
        apps,
        LaunchRecorder(on_record=events.append),
        version_of=lambda app: "7.4",
        proc_root=world.root,
        clock=world.clock,
        wall_clock=world.wall_clock,
    )
    watcher.scan_once()  # the baseline: what runs now is not a launch
    return watcher


def cpu_app(name: str = "office", **ready: Any) -> AppConfig:
    settings: dict[str, Any] = {"signal": "cpu_settled", "settle_for": 0.5} | ready
    return AppConfig(name=name, process_names=(name,), ready=ReadySection(**settings))


def test_a_descendants_cpu_keeps_the_launch_busy(world: FakeWorld) -> None:
    events: list[LaunchEvent] = []
    watcher = fake_watcher(world, [cpu_app()], events)
    world.spawn(600, "office")
    world.update(600, utime=10)
    watcher.scan_once()
    assert watcher.stats.launches_tracked_now == 1
    world.tick(0.1)
    world.spawn(601, "oosplash", ppid=600)
    watcher.scan_once()
    for step in range(1, 20):  # the parent idles; its child works until 1000.5
        world.update(601, utime=min(10 * step, 50))
        watcher.poll_once()
        world.tick(0.1)
    assert [event.outcome for event in events] == ["ok"]
    # created at 999.805 (tick 99980 plus half a tick), ready when the child stopped
    assert events[0].duration_seconds == pytest.approx(0.695)
    assert events[0].started_at == pytest.approx(999.805 + BOOT_OFFSET)
    assert (events[0].version, events[0].method, events[0].start_kind) == ("7.4", "passive", "warm")


def test_a_process_of_an_app_under_a_running_instance_is_not_a_launch(world: FakeWorld) -> None:
    world.spawn(500, "office")
    events: list[LaunchEvent] = []
    watcher = fake_watcher(world, [cpu_app()], events)
    world.spawn(700, "sh", ppid=500)
    world.spawn(701, "office", ppid=700)
    world.spawn(702, "office", ppid=1)
    watcher.scan_once()
    assert watcher.stats.launches_tracked_now == 1  # 702 only
    assert watcher.stats.processes_inspected == 3


def test_a_process_that_execs_the_app_after_the_scan_saw_its_shell_is_a_launch(
    world: FakeWorld,
) -> None:
    events: list[LaunchEvent] = []
    watcher = fake_watcher(world, [cpu_app()], events)
    world.spawn(800, "bash")
    watcher.scan_once()
    assert watcher.stats.launches_tracked_now == 0
    world.update(800, comm="office")
    watcher.scan_once()
    assert watcher.stats.launches_tracked_now == 1


def test_a_name_cut_at_15_characters_is_checked_against_argv0(world: FakeWorld) -> None:
    long_name = "libreoffice-writer-beta"
    events: list[LaunchEvent] = []
    apps = [cpu_app(long_name), cpu_app("libreoffice-writer-nightly")]
    watcher = fake_watcher(world, apps, events)
    world.spawn(900, long_name, argv=[f"/opt/lo/{long_name}", "--writer"])
    world.spawn(901, "libreoffice-writer-other", argv=["/opt/lo/libreoffice-writer-other"])
    watcher.scan_once()
    assert watcher.stats.launches_tracked_now == 1
    world.exit(900)
    world.tick(0.1)
    watcher.poll_once()
    assert [(event.app, event.outcome) for event in events] == [(long_name, "failed")]


def test_the_command_line_pattern_must_match_when_set(world: FakeWorld) -> None:
    calc = AppConfig(
        name="calc",
        process_names=("soffice.bin",),
        cmdline_pattern=r"--calc\b",
        ready=ReadySection(signal="process_start"),
    )
    events: list[LaunchEvent] = []
    watcher = fake_watcher(world, [calc], events)
    world.spawn(950, "soffice.bin", argv=["/usr/lib/libreoffice/soffice.bin", "--writer"])
    world.spawn(951, "soffice.bin", argv=["/usr/lib/libreoffice/soffice.bin", "--calc"])
    watcher.scan_once()
    assert [(event.app, event.duration_seconds) for event in events] == [("calc", 0.0)]
    assert events[0].start_kind == "unknown"


# --- the watcher's thread on the live /proc, with real processes ------------------------------


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    launched_at: float
    ready_file: Path

    def true_duration(self) -> float:
        return float(self.ready_file.read_text()) - self.launched_at


class Harness:
    """A started watcher for one fake app with a unique process name; cleans up after itself."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.name = "fk" + secrets.token_hex(5)
        self.launcher = make_launcher(tmp_path, self.name)
        self.events: list[LaunchEvent] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.watcher: LaunchWatcher | None = None
        self._lock = threading.Lock()

    def watch(self, **ready: Any) -> LaunchWatcher:
        app = AppConfig(name="fake-app", process_names=(self.name,), ready=ReadySection(**ready))
        self.watcher = LaunchWatcher(
            [app], LaunchRecorder(on_record=self.events.append), version_of={"fake-app": "2.0"}.get
        )
        self.watcher.start()
        self.wait_scans(1)
        return self.watcher

    def wait_scans(self, count: int) -> None:
        assert self.watcher is not None
        target = self.watcher.stats.scans + count
        wait_for(lambda: self.watcher is not None and self.watcher.stats.scans >= target, "scans")

    def launch(self, mode: str, *args: str, launcher: Path | None = None) -> Launched:
        ready_file = self.tmp_path / f"ready-{len(self.processes)}"
        command = [str(launcher or self.launcher), str(FAKE_APP), mode, "--ready-file"]
        launched_at = time.time()
        process = subprocess.Popen([*command, str(ready_file), *args])
        self.processes.append(process)
        return Launched(process, launched_at, ready_file)

    def wait_events(self, count: int) -> list[LaunchEvent]:
        wait_for(lambda: len(self.events) >= count, f"{count} launch event(s)")
        return self.events

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=WAIT)
        if self.watcher is not None:
            self.watcher.stop()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    running = Harness(tmp_path)
    try:
        yield running
    finally:
        running.close()


def assert_close(event: LaunchEvent, launched: Launched) -> None:
    assert event.duration_seconds is not None
    assert abs(event.duration_seconds - launched.true_duration()) < LOOSE
    assert abs(event.started_at - launched.launched_at) < LOOSE


def test_it_times_a_launch_until_the_process_tree_cpu_settles(harness: Harness) -> None:
    harness.watch(signal="cpu_settled", settle_for=0.3)
    launched = harness.launch("cpu", "--after", "0.6")
    [event] = harness.wait_events(1)
    assert (event.app, event.version, event.method) == ("fake-app", "2.0", "passive")
    assert (event.outcome, event.ready_signal) == ("ok", "cpu_settled")
    # Cold or warm depends on the page cache of the moment (fresh clone, just-written .pyc):
    # the classification itself is tested on recorded fault counts in test_ready.py.
    assert_close(event, launched)


def test_it_times_a_launch_until_shared_libraries_stop_loading(harness: Harness) -> None:
    harness.watch(signal="libraries_settled", settle_for=0.4)
    launched = harness.launch("libraries", "--after", "0.8", "--libraries", "8")
    [event] = harness.wait_events(1)
    assert (event.outcome, event.ready_signal) == ("ok", "libraries_settled")
    assert_close(event, launched)


def test_it_times_a_launch_until_the_port_listens(harness: Harness) -> None:
    port = free_port()
    harness.watch(signal="port", port=port)
    launched = harness.launch("port", "--after", "0.6", "--port", str(port))
    [event] = harness.wait_events(1)
    assert (event.outcome, event.ready_signal) == ("ok", "port")
    assert_close(event, launched)


def test_it_times_a_launch_until_the_log_line_appears_in_a_new_log(harness: Harness) -> None:
    log = harness.tmp_path / "new.log"
    harness.watch(signal="log_line", log_path=log, log_pattern=READY_LINE)
    launched = harness.launch("log", "--after", "0.6", "--log", str(log))
    [event] = harness.wait_events(1)
    assert (event.outcome, event.ready_signal) == ("ok", "log_line")
    assert_close(event, launched)


def test_it_ignores_ready_lines_logged_before_the_launch(harness: Harness) -> None:
    log = harness.tmp_path / "old.log"
    log.write_text(f"{READY_LINE}\n" * 3)
    harness.watch(signal="log_line", log_path=log, log_pattern=READY_LINE)
    launched = harness.launch("log", "--after", "1.2", "--log", str(log))
    [event] = harness.wait_events(1)
    assert event.outcome == "ok"
    assert_close(event, launched)


def test_a_process_start_signal_counts_the_launch_with_no_duration(harness: Harness) -> None:
    harness.watch(signal="process_start")
    launched = harness.launch("never")
    [event] = harness.wait_events(1)
    assert (event.outcome, event.duration_seconds, event.ready_signal) == (
        "ok",
        0.0,
        "process_start",
    )
    assert abs(event.started_at - launched.launched_at) < LOOSE


def test_a_process_that_exits_before_it_is_ready_is_a_failed_launch(harness: Harness) -> None:
    # Lives past one scan interval (0.5 s), so it is seen, but exits before it settles.
    harness.watch(signal="cpu_settled", settle_for=2.0)
    harness.launch("fail", "--after", "1.0")
    [event] = harness.wait_events(1)
    assert event.outcome == "failed"
    assert event.detail is not None
    assert "exited before it was ready" in event.detail
    assert harness.watcher is not None
    assert harness.watcher.stats.failures == 1


def test_a_launch_not_ready_in_time_is_a_timeout_of_that_length(harness: Harness) -> None:
    harness.watch(signal="port", port=free_port(), timeout=0.8)
    harness.launch("never")
    [event] = harness.wait_events(1)
    assert (event.outcome, event.duration_seconds) == ("timeout", 0.8)
    assert harness.watcher is not None
    assert harness.watcher.stats.timeouts == 1


def test_a_child_of_a_launching_app_is_not_a_second_launch(harness: Harness) -> None:
    watcher = harness.watch(signal="cpu_settled", settle_for=0.3)
    child_file = harness.tmp_path / "child"
    harness.launch("spawn", "--after", "0.6", "--child-file", str(child_file))
    harness.wait_events(1)
    wait_for(child_file.exists, "the child to start")
    harness.wait_scans(3)
    assert len(harness.events) == 1
    assert watcher.stats.launches_tracked_now == 0


def test_processes_running_before_the_watcher_started_are_not_launches(harness: Harness) -> None:
    launched = harness.launch("never")
    comm = Path(f"/proc/{launched.process.pid}/comm")
    wait_for(lambda: comm.read_text().strip() == harness.name, "the app to exec")
    watcher = harness.watch(signal="process_start")
    harness.wait_scans(3)
    assert harness.events == []
    assert watcher.stats.launches_tracked_now == 0


def test_processes_of_unwatched_apps_are_ignored(harness: Harness) -> None:
    watcher = harness.watch(signal="process_start")
    other = make_launcher(harness.tmp_path, "ot" + secrets.token_hex(5))
    harness.launch("never", launcher=other)
    harness.wait_scans(3)
    assert watcher.stats.processes_inspected >= 1
    assert harness.events == []
    assert watcher.stats.launches_tracked_now == 0


def test_the_loop_counts_a_failing_step_and_carries_on(tmp_path: Path) -> None:
    watcher = LaunchWatcher(
        [cpu_app()], LaunchRecorder(), proc_root=tmp_path / "missing", scan_interval=0.01
    )
    watcher.start()
    try:
        wait_for(lambda: watcher.stats.errors >= 3, "failing scans")
        assert watcher.stats.scans >= 3
    finally:
        watcher.stop()


def test_live_proc_readings_describe_this_process() -> None:
    procfs = LaunchProcFS()
    own = procfs.stat(os.getpid())
    assert own.pid in procfs.pids()
    assert procfs.comm(own.pid) == own.comm
    assert procfs.shared_objects(own.pid) > 0


def announce_pid(world: FakeWorld, pid: int) -> None:
    """What the kernel does on every fork: /proc/loadavg names the newest pid."""
    (world.root / "loadavg").write_text(f"0.10 0.20 0.30 1/120 {pid}\n")


def test_the_newest_pid_is_the_last_field_of_loadavg() -> None:
    assert parse_newest_pid("0.35 0.41 0.39 1/331 48213\n") == 48213


def test_the_newest_pid_is_read_afresh_from_the_file_kept_open(tmp_path: Path) -> None:
    procfs = LaunchProcFS(tmp_path)
    assert procfs.newest_pid() is None  # no loadavg: unreadable, not an error
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.10 0.20 0.30 1/120 41\n")
    assert procfs.newest_pid() == 41
    loadavg.write_text("0.10 0.20 0.30 2/121 4321\n")  # rewritten in place, as the kernel does
    assert procfs.newest_pid() == 4321
    procfs.close()
    loadavg.write_text("0.10 0.20 0.30 1/122 7\n")
    assert procfs.newest_pid() == 7  # reopened after close()
    procfs.close()


def test_proc_is_listed_only_after_a_new_pid_was_handed_out(world: FakeWorld) -> None:
    announce_pid(world, 1)
    events: list[LaunchEvent] = []
    watcher = fake_watcher(world, [cpu_app()], events)
    world.spawn(650, "office")  # in the listing, but loadavg was not told: the scan is skipped
    watcher.scan_once()
    assert watcher.stats.scans_skipped == 1
    assert watcher.stats.launches_tracked_now == 0
    announce_pid(world, 650)
    watcher.scan_once()
    assert watcher.stats.scans_skipped == 1
    assert watcher.stats.launches_tracked_now == 1


def test_a_pending_second_look_is_taken_even_when_no_pid_was_handed_out(
    world: FakeWorld,
) -> None:
    announce_pid(world, 1)
    events: list[LaunchEvent] = []
    watcher = fake_watcher(world, [cpu_app()], events)
    world.spawn(800, "bash")
    announce_pid(world, 800)
    watcher.scan_once()
    world.update(800, comm="office")  # exec: same pid, no new pid handed out
    watcher.scan_once()
    assert watcher.stats.scans_skipped == 0
    assert watcher.stats.launches_tracked_now == 1
