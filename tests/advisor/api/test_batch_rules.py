"""The semantic rules of a batch: what real agents send passes, each attack value is named.

Real batches are made by the agent's own code: its collectors on the recorded desktop /proc,
its summariser, launch recorder, report endpoint parser and probes, and its inventory readers
on recorded package-manager output; and by the fleet simulator. Each rule then has a case that
breaks only that rule, so a rule taken out fails its case.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.api import batch_rules
from advisor.api.batch_rules import (
    MAX_CONTAINERS,
    MAX_LAUNCHES_COUNTED,
    MAX_PACKAGES,
    MAX_SEPARATORS,
    check_batch,
    check_element_count,
    check_separator_count,
)
from advisor.api.ingest import RejectedError, parse_batch
from advisor.simulator.fleet import plan_fleet
from advisor.simulator.generate import simulate
from advisor.simulator.scenario import default_scenario
from advisor.store.models import LaunchCountRow
from advisor.store.sql import SqlStore
from agent import __version__
from agent.collectors.apps import AppCollector
from agent.collectors.base import Collector
from agent.collectors.cpu import CpuCollector
from agent.collectors.disks import DiskCollector
from agent.collectors.memory import MemoryCollector
from agent.collectors.network import NetworkCollector
from agent.collectors.pressure import PressureCollector
from agent.config import AppConfig, CommandProbeConfig, HttpProbeConfig
from agent.inventory.hardware import read_hardware
from agent.inventory.packages import parse_apt_upgradable, parse_dpkg_query
from agent.launches.recorder import LaunchRecorder
from agent.probes.command import CommandProbe
from agent.probes.http import HttpProbe
from agent.reported import parse_reports
from agent.shared.wire import (
    Batch,
    Disk,
    HostIdentity,
    InstalledPackage,
    Interval,
    Inventory,
    LaunchCount,
    LaunchEvent,
    MetricSummary,
    UpgradablePackage,
    encode,
    inventory_digest,
    new_batch_id,
)
from agent.summary import IntervalAccumulator
from tests.conftest import FIXTURES, REPO, free_port

NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z
HOST_ID = "4c1d0f2e9a8b7c6d5e4f3a2b1c0d9e8f"
WATCHED = (
    AppConfig(name="firefox", process_names=("firefox",)),
    AppConfig(name="python", process_names=("python3", "python", "pytest")),
)

# --- batches as agents make them ---------------------------------------------------------------


def _statvfs(path: str) -> os.statvfs_result:
    return os.statvfs_result((4096, 4096, 1000, 400, 300, 0, 0, 0, 0, 255))


def agent_interval(tmp_path: Path, start: float) -> Interval:
    """One interval of the recorded desktop, sampled twice by the agent's collectors."""
    proc_root, sys_root = tmp_path / "proc", tmp_path / "sys"
    shutil.copytree(FIXTURES / "proc" / "desktop", proc_root)
    shutil.copytree(FIXTURES / "sys" / "desktop", sys_root)
    collectors: list[Collector] = [
        CpuCollector(proc_root=proc_root),
        MemoryCollector(proc_root=proc_root, page_size=4096),
        PressureCollector(proc_root=proc_root),
        DiskCollector(proc_root=proc_root, sys_root=sys_root, statvfs=_statvfs),
        NetworkCollector(proc_root=proc_root, sys_root=sys_root),
        AppCollector(WATCHED, proc_root=proc_root, clock_ticks=100, page_size=4096),
    ]
    accumulator = IntervalAccumulator()
    for collector in collectors:
        accumulator.add(collector.collect(1.0))
    # Move CPU ticks and disk I/O on, so the rates have a period to cover.
    stat = proc_root / "stat"
    lines = stat.read_text().splitlines()
    stat.write_text("\n".join(["cpu  10500 500 3200 81000 1100 250 350 100 0 0", *lines[1:]]))
    diskstats = proc_root / "diskstats"
    diskstats.write_text(
        diskstats.read_text().replace(
            "sda 100000 5000 8000000 50000", "sda 100400 5000 8020480 50800"
        )
    )
    for collector in collectors:
        accumulator.add(collector.collect(6.0))
    return Interval(start=start, end=start + 60.0, metrics=accumulator.flush())


