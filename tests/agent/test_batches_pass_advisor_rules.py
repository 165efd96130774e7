"""End to end: batches the agent's own code builds from a hostile machine pass the advisor.

The advisor refuses a whole batch (422) for one value that breaks its rules
(advisor/api/batch_rules.py), and the agent then quarantines it: a minute of the host's data
lost. Here the real collectors, inventory readers, probes, report parser, recorder and service
run on the recorded ``desktop`` machine salted with hostile strings (tests/agent/hostile.py:
escape sequences in DMI strings and package names, a mount point with a newline, a too-long
one), a command probe whose stderr is coloured, a server whose status line holds terminal
escapes, a hostname with an escape sequence, and a wall clock stepped back between intervals
and set from 1970. Each spooled body is read as the advisor reads it (parse_batch) and must
pass check_batch.
"""

from __future__ import annotations

import functools
import gzip
import os
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from advisor.api.batch_rules import check_batch
from advisor.api.ingest import RejectedError, parse_batch
from agent.collectors.default import build_collectors
from agent.collectors.disks import DiskCollector
from agent.config import CommandProbeConfig, HttpProbeConfig, parse_config
from agent.inventory.collector import InventoryCollector
from agent.inventory.hardware import read_hardware
from agent.inventory.software import APT_UPGRADABLE_COMMAND, PACKAGE_LIST_COMMANDS, read_software
from agent.launches.recorder import LaunchRecorder
from agent.metrics import AgentMetrics
from agent.probes.command import CommandProbe
from agent.probes.http import HttpProbe
from agent.reported import InvalidReport, parse_reports
from agent.service import AgentService, Parts, host_identity
from agent.shared.wire import Batch, HostIdentity, Inventory
from agent.spool import Spool
from tests.agent.hostile import HOSTILE_APT, HOSTILE_DPKG, Machine, hostile_machine
from tests.conftest import FIXTURES

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z
ADVISOR_NOW = T0 + 3_600.0
HOST = HostIdentity(host_id="4c1d0f2e", hostname="fin-ws-12", agent_version="0.1.0")

CONFIG = """
[launches]
max_events_per_interval = 5000

[[apps]]
name = "Firefox Développeur"
process_names = ["firefox"]
packages = ["evil\\u001b[2J"]

[[apps]]
name = "writer"
process_names = ["soffice.bin"]
version_command = ["soffice", "--version"]
version_pattern = "LibreOffice (.*)"
"""

OUTPUTS = {
    tuple(PACKAGE_LIST_COMMANDS["dpkg"]): (
        FIXTURES / "package-managers" / "dpkg-query.debian12.tsv"
    ).read_text()
    + HOSTILE_DPKG,
    tuple(APT_UPGRADABLE_COMMAND): (
        FIXTURES / "package-managers" / "apt-list-upgradable.debian12.txt"
    ).read_text()
    + HOSTILE_APT,
    ("soffice", "--version"): "LibreOffice \x1b[1m7.4.7.2\x1b[0m\u202e 40(Build:2)\n",
}

