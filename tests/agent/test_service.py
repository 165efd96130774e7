"""The service's jobs, called directly: sampling, flushing to the spool, inventory hand-off."""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.collectors.base import Sample
from agent.config import Config
from agent.errors import SpoolError
from agent.launches.recorder import LaunchRecorder, local_day
from agent.metrics import AgentMetrics
from agent.service import (
    SPOOL_REMINDER_SECONDS,
    AgentService,
    Parts,
    SpoolTrouble,
    host_identity,
)
from agent.shared.wire import Hardware, HostIdentity, Inventory, LaunchEvent
from agent.spool import Spool

HOST = HostIdentity(host_id="h-1", hostname="ws-1", agent_version="0.1.0")
T0 = 1_764_000_000  # 2025-11-24: the recorded times are real ones, as the advisor requires


class FixedCollector:
    def __init__(self, name: str, value: float):
        self.name = name
        self.value = value

    def collect(self, now: float) -> list[Sample]:
        return [Sample(f"{self.name}_ratio", self.value)]


class BrokenCollector:
    name = "broken"

    def collect(self, now: float) -> list[Sample]:
        raise OSError("/proc/pressure/cpu: No such file or directory")


class OneInventory:
    def __init__(self) -> None:
        self.sent: list[str] = []
        hardware = Hardware(
            cpu_model="Test CPU",
            cpu_cores=2,
            cpu_threads=4,
            cpu_max_mhz=3000.0,
            memory_bytes=8 * 1024**3,
            swap_bytes=0,
            disks=[],
            machine_vendor=None,
            machine_model=None,
            bios_date=None,
            os_name="Debian GNU/Linux",
            os_version="12",
            kernel="6.1.0",
            arch="x86_64",
        )
        self.inventory = Inventory(
            collected_at=T0 - 5.0, digest="d1", hardware=hardware, software=[], upgradable=[]
        )

    def take_due(self) -> Inventory | None:
        return None if self.sent else self.inventory

    def mark_sent(self, inventory: Inventory) -> None:
        self.sent.append(inventory.digest)

    def version_of(self, app: str) -> str | None:
        return None


class BrokenSpool:
    def allocate_sequence(self) -> int:
        raise OSError("disk full")