def agent_launches(now: float) -> LaunchRecorder:
    """A recorder holding one launch of each kind the agent measures, made by its own code."""
    recorder = LaunchRecorder()
    recorder.record(
        LaunchEvent(
            app="firefox",
            version="128.5.0esr-1~deb12u1",
            method="passive",
            outcome="ok",
            started_at=now - 30,
            duration_seconds=1.84,
            ready_signal="cpu_settled",
            start_kind="warm",
            detail="libraries_settled needs ptrace access to the app; used cpu_settled",
        )
    )
    for event in parse_reports(
        [
            {"app": "payroll", "duration_seconds": 2.5, "version": "2.1"},
            {"app": "payroll", "duration_seconds": 40.0, "outcome": "timeout", "detail": "odd"},
        ],
        now=now,
        version_of=lambda app: None,
    ):
        recorder.record(event)
    # A failing command: its detail is the tail of its stderr, newlines and tabs included.
    failing = "import sys; sys.stderr.write('error: no such file\\n\\tat line 3\\n'); sys.exit(3)"
    CommandProbe(
        CommandProbeConfig(name="convert", command=(sys.executable, "-c", failing)), recorder
    ).run_once()
    HttpProbe(
        HttpProbeConfig(name="intranet", url=f"http://127.0.0.1:{free_port()}/", timeout=5.0),
        recorder,
    ).run_once()
    return recorder


def fixture_inventory(collected_at: float, copies: int = 1) -> Inventory:
    """The recorded Debian desktop's inventory; ``copies`` > 1 repeats its packages under new
    names, for a desktop with more software installed."""
    hardware = read_hardware(
        proc_root=FIXTURES / "proc" / "desktop",
        sys_root=FIXTURES / "sys" / "desktop",
        etc_root=FIXTURES / "etc" / "desktop",
        machine=lambda: "x86_64",
    )
    managers = FIXTURES / "package-managers"
    recorded = parse_dpkg_query((managers / "dpkg-query.debian12.tsv").read_text()).packages
    software = [
        dataclasses.replace(package, package=f"{package.package}{'-' * copy}{copy or ''}")
        for copy in range(copies)
        for package in recorded
    ]
    upgradable = parse_apt_upgradable(
        (managers / "apt-list-upgradable.debian12.txt").read_text()
    ).packages
    return Inventory(
        collected_at=collected_at,
        digest=inventory_digest(hardware, software, upgradable),
        hardware=hardware,
        software=software,
        upgradable=upgradable,
    )


def agent_batch(tmp_path: Path, now: float, inventory: Inventory | None = None) -> Batch:
    """What AgentService.flush() builds from the parts above."""
    drained = agent_launches(now).drain()
    return Batch(
        batch_id=new_batch_id(),
        sequence=42,
        created_at=now,
        host=HostIdentity(host_id=HOST_ID, hostname="fin-ws-12", agent_version=__version__),
        intervals=[agent_interval(tmp_path, now - 60)],
        launches=drained.events,
        launch_counts=drained.counts,
        dropped_launch_events=drained.dropped,
        inventory=inventory,
    )


def test_a_batch_the_agent_built_passes(tmp_path: Path) -> None:
    now = time.time()
    batch = agent_batch(tmp_path, now, fixture_inventory(now - 30))

    check_batch(batch, now=now)

    assert len(batch.intervals[0].metrics) >= 30
    assert {event.method for event in batch.launches} == {"passive", "reported", "probe"}
    assert any("\n" in (event.detail or "") for event in batch.launches)
    assert batch.inventory is not None
    assert len(batch.inventory.software) == 830


def test_a_desktops_large_inventory_passes_and_fits_the_element_count(tmp_path: Path) -> None:
    now = time.time()
    inventory = fixture_inventory(now - 30, copies=7)
    batch = agent_batch(tmp_path, now, inventory)
    document = encode(batch)

    check_batch(parse_batch(document), now=now)
    check_element_count(document)

    assert len(inventory.software) == 5810


def test_a_batch_up_to_a_day_ahead_of_the_advisors_clock_passes(tmp_path: Path) -> None:
    now = time.time()
    batch = agent_batch(tmp_path, now + 23 * 3600, fixture_inventory(now + 23 * 3600))

    check_batch(batch, now=now)


def test_every_batch_of_a_simulated_fleet_passes() -> None:
    fleet = plan_fleet(
        default_scenario(), hosts=4, days=2, seed=7, start=NOW - 2 * 86400, interval=3600.0
    )
    checked = 0
    for delivery in simulate(fleet):
        check_batch(delivery.batch, now=delivery.delivered_at)
        checked += 1

    assert checked >= 4 * 2 * 24 * 0.5


def test_the_benchmarks_batch_passes() -> None:
    from bench.ingest import minute_of

    check_batch(minute_of(HOST_ID, "bench-ws-00001", random.Random(1)), now=NOW)


# --- one case per rule --------------------------------------------------------------------------