COLOURED_STDERR = (
    "import sys; sys.stderr.write('\\x1b[1;31mError:\\x1b[0m source file could not be loaded"
    "\\x07\\x1b[K\\r\\n' * 20); sys.exit(1)"
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run_recorded(argv: Sequence[str], timeout: float) -> str | None:
    return OUTPUTS.get(tuple(argv))


def any_filesystem(path: str) -> os.statvfs_result:
    return os.statvfs_result((4096, 4096, 1000, 400, 300, 0, 0, 0, 0, 255))


@pytest.fixture
def escaping_server() -> Iterator[int]:
    """A server answering each connection with a status line full of terminal escapes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 2\x1b[31m00 \x85\x9bOK\x1b]0;owned\x07\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(10)
        listener.close()


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return hostile_machine(tmp_path / "machine")


def build_service(
    machine: Machine, tmp_path: Path, wall: Clock, monotonic: Clock, http_port: int
) -> tuple[AgentService, Spool, InventoryCollector, list[object]]:
    config = parse_config(CONFIG, source="agent.toml", environ={})
    collectors = [
        DiskCollector(proc_root=machine.proc, sys_root=machine.sys, statvfs=any_filesystem)
        if collector.name == "disks"
        else collector
        for collector in build_collectors(config, proc_root=machine.proc, sys_root=machine.sys)
    ]
    recorder = LaunchRecorder(max_events=config.launches.max_events_per_interval)
    inventory = InventoryCollector(
        config,
        state_path=tmp_path / "inventory.json",
        read_hardware=functools.partial(
            read_hardware,
            proc_root=machine.proc,
            sys_root=machine.sys,
            etc_root=machine.etc,
            machine=lambda: "x86_64",
        ),
        read_software=functools.partial(read_software, run=run_recorded),
        clock=wall,
    )
    spool = Spool(tmp_path / "spool.sqlite3", 16 * 1024**2)
    probes: list[object] = [
        CommandProbe(
            CommandProbeConfig(
                name="convert\u00e9", command=(sys.executable, "-c", COLOURED_STDERR), timeout=30
            ),
            recorder,
            wall_clock=wall,
        ),
        HttpProbe(
            HttpProbeConfig(name="intranet", url=f"http://127.0.0.1:{http_port}/", timeout=10),
            recorder,
            wall_clock=wall,
        ),
    ]
    parts = Parts(
        config=config,
        host=host_identity(config, "4c1d0f2e"),
        collectors=collectors,
        recorder=recorder,
        metrics=AgentMetrics(),
        spool=spool,
        inventory=inventory,
        wall_clock=wall,
        clock=monotonic,
    )
    return AgentService(parts), spool, inventory, probes


def advance(machine: Machine) -> None:
    """Move CPU and disk counters on, so rate samples have a period to cover."""
    stat = machine.proc / "stat"
    first, *rest = stat.read_text().splitlines()
    numbers = [int(value) + 100 for value in first.split()[1:]]
    stat.write_text("\n".join([" ".join(["cpu", *map(str, numbers)]), *rest]) + "\n")


def spooled_batches(spool: Spool) -> list[Batch]:
    """Every spooled batch, read as the advisor reads it."""
    return [parse_batch(gzip.decompress(item.body)) for item in spool.due(float("inf"), 100)]


def test_batches_from_a_hostile_machine_and_a_stepped_clock_pass_the_advisors_rules(
    machine: Machine, tmp_path: Path, escaping_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "fin-ws-12\x1b[2J\u202e")
    wall, monotonic = Clock(30.0), Clock(0.0)  # booted with a dead RTC battery: 1970
    service, spool, inventory, probes = build_service(
        machine, tmp_path, wall, monotonic, escaping_server
    )

    # Minute 1, clock unset: the inventory is read, nothing can be sent yet.
    service.check_inventory()
    service.sample()
    wall.now, monotonic.now = 90.0, 60.0
    assert service.flush() is None

    # NTP sets the clock, two hours ahead: this PC's RTC keeps local time (dual boot).
    wall.now = T0 + 7_200.0
    for probe in probes:
        probe.run_once()  # type: ignore[attr-defined]
    reported = parse_reports(
        [
            {"app": "Firefox-dev", "duration_seconds": 2.5, "detail": "cold\tstart\r\n"},
            {"app": "writer", "duration_seconds": 4.0},
        ],
        now=wall.now,
        version_of=inventory.version_of,
    )
    service.parts.recorder.record_all(reported)
    for moment in (65.0, 70.0, 75.0):
        advance(machine)
        monotonic.now = moment
        service.sample()
    wall.now, monotonic.now = T0 + 7_260.0, 120.0
    assert service.flush() is not None

    # NTP steps the clock back to UTC in the middle of the next interval.
    service.sample()
    wall.now, monotonic.now = T0 + 120.0, 180.0
    advance(machine)
    service.sample()
    assert service.flush() is not None

    batches = spooled_batches(spool)
    spool.close()
    for batch in batches:
        check_batch(batch, now=ADVISOR_NOW)  # raises RejectedError (422) naming each field

    first, second = batches
    # The batches did carry what was hostile, escaped.
    assert first.host.hostname == "fin-ws-12\\x1b[2J\\u202e"
    assert first.inventory is not None
    hardware = first.inventory.hardware
    assert hardware.machine_vendor == "Dell\\x1b[31m Inc.\\x00\\x07"
    assert "evil\\x1b[2J" in {package.package for package in first.inventory.software}
    labels = {
        value
        for interval in first.intervals
        for metric in interval.metrics
        for value in metric.labels.values()
    }
    assert "/media/alice/USB\\x0aSTICK" in labels
    assert {"Firefox Développeur", "writer"} <= labels
    details = {launch.probe: launch.detail for launch in first.launches}
    assert details["convert\u00e9"] is not None
    assert "\\x1b[1;31mError:\\x1b[0m" in details["convert\u00e9"]
    assert details["intranet"] is not None
    assert "\\x1b[31m00 \\x85\\x9bOK" in details["intranet"]
    writer = [launch for launch in first.launches if launch.app == "writer"]
    assert [launch.version for launch in writer] == ["\\x1b[1m7.4.7.2\\x1b[0m\\u202e 40(Build:2)"]
    # The interval stepped back ends after it starts, and lasted what the monotonic clock says.
    (interval,) = second.intervals
    assert (interval.start, interval.end) == (T0 + 60.0, T0 + 120.0)


def test_the_advisor_would_have_refused_what_the_agent_cleaned(machine: Machine) -> None:
    """The salts are real trouble: the same field, sent as the firmware wrote it, is refused."""
    cleaned = read_hardware(
        proc_root=machine.proc, sys_root=machine.sys, etc_root=machine.etc, machine=lambda: "x"
    )
    as_written = (machine.sys / "class" / "dmi" / "id" / "sys_vendor").read_text().strip()
    inventory = Inventory(
        collected_at=T0, digest="d" * 64, hardware=cleaned, software=[], upgradable=[]
    )
    batch = Batch(batch_id="0" * 32, sequence=1, created_at=T0, host=HOST, inventory=inventory)

    check_batch(batch, now=ADVISOR_NOW)
    raw = replace(inventory, hardware=replace(cleaned, machine_vendor=as_written))
    with pytest.raises(RejectedError, match=r"machine_vendor: has a control character"):
        check_batch(replace(batch, inventory=raw), now=ADVISOR_NOW)


def test_a_reporter_cannot_put_what_the_advisor_refuses_into_a_batch() -> None:
    for hostile in (
        {"app": "x", "duration_seconds": 1, "detail": "\x1b[31mred"},
        {"app": "x", "duration_seconds": 1, "version": "1\u202e0"},
        {"app": "x\n", "duration_seconds": 1},
    ):
        with pytest.raises(InvalidReport):
            parse_reports(hostile, now=T0, version_of=lambda app: None)