class FillingSpool:
    """A real spool whose writes fail while ``full`` is set, as SQLite reports a full disk."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.full = False
        self.recoveries = 0

    def allocate_sequence(self) -> int:
        return self.spool.allocate_sequence()

    def put(self, batch_id: str, sequence: int, body: bytes) -> None:
        if self.full:
            raise SpoolError(f"cannot write spool {self.spool.path}: database or disk is full")
        self.spool.put(batch_id, sequence, body)

    def status(self) -> Any:
        return self.spool.status()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def launch(app: str = "gimp") -> LaunchEvent:
    return LaunchEvent(
        app=app,
        version="2.10",
        method="passive",
        outcome="ok",
        started_at=T0 + 1.0,
        duration_seconds=1.5,
        ready_signal="cpu_settled",
    )


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool.sqlite3", 1024**2) as opened:
        yield opened


def service_with(spool: object, **overrides: object) -> AgentService:
    times = iter(range(T0, T0 + 100000, 10))
    settings: dict[str, Any] = {
        "recorder": LaunchRecorder(day_of=lambda _: "2026-11-24"),
        "wall_clock": lambda: float(next(times)),
        **overrides,
    }
    parts = Parts(
        config=Config(),
        host=HOST,
        collectors=[FixedCollector("cpu", 0.25), BrokenCollector()],
        metrics=AgentMetrics(),
        spool=spool,
        **settings,
    )
    return AgentService(parts)


def spooled_documents(spool: Spool) -> list[dict[str, Any]]:
    return [json.loads(gzip.decompress(b.body)) for b in spool.due(float("inf"), 100)]


def test_a_failing_collector_is_counted_and_the_others_still_report(spool: Spool) -> None:
    service = service_with(spool)
    samples = service.sample()
    service.sample()
    assert [s.name for s in samples] == ["cpu_ratio"]
    errors = service.parts.metrics.collector_errors.labels("broken")._value.get()
    assert errors == 2


def test_a_flush_spools_one_batch_with_summaries_launches_and_inventory(spool: Spool) -> None:
    inventory = OneInventory()
    service = service_with(spool, inventory=inventory)
    for _ in range(3):
        service.sample()
    service.parts.recorder.record(launch())
    assert service.check_inventory() is not None
    batch = service.flush()
    assert batch is not None
    (document,) = spooled_documents(spool)
    assert document["batch_id"] == batch.batch_id
    assert document["host"]["host_id"] == "h-1"
    (interval,) = document["intervals"]
    assert interval["metrics"][0]["name"] == "cpu_ratio"
    assert interval["metrics"][0]["count"] == 3
    assert [e["app"] for e in document["launches"]] == ["gimp"]
    assert document["launch_counts"] == [
        {"app": "gimp", "day": "2026-11-24", "method": "passive", "count": 1}
    ]
    assert document["inventory"]["digest"] == "d1"
    assert inventory.sent == ["d1"]


def test_the_next_batch_carries_no_inventory_and_a_higher_sequence(spool: Spool) -> None:
    service = service_with(spool, inventory=OneInventory())
    service.check_inventory()
    first = service.flush()
    service.check_inventory()
    second = service.flush()
    assert first is not None
    assert second is not None
    assert second.sequence > first.sequence
    assert second.inventory is None


def test_when_the_spool_fails_launches_and_inventory_wait_for_the_next_batch() -> None:
    inventory = OneInventory()
    service = service_with(BrokenSpool(), inventory=inventory)
    service.parts.recorder.record(launch())
    service.check_inventory()
    assert service.flush() is None
    assert service.parts.recorder.pending() == 1
    assert inventory.sent == []
    assert service.parts.metrics.spool_write_errors._value.get() == 1


def test_metrics_show_spool_depth_and_the_latest_samples(spool: Spool) -> None:
    service = service_with(spool)
    service.sample()
    service.flush()
    text = service.parts.metrics.render().decode()
    assert "fleetsight_cpu_ratio 0.25" in text
    assert 'fleetsight_agent_spool_batches{state="pending"} 1.0' in text
    assert 'fleetsight_agent_collector_errors_total{collector="broken"} 1.0' in text


def test_a_full_disk_is_said_once_then_reminded_then_cleared_without_tracebacks(
    spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    filling = FillingSpool(spool)
    clock = Clock()
    service = service_with(filling, clock=clock)
    caplog.set_level(logging.INFO, logger="agent.service")
    filling.full = True
    # Half an hour of one-minute intervals on a full disk.
    for minute in range(31):
        clock.now = minute * 60.0
        service.parts.recorder.record(launch())
        assert service.flush() is None
    filling.full = False
    clock.now = 31 * 60.0
    batch = service.flush()
    assert batch is not None
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in caplog.text
    assert [level for level, _ in lines] == ["WARNING", "WARNING", "WARNING", "WARNING", "INFO"]
    assert "database or disk is full" in lines[0][1]
    assert "10 more intervals lost" in lines[1][1]
    assert "31 lost intervals" in lines[4][1]
    assert service.parts.metrics.spool_write_errors._value.get() == 31
    # Every launch measured while the disk was full rides on the first batch that is written.
    assert len(batch.launches) == 31


def test_an_unexpected_error_while_spooling_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BuggySpool:
        def allocate_sequence(self) -> int:
            raise TypeError("a bug")

    service = service_with(BuggySpool())
    assert service.flush() is None
    assert service.flush() is None
    [record] = caplog.records
    assert record.exc_info is not None
    assert service.parts.metrics.spool_write_errors._value.get() == 2


def test_spool_trouble_reminds_at_most_every_interval_with_the_count_since_the_last_line() -> None:
    trouble = SpoolTrouble(remind_every=600)
    said = [(t, trouble.failed(t, "disk full")) for t in range(0, 1260, 60)]
    assert [t for t, line in said if line] == [0, 600, 1200]
    assert [line for t, line in said if line][1:] == [
        "still cannot spool batches: disk full; 10 more intervals lost (11 in 10 min)",
        "still cannot spool batches: disk full; 10 more intervals lost (21 in 20 min)",
    ]
    assert trouble.worked(1260) == "spooling batches works again, after 21 lost intervals in 21 min"
    assert trouble.worked(1320) is None
    assert trouble.failed(1380, "disk full") is not None


def test_the_default_reminder_is_minutes_apart() -> None:
    assert SPOOL_REMINDER_SECONDS >= 300


def test_metrics_count_a_damaged_spool_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    path.write_bytes(b"not a database" * 100)
    with Spool(path, 1024**2, recover=True) as recovered:
        service = service_with(recovered)
        text = service.parts.metrics.render().decode()
    assert "fleetsight_agent_spool_recovered_total 1.0" in text


def test_a_wall_clock_stepped_back_never_sends_an_interval_that_ends_before_it_starts(
    spool: Spool,
) -> None:
    wall, monotonic = Clock(), Clock()
    wall.now = T0 + 7_200.0  # the RTC kept local time, two hours ahead of UTC
    service = service_with(spool, wall_clock=wall, clock=monotonic)
    service.sample()
    wall.now, monotonic.now = T0 + 60.0, 60.0  # NTP stepped it back during the interval
    batch = service.flush()
    service.sample()
    wall.now, monotonic.now = T0 + 120.0, 120.0
    following = service.flush()

    assert batch is not None
    assert following is not None
    assert [(i.start, i.end) for i in batch.intervals] == [(T0, T0 + 60.0)]
    assert [(i.start, i.end) for i in following.intervals] == [(T0 + 60.0, T0 + 120.0)]


def test_no_batch_is_written_while_the_clock_reads_before_2000_and_launches_wait(
    spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    wall, monotonic = Clock(), Clock()
    wall.now = 30.0  # 1970: a dead RTC battery, NTP not there yet
    recorder = LaunchRecorder()
    inventory = OneInventory()
    inventory.inventory = dataclasses.replace(inventory.inventory, collected_at=35.0)
    service = service_with(
        spool, wall_clock=wall, clock=monotonic, recorder=recorder, inventory=inventory
    )
    caplog.set_level(logging.INFO, logger="agent.service")
    service.check_inventory()
    service.sample()
    before_ntp = launch()
    recorder.record(dataclasses.replace(before_ntp, started_at=40.0))
    wall.now, monotonic.now = 60.0, 30.0
    assert service.flush() is None
    wall.now, monotonic.now = 120.0, 90.0
    assert service.flush() is None
    assert spooled_documents(spool) == []

    recorder.record(before_ntp)
    service.sample()
    wall.now, monotonic.now = T0 + 60.0, 150.0  # NTP set the clock
    batch = service.flush()

    assert batch is not None
    assert [(i.start, i.end) for i in batch.intervals] == [(T0, T0 + 60.0)]
    # The launch timed by the unset clock cannot be placed; the one after it can.
    assert [e.started_at for e in batch.launches] == [before_ntp.started_at]
    assert [c.day for c in batch.launch_counts] == [local_day(before_ntp.started_at)]
    assert batch.inventory is not None
    assert batch.inventory.collected_at == T0 + 60.0
    messages = [r.getMessage() for r in caplog.records if "clock" in r.getMessage()]
    assert len(messages) == 2
    assert "before 2000" in messages[0]
    assert "batches are written again" in messages[1]


def test_the_hostname_is_sent_without_control_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "ws-12\x1b[2J")
    assert host_identity(Config(), "h-1").hostname == "ws-12\\x1b[2J"