SUMMARY = MetricSummary("cpu_utilization_ratio", {}, 12, 2.4, 0.05, 0.61, 0.12, 0.5, 0.6)
LABELLED = MetricSummary(
    "disk_free_bytes", {"mountpoint": "/srv/data archive"}, 12, 1.2e12, 1e11, 1e11, 1e11, 1e11, 1e11
)
LAUNCH = LaunchEvent(
    app="intranet",
    version=None,
    method="probe",
    outcome="timeout",
    started_at=NOW - 40,
    duration_seconds=10.0,
    ready_signal="http",
    phases={"dns": 0.002, "connect": 0.01},
    probe="intranet-home",
    detail="timed out after 10 s (waiting for the first byte)",
)
COUNT = LaunchCount("intranet", "2025-11-24", "probe", 1)
DISK = Disk(
    name="sda", kind="ssd", size_bytes=512 * 10**9, model="Samsung SSD 870", rotational=False
)
INSTALLED = InstalledPackage("curl", "7.88.1-10+deb12u14", "dpkg", "amd64")
OFFERED = UpgradablePackage(
    "curl", "7.88.1-10+deb12u14", "7.88.1-10+deb12u15", "oldstable", "amd64"
)


def small_inventory() -> Inventory:
    inventory = fixture_inventory(NOW - 30)
    hardware = dataclasses.replace(inventory.hardware, disks=[DISK])
    return dataclasses.replace(
        inventory, hardware=hardware, software=[INSTALLED], upgradable=[OFFERED]
    )


def small_batch() -> Batch:
    """A valid batch with one of everything, for the cases to break one field of."""
    return Batch(
        batch_id=new_batch_id(),
        sequence=7,
        created_at=NOW,
        host=HostIdentity(HOST_ID, "fin-ws-12", "0.1.0"),
        intervals=[Interval(NOW - 60, NOW, [SUMMARY, LABELLED])],
        launches=[LAUNCH],
        launch_counts=[COUNT],
        inventory=small_inventory(),
    )


Change = Callable[[Batch], Batch]


def host(**changes: str) -> Change:
    return lambda b: dataclasses.replace(b, host=dataclasses.replace(b.host, **changes))


def summary(**changes: object) -> Change:
    def change(b: Batch) -> Batch:
        metric = dataclasses.replace(SUMMARY, **changes)  # type: ignore[arg-type]
        return dataclasses.replace(b, intervals=[Interval(NOW - 60, NOW, [LABELLED, metric])])

    return change


def interval(start: float, end: float) -> Change:
    return lambda b: dataclasses.replace(b, intervals=[Interval(start, end, [SUMMARY])])


def launch(**changes: object) -> Change:
    return lambda b: dataclasses.replace(
        b,
        launches=[LAUNCH, dataclasses.replace(LAUNCH, **changes)],  # type: ignore[arg-type]
    )


def counts(*rows: LaunchCount) -> Change:
    return lambda b: dataclasses.replace(b, launch_counts=list(rows))


def inventory(**changes: object) -> Change:
    def change(b: Batch) -> Batch:
        assert b.inventory is not None
        return dataclasses.replace(b, inventory=dataclasses.replace(b.inventory, **changes))  # type: ignore[arg-type]

    return change


def hardware(**changes: object) -> Change:
    def change(b: Batch) -> Batch:
        assert b.inventory is not None
        made = dataclasses.replace(b.inventory.hardware, **changes)  # type: ignore[arg-type]
        return dataclasses.replace(b, inventory=dataclasses.replace(b.inventory, hardware=made))

    return change


def top(**changes: object) -> Change:
    return lambda b: dataclasses.replace(b, **changes)  # type: ignore[arg-type]


MEGABYTE_NAME = "x" * 2**20
LONG_NAME = "a" * 100_000

CASES: dict[str, tuple[Change, str]] = {
    # the attacks that were stored with 200
    "negative launch count": (
        counts(LaunchCount("intranet", "2025-11-24", "probe", -5)),
        "launch_counts.0.count: -5 is outside 0..1e+06",
    ),
    "a day of garbage": (
        counts(COUNT, LaunchCount("intranet", "garbage", "probe", 1)),
        "launch_counts.1.day: 'garbage' is not a date (YYYY-MM-DD)",
    ),
    "created_at in the year 10^292": (
        top(created_at=1e300),
        "created_at: 1e+300 is more than 86400 s ahead of the advisor's clock",
    ),
    "interval ending before it starts": (
        interval(NOW - 60, NOW - 120),
        "intervals.0.end: 1763999880.0 is before the start 1763999940.0",
    ),
    "min above max": (
        summary(min=5.0, max=2.0, p50=3.0, p90=3.0, p99=3.0),
        "intervals.0.metrics.1: min 5.0 is above max 2.0",
    ),
    "a megabyte hostname": (
        host(hostname=MEGABYTE_NAME),
        "host.hostname: 1048576 characters, at most 255",
    ),
    "a 100k-character app name": (
        launch(app=LONG_NAME),
        "launches.1.app: 100000 characters, at most 128",
    ),
    "a 100k-character launch count app": (
        counts(LaunchCount(LONG_NAME, "2025-11-24", "probe", 1)),
        "launch_counts.0.app: 100000 characters, at most 128",
    ),
    "a 100k-character metric name": (
        summary(name=LONG_NAME),
        "intervals.0.metrics.1.name: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa... is not a metric name",
    ),
    "terminal escapes in the hostname": (
        host(hostname="fin-ws-12\x1b]0;pwned\x07"),
        "host.hostname: has a control character (\\x1b)",
    ),
    "a newline in the hostname": (
        host(hostname="fin-ws-12\nfin-ws-13"),
        "host.hostname: has a control character (\\n)",
    ),
    "one launch count past 2^63": (
        counts(LaunchCount("intranet", "2025-11-24", "probe", 2**62)),
        "launch_counts.0.count: 4611686018427387904 is outside 0..1e+06",
    ),
    "launch counts adding up past the bound": (
        counts(
            LaunchCount("intranet", "2025-11-24", "probe", MAX_LAUNCHES_COUNTED),
            LaunchCount("intranet", "2025-11-24", "probe", 1),
        ),
        "launch_counts: the counts add up to 1000001, at most 1000000 per batch",
    ),
    # the batch
    "negative sequence": (top(sequence=-1), "sequence: -1 is negative"),
    "created_at before 2000": (top(created_at=86400.0), "created_at: 86400.0 is before 2000-01-01"),
    "created_at two days ahead": (
        top(created_at=NOW + 2 * 86400),
        "created_at: 1764172800.0 is more than 86400 s ahead",
    ),
    "negative dropped launch events": (
        top(dropped_launch_events=-1),
        "dropped_launch_events: -1 is outside 0..1e+06",
    ),
    "dropped launch events past an int4": (
        top(dropped_launch_events=2**31),
        "dropped_launch_events: 2147483648 is outside 0..1e+06",
    ),
    "a host id with a space": (host(host_id="host 1"), "host.host_id: 'host 1' is not 1 to 128"),
    "an empty hostname": (host(hostname=""), "host.hostname: is empty"),
    "a long agent version": (host(agent_version="1" * 65), "host.agent_version: 65 characters"),
    "a bidirectional override in the hostname": (
        host(hostname="fin-ws-\u202e21"),
        "host.hostname: has a bidirectional formatting character (\\u202e)",
    ),
    "a line separator in the hostname": (
        host(hostname="fin\u2028ws"),
        "host.hostname: has a line or paragraph separator (\\u2028)",
    ),
    "a C1 control in the agent version": (
        host(agent_version="0.1\x9b0"),
        "host.agent_version: has a control character (\\x9b)",
    ),
    "a DEL in the hostname": (host(hostname="fin\x7f"), "has a control character (\\x7f)"),
    # intervals and summaries
    "too many intervals": (
        top(intervals=[Interval(NOW - 60, NOW, [])] * 61),
        "intervals: 61 intervals, at most 60 per batch",
    ),
    "too many metric summaries": (
        top(intervals=[Interval(NOW - 60, NOW, [SUMMARY] * 5001)] * 2),
        "intervals: 10002 metric summaries in all, at most 10000 per batch",
    ),
    "an interval starting before 2000": (
        interval(1.0, NOW),
        "intervals.0.start: 1.0 is before 2000-01-01",
    ),
    "an interval ending two days ahead": (
        interval(NOW, NOW + 2 * 86400),
        "intervals.0.end: 1764172800.0 is more than 86400 s ahead",
    ),
    "an interval of a year": (
        interval(NOW - 366 * 86400, NOW),
        "intervals.0.end: the interval is 31622400 s long, at most 7948800",
    ),
    "a metric name starting with a digit": (
        summary(name="1cpu"),
        "intervals.0.metrics.1.name: '1cpu' is not a metric name",
    ),
    "a metric name with a dash": (summary(name="cpu-load"), "'cpu-load' is not a metric name"),
    "no samples": (summary(count=0), "intervals.0.metrics.1.count: 0 is outside 1..1e+06"),
    "negative samples": (summary(count=-12), "intervals.0.metrics.1.count: -12 is outside"),
    "too many samples": (summary(count=10**7), "intervals.0.metrics.1.count: 10000000 is outside"),
    "p50 below min": (summary(p50=0.01), "intervals.0.metrics.1: p50 0.01 is outside min..max"),
    "p99 above max": (summary(p99=0.7), "intervals.0.metrics.1: p99 0.7 is outside min..max"),
    "min a rounding error above max": (
        summary(min=1.0, max=1.0 - 1e-10, p50=1.0 - 5e-11, p90=1.0 - 5e-11, p99=1.0 - 5e-11),
        "intervals.0.metrics.1: min 1.0 is above max 0.9999999999",
    ),
    "p99 below p90": (
        summary(p90=0.6, p99=0.55),
        "intervals.0.metrics.1: the quantiles are not in order: p50 0.12, p90 0.6, p99 0.55",
    ),
    "quantiles out of order": (
        summary(p50=0.55, p90=0.5),
        "intervals.0.metrics.1: the quantiles are not in order: p50 0.55, p90 0.5",
    ),
    "a value of 1e300": (
        summary(max=1e300, p99=1e300),
        "intervals.0.metrics.1: max 1e+300 is outside ±1e+21",
    ),
    "a value of -1e300": (
        summary(min=-1e300),
        "intervals.0.metrics.1: min -1e+300 is outside ±1e+21",
    ),
    "a sum of 1e300": (summary(sum=1e300), "intervals.0.metrics.1.sum: 1e+300 is outside"),
    "too many labels": (
        summary(labels={f"l{i}": "x" for i in range(17)}),
        "intervals.0.metrics.1.labels: 17 labels, at most 16",
    ),
    "a label name with a dot": (
        summary(labels={"mount.point": "/"}),
        "intervals.0.metrics.1.labels: 'mount.point' is not a label name",
    ),
    "a long label value": (
        summary(labels={"mountpoint": "/" * 1025}),
        "intervals.0.metrics.1.labels.mountpoint: 1025 characters, at most 1024",
    ),
    "an escape in a label value": (
        summary(labels={"app": "fire\x1b[31mfox"}),
        "intervals.0.metrics.1.labels.app: has a control character (\\x1b)",
    ),
    # launches
    "too many launches": (
        top(launches=[LAUNCH] * 10_001),
        "launches: 10001 launch events, at most 10000 per batch",
    ),
    "an empty app": (launch(app=""), "launches.1.app: is empty"),
    "a long version": (launch(version="1" * 257), "launches.1.version: 257 characters"),
    "a launch in 1970": (launch(started_at=0.0), "launches.1.started_at: 0.0 is before 2000"),
    "a launch two days ahead": (
        launch(started_at=NOW + 2 * 86400),
        "launches.1.started_at: 1764172800.0 is more than 86400 s ahead",
    ),
    "a negative duration": (
        launch(duration_seconds=-1.0),
        "launches.1.duration_seconds: -1.0 is outside 0..86400",
    ),
    "a duration of two days": (
        launch(duration_seconds=2 * 86400.0),
        "launches.1.duration_seconds: 172800.0 is outside 0..86400",
    ),
    "a newline in the ready signal": (
        launch(ready_signal="http\nx"),
        "launches.1.ready_signal: has a control character (\\n)",
    ),
    "too many phases": (
        launch(phases={f"p{i}": 0.1 for i in range(17)}),
        "launches.1.phases: 17 phases, at most 16",
    ),
    "a phase name with a space": (
        launch(phases={"first byte": 0.1}),
        "launches.1.phases: 'first byte' is not a phase name",
    ),
    "a negative phase": (
        launch(phases={"dns": -0.5}),
        "launches.1.phases.dns: -0.5 is outside 0..86400",
    ),
    "a long probe name": (launch(probe="p" * 129), "launches.1.probe: 129 characters"),
    "a long detail": (launch(detail="d" * 1001), "launches.1.detail: 1001 characters"),
    "a C1 control in the detail": (
        launch(detail="exit status 1: \x9b31m"),
        "launches.1.detail: has a control character (\\x9b)",
    ),
    "a DEL in the detail": (
        launch(detail="exit status 1: \x7f"),
        "launches.1.detail: has a control character (\\x7f)",
    ),
    "an escape in the detail": (
        launch(detail="exit status 1: \x1b[31mred\x1b[0m"),
        "launches.1.detail: has a control character (\\x1b)",
    ),
    # launch counts
    "too many launch counts": (
        counts(*[COUNT] * 10_001),
        "launch_counts: 10001 launch counts, at most 10000 per batch",
    ),
    "a day without dashes": (
        counts(LaunchCount("intranet", "20251124", "probe", 1)),
        "launch_counts.0.day: '20251124' is not a date",
    ),
    "a day that does not exist": (
        counts(LaunchCount("intranet", "2025-02-30", "probe", 1)),
        "launch_counts.0.day: '2025-02-30' is not a date",
    ),
    "a day in Arabic-Indic digits": (
        counts(LaunchCount("intranet", "٢٠٢٥-١١-٢٤", "probe", 1)),
        "launch_counts.0.day: '٢٠٢٥-١١-٢٤' is not a date",
    ),
    "a day before 2000": (
        counts(LaunchCount("intranet", "1970-01-01", "probe", 1)),
        "launch_counts.0.day: 1970-01-01 is outside 1999-12-31..2025-11-26",
    ),
    "a day in the future": (
        counts(LaunchCount("intranet", "2026-11-24", "probe", 1)),
        "launch_counts.0.day: 2026-11-24 is outside 1999-12-31..2025-11-26",
    ),
    # inventory
    "an inventory collected in 1970": (
        inventory(collected_at=0.0),
        "inventory.collected_at: 0.0 is before 2000",
    ),
    "an inventory collected two days ahead": (
        inventory(collected_at=NOW + 2 * 86400),
        "inventory.collected_at: 1764172800.0 is more than 86400 s ahead",
    ),
    "a digest with a newline": (
        inventory(digest="abc\n"),
        "inventory.digest: 'abc\\n' is not 1 to 128",
    ),
    "too many packages": (
        inventory(software=[INSTALLED] * (MAX_PACKAGES + 1)),
        "inventory.software: 50001 installed packages, at most 50000 per batch",
    ),
    "too many upgradable packages": (
        inventory(upgradable=[OFFERED] * (MAX_PACKAGES + 1)),
        "inventory.upgradable: 50001 upgradable packages, at most 50000 per batch",
    ),
    "an empty package name": (
        inventory(software=[INSTALLED, dataclasses.replace(INSTALLED, package="")]),
        "inventory.software.1.package: is empty",
    ),
    "a long package name": (
        inventory(software=[dataclasses.replace(INSTALLED, package="p" * 257)]),
        "inventory.software.0.package: 257 characters, at most 256",
    ),
    "an escape in a version": (
        inventory(software=[INSTALLED, dataclasses.replace(INSTALLED, version="1\x1b[2J")]),
        "inventory.software.1.version: has a control character (\\x1b)",
    ),
    "a long arch": (
        inventory(software=[dataclasses.replace(INSTALLED, arch="a" * 65)]),
        "inventory.software.0.arch: 65 characters, at most 64",
    ),
    "a newline in a package's app": (
        inventory(software=[dataclasses.replace(INSTALLED, app="curl\n")]),
        "inventory.software.0.app: has a control character (\\n)",
    ),
    "an escape in an upgradable package": (
        inventory(upgradable=[dataclasses.replace(OFFERED, package="curl\x1b")]),
        "inventory.upgradable.0.package: has a control character",
    ),
    "a long installed version": (
        inventory(upgradable=[dataclasses.replace(OFFERED, installed="1" * 257)]),
        "inventory.upgradable.0.installed: 257 characters",
    ),
    "an empty candidate": (
        inventory(upgradable=[dataclasses.replace(OFFERED, candidate="")]),
        "inventory.upgradable.0.candidate: is empty",
    ),
    "a long origin": (
        inventory(upgradable=[dataclasses.replace(OFFERED, origin="o" * 257)]),
        "inventory.upgradable.0.origin: 257 characters",
    ),
    "an escape in an upgradable arch": (
        inventory(upgradable=[dataclasses.replace(OFFERED, arch="amd64\x1b")]),
        "inventory.upgradable.0.arch: has a control character",
    ),
    "an escape in the CPU model": (
        hardware(cpu_model="Intel\x1b[8m"),
        "inventory.hardware.cpu_model: has a control character (\\x1b)",
    ),
    "no CPU cores": (hardware(cpu_cores=0), "inventory.hardware.cpu_cores: 0 is outside 1..65536"),
    "a million CPU threads": (
        hardware(cpu_threads=10**6),
        "inventory.hardware.cpu_threads: 1000000 is outside",
    ),
    "a negative CPU speed": (
        hardware(cpu_max_mhz=-1.0),
        "inventory.hardware.cpu_max_mhz: -1.0 is outside 0..100000",
    ),
    "negative memory": (
        hardware(memory_bytes=-1),
        "inventory.hardware.memory_bytes: -1 is outside",
    ),
    "swap of 2^62 bytes": (
        hardware(swap_bytes=2**62),
        "inventory.hardware.swap_bytes: 4611686018427387904 is outside",
    ),
    "too many disks": (
        hardware(disks=[DISK] * 1025),
        "inventory.hardware.disks: 1025 disks, at most 1024",
    ),
    "a disk name with a newline": (
        hardware(disks=[dataclasses.replace(DISK, name="sda\n")]),
        "inventory.hardware.disks.0.name: has a control character",
    ),
    "a negative disk size": (
        hardware(disks=[dataclasses.replace(DISK, size_bytes=-1)]),
        "inventory.hardware.disks.0.size_bytes: -1 is outside",
    ),
    "a long disk model": (
        hardware(disks=[dataclasses.replace(DISK, model="m" * 257)]),
        "inventory.hardware.disks.0.model: 257 characters",
    ),
    "an escape in the machine vendor": (
        hardware(machine_vendor="\x1b[1mACME"),
        "inventory.hardware.machine_vendor: has a control character",
    ),
    "a long machine model": (
        hardware(machine_model="m" * 257),
        "inventory.hardware.machine_model: 257 characters",
    ),
    "a long BIOS date": (hardware(bios_date="1" * 65), "inventory.hardware.bios_date: 65"),
    "an escape in the OS name": (
        hardware(os_name="Debian\x1b"),
        "inventory.hardware.os_name: has a control character",
    ),
    "a long OS version": (
        hardware(os_version="1" * 257),
        "inventory.hardware.os_version: 257 characters",
    ),
    "a newline in the kernel": (
        hardware(kernel="6.1.0\n"),
        "inventory.hardware.kernel: has a control character",
    ),
    "a long arch of the machine": (
        hardware(arch="x" * 65),
        "inventory.hardware.arch: 65 characters",
    ),
}


def test_the_small_batch_the_cases_break_is_valid() -> None:
    check_batch(small_batch(), now=NOW)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_batch_breaking_one_rule_is_refused_naming_the_field(case: str) -> None:
    change, expected = CASES[case]

    with pytest.raises(RejectedError) as refused:
        check_batch(change(small_batch()), now=NOW)

    assert refused.value.status == 422
    assert refused.value.reason == "invalid"
    assert expected in refused.value.detail
    assert len(refused.value.detail) < 2000


def test_the_problems_are_listed_up_to_a_few_and_then_summed_up() -> None:
    batch = dataclasses.replace(
        small_batch(), launch_counts=[LaunchCount("intranet", "garbage", "probe", -1)] * 20
    )

    with pytest.raises(RejectedError) as refused:
        check_batch(batch, now=NOW)

    detail = refused.value.detail
    assert detail.startswith("launch_counts.0.day: 'garbage' is not a date (YYYY-MM-DD); ")
    assert detail.count("launch_counts.") == batch_rules.PROBLEMS_LISTED
    assert detail.endswith("; and more")


def test_values_at_the_limits_pass() -> None:
    limits = batch_rules
    metric = MetricSummary(
        "m" * limits.MAX_METRIC_NAME,
        {f"l{i}": "v" * limits.MAX_LABEL_VALUE for i in range(limits.MAX_LABELS)},
        limits.MAX_SAMPLES,
        limits.MAX_METRIC_SUM,
        -limits.MAX_METRIC_VALUE,
        limits.MAX_METRIC_VALUE,
        0.0,
        # Quantiles a rounding error outside min..max, as interpolation can make them.
        limits.MAX_METRIC_VALUE * (1 + 1e-12),
        limits.MAX_METRIC_VALUE * (1 + 1e-12),
    )
    batch = dataclasses.replace(
        small_batch(),
        sequence=2**63 - 1,
        created_at=NOW + limits.MAX_CLOCK_AHEAD_SECONDS,
        host=HostIdentity("h" * limits.MAX_HOST_ID, "n" * 255, "v" * 64),
        intervals=[Interval(NOW - limits.MAX_INTERVAL_SECONDS, NOW, [metric])],
        dropped_launch_events=MAX_LAUNCHES_COUNTED,
        launch_counts=[LaunchCount("a" * limits.MAX_APP, "2025-11-26", "passive", 10**6)],
        launches=[
            dataclasses.replace(
                LAUNCH,
                started_at=limits.EARLIEST_TIME,
                duration_seconds=limits.MAX_DURATION_SECONDS,
                detail="line one\n\tline two\r\n" + "d" * (limits.MAX_DETAIL - 20),
                phases={f"p{i}": 0.0 for i in range(limits.MAX_PHASES)},
            )
        ],
    )

    check_batch(batch, now=NOW)


def test_names_may_be_any_text_in_any_script_with_spaces_and_joiners() -> None:
    batch = dataclasses.replace(
        small_batch(),
        # A no-break space and a zero-width joiner are not printable, but no danger either.
        host=HostIdentity(HOST_ID, "Büro-Rechner\xa0東京", "0.1.0"),
        launches=[dataclasses.replace(LAUNCH, app="👩\u200d💻 IDE", detail="ошибка:\t🙁")],
        inventory=dataclasses.replace(
            small_inventory(),
            software=[INSTALLED, dataclasses.replace(INSTALLED, package="org.gnome.Maps\xa0")],
        ),
    )

    check_batch(batch, now=NOW)


def test_duplicate_packages_and_launch_counts_pass_for_the_store_merges_them() -> None:
    batch = dataclasses.replace(
        small_batch(),
        launch_counts=[COUNT, COUNT],
        inventory=dataclasses.replace(
            small_inventory(),
            software=[INSTALLED, dataclasses.replace(INSTALLED, version="7.88.1-10")],
            upgradable=[OFFERED, OFFERED],
        ),
    )

    check_batch(batch, now=NOW)


def test_a_batch_at_the_limits_is_stored_alike_and_its_counts_add_up_exactly(
    store: SqlStore, engine: sa.Engine
) -> None:
    token, _ = store.create_token(department="finance", expires_at=NOW + 86400, now=NOW)
    store.enrol(token=token, host_id=HOST_ID, hostname="fin-ws-12", agent_version="0.1", now=NOW)
    limits = batch_rules
    metric = MetricSummary(
        "m" * limits.MAX_METRIC_NAME,
        {"mountpoint": "/" * limits.MAX_LABEL_VALUE},
        limits.MAX_SAMPLES,
        limits.MAX_METRIC_SUM,
        -limits.MAX_METRIC_VALUE,
        limits.MAX_METRIC_VALUE,
        0.0,
        0.0,
        limits.MAX_METRIC_VALUE,
    )
    duplicates = [LaunchCount("intranet", "2025-11-24", "probe", 500_000)] * 2
    batches = [
        dataclasses.replace(
            small_batch(),
            batch_id=new_batch_id(),
            sequence=2**63 - 1 - number,
            host=HostIdentity(HOST_ID, "n" * 255, "v" * 64),
            intervals=[Interval(NOW - 60, NOW, [metric])],
            dropped_launch_events=MAX_LAUNCHES_COUNTED,
            launch_counts=duplicates,
            inventory=dataclasses.replace(
                small_inventory(),
                collected_at=NOW - 30 + number,
                software=[INSTALLED, INSTALLED],
                upgradable=[OFFERED, OFFERED],
            ),
        )
        for number in range(2)
    ]
    for batch in batches:
        check_batch(batch, now=NOW)
        assert store.ingest(HOST_ID, batch, received_at=NOW, sent_at=None).stored

    with engine.connect() as conn:
        stored = conn.execute(sa.select(LaunchCountRow.count)).scalars().all()
    assert stored == [2 * MAX_LAUNCHES_COUNTED]
    assert isinstance(stored[0], int)


# --- the element count ---------------------------------------------------------------------------


def test_sixteen_mebibytes_of_empty_objects_are_refused_before_parsing() -> None:
    document = b"[" + b"{}," * (16 * 2**20 // 3 - 1) + b"{}]"

    with pytest.raises(RejectedError) as refused:
        check_element_count(document)

    assert refused.value.status == 413
    assert refused.value.reason == "too_large"
    assert f"more than {MAX_CONTAINERS} JSON arrays and objects" in refused.value.detail


def test_the_element_count_takes_its_limit_and_refuses_one_more() -> None:
    check_element_count(b"[" * MAX_CONTAINERS)

    with pytest.raises(RejectedError):
        check_element_count(b"{" * (MAX_CONTAINERS + 1))
    with pytest.raises(RejectedError):
        check_element_count(b'{"a": [{}]}', limit=2)


def test_a_batch_at_every_count_limit_fits_the_element_count() -> None:
    limits = batch_rules
    per_interval = limits.MAX_METRIC_SUMMARIES // limits.MAX_INTERVALS
    last = limits.MAX_METRIC_SUMMARIES - per_interval * (limits.MAX_INTERVALS - 1)
    batch = dataclasses.replace(
        small_batch(),
        intervals=[Interval(NOW - 60, NOW, [LABELLED] * per_interval)] * (limits.MAX_INTERVALS - 1)
        + [Interval(NOW - 60, NOW, [SUMMARY] * last)],
        launches=[LAUNCH] * limits.MAX_LAUNCHES,
        launch_counts=[COUNT] * limits.MAX_LAUNCH_COUNT_ROWS,
        inventory=dataclasses.replace(
            small_inventory(),
            hardware=dataclasses.replace(
                small_inventory().hardware,
                disks=[DISK] * limits.MAX_DISKS,
            ),
            software=[INSTALLED] * MAX_PACKAGES,
            upgradable=[OFFERED] * MAX_PACKAGES,
        ),
    )
    document = encode(batch)

    check_batch(batch, now=NOW)
    check_element_count(document)
    check_separator_count(document)
    assert document.count(b"{") + document.count(b"[") <= MAX_CONTAINERS


# --- documentation -------------------------------------------------------------------------------


def documented(value: float) -> str:
    """How docs/wire-format.md writes a limit: 1,000,000 or, for the huge ones, 1e+21."""
    if value >= 1e15 and isinstance(value, float):
        return f"{value:g}"
    return f"{int(value):,}"


def test_every_limit_is_in_the_wire_format_documentation() -> None:
    text = (REPO / "docs" / "wire-format.md").read_text()
    documentation = text[text.index("\n## Limits\n") :].split("\n## ")[1]
    limits = {
        name: value
        for name, value in vars(batch_rules).items()
        if name.startswith("MAX_") and isinstance(value, int | float)
    }

    missing = [
        f"{name} ({documented(value)})"
        for name, value in limits.items()
        if documented(value) not in documentation
    ]
    assert not missing, f"docs/wire-format.md lacks the limits {missing}"


def test_millions_of_items_in_few_containers_are_refused_before_parsing() -> None:
    items = b",".join([b"1"] * (MAX_SEPARATORS + 2))
    document = b'{"intervals": [' + items + b"]}"

    with pytest.raises(RejectedError) as refused:
        check_separator_count(document)

    assert refused.value.status == 413
    assert f"more than {MAX_SEPARATORS} JSON items and members" in refused.value.detail
    check_separator_count(b"," * MAX_SEPARATORS)
