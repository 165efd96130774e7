"""The inventory collector: digest, send decision over a fake clock, persisted send state."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from agent.config import Config, InventorySection
from agent.inventory.collector import InventoryCollector
from agent.inventory.software import SoftwareInventory
from agent.shared.wire import (
    Disk,
    Hardware,
    InstalledPackage,
    Inventory,
    UpgradablePackage,
    inventory_digest,
)

DAY = 86400.0

HARDWARE = Hardware(
    cpu_model="Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz",
    cpu_cores=6,
    cpu_threads=6,
    cpu_max_mhz=4100.0,
    memory_bytes=8 * 1024**3,
    swap_bytes=2 * 1024**3,
    disks=[Disk(name="sda", kind="hdd", size_bytes=500 * 1000**3, model="ST500DM002")],
    machine_vendor="Dell Inc.",
    machine_model="OptiPlex 5060",
    bios_date="2019-05-14",
    os_name="Debian GNU/Linux",
    os_version="12",
    kernel="6.1.0-28-amd64",
    arch="x86_64",
)

LIBREOFFICE = InstalledPackage("libreoffice-core", "4:7.4.7-1+deb12u8", "dpkg", "amd64", "office")
CURL = InstalledPackage("curl", "7.88.1-10+deb12u14", "dpkg", "amd64")
CURL_UPGRADE = UpgradablePackage(
    "curl", "7.88.1-10+deb12u14", "7.88.1-10+deb12u15", "oldstable", "amd64"
)


class FakeClock:
    def __init__(self, now: float = 1_764_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeMachine:
    """Hardware and software that a test changes between reads, counting the reads."""

    def __init__(self) -> None:
        self.hardware = HARDWARE
        self.software = SoftwareInventory(
            installed=[CURL, LIBREOFFICE],
            upgradable=[CURL_UPGRADE],
            app_versions={"office": LIBREOFFICE.version},
        )
        self.software_reads = 0
        self.failure: Exception | None = None

    def read_hardware(self) -> Hardware:
        return self.hardware

    def read_software(self, config: Config) -> SoftwareInventory:
        self.software_reads += 1
        if self.failure is not None:
            raise self.failure
        return self.software


def collector(
    state_path: Path, machine: FakeMachine, clock: FakeClock, interval: float = DAY
) -> InventoryCollector:
    return InventoryCollector(
        Config(inventory=InventorySection(interval=interval)),
        state_path=state_path,
        read_hardware=machine.read_hardware,
        read_software=machine.read_software,
        clock=clock,
    )


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "inventory.json"


@pytest.fixture
def machine() -> FakeMachine:
    return FakeMachine()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def sent(inventories: InventoryCollector) -> Inventory:
    inventory = inventories.take_due()
    assert inventory is not None
    inventories.mark_sent(inventory)
    return inventory


# --- refresh and digest -------------------------------------------------------------------------


def test_refresh_assembles_hardware_and_software_at_the_clock_time(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    inventory = collector(state_path, machine, clock).refresh()

    assert inventory.collected_at == clock.now
    assert inventory.hardware == HARDWARE
    assert inventory.software == [CURL, LIBREOFFICE]
    assert inventory.upgradable == [CURL_UPGRADE]
    assert len(inventory.digest) == 64


def test_the_digest_ignores_collection_time_and_package_order(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    inventories = collector(state_path, machine, clock)
    first = inventories.refresh()
    clock.now += 3600
    machine.software = dataclasses.replace(machine.software, installed=[LIBREOFFICE, CURL])

    second = inventories.refresh()

    assert second.collected_at != first.collected_at
    assert second.digest == first.digest


@pytest.mark.parametrize(
    "change",
    [
        {"hardware": dataclasses.replace(HARDWARE, memory_bytes=16 * 1024**3)},
        {"installed": [CURL, dataclasses.replace(LIBREOFFICE, version="4:7.4.7-1+deb12u9")]},
        {"upgradable": []},
    ],
    ids=["more-ram", "new-version", "upgrade-installed"],
)
def test_the_digest_changes_with_hardware_software_or_upgrades(
    change: dict[str, object], machine: FakeMachine
) -> None:
    before = inventory_digest(machine.hardware, [CURL, LIBREOFFICE], [CURL_UPGRADE])
    hardware = change.get("hardware", machine.hardware)
    installed = change.get("installed", [CURL, LIBREOFFICE])
    upgradable = change.get("upgradable", [CURL_UPGRADE])

    after = inventory_digest(hardware, installed, upgradable)  # type: ignore[arg-type]

    assert after != before


# --- the send decision --------------------------------------------------------------------------


def test_the_first_inventory_is_due(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    assert collector(state_path, machine, clock).take_due() is not None


def test_an_unchanged_inventory_is_not_resent_until_the_interval_has_passed(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    inventories = collector(state_path, machine, clock)
    sent(inventories)

    clock.now += DAY - 1
    assert inventories.take_due() is None
    clock.now += 1
    assert inventories.take_due() is not None
    assert machine.software_reads == 3


def test_a_changed_inventory_is_due_at_once(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    inventories = collector(state_path, machine, clock)
    first = sent(inventories)
    clock.now += 60
    machine.software = dataclasses.replace(machine.software, upgradable=[])

    due = inventories.take_due()

    assert due is not None
    assert due.digest != first.digest
    assert due.upgradable == []


def test_an_inventory_taken_but_never_marked_sent_stays_due(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    inventories = collector(state_path, machine, clock)
    assert inventories.take_due() is not None
    clock.now += 60

    assert inventories.take_due() is not None


def test_an_inventory_is_due_when_the_clock_went_back_before_the_last_send(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    inventories = collector(state_path, machine, clock)
    sent(inventories)
    clock.now -= 3600

    assert inventories.take_due() is not None


# --- the state file -----------------------------------------------------------------------------


def test_the_send_state_survives_a_new_collector(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    sent(collector(state_path, machine, clock))
    clock.now += 3600

    restarted = collector(state_path, machine, clock)

    assert restarted.take_due() is None
    clock.now += DAY
    assert restarted.take_due() is not None


def test_the_state_file_holds_the_digest_and_send_time_and_no_leftovers(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    inventory = sent(collector(state_path, machine, clock))

    assert json.loads(state_path.read_text()) == {"digest": inventory.digest, "sent_at": clock.now}
    assert [path.name for path in state_path.parent.iterdir()] == [state_path.name]


@pytest.mark.parametrize(
    "content",
    ['{"digest": "abc", "sent_', "[1, 2]", '{"digest": 7, "sent_at": 1.0}', "\udcff"],
    ids=["truncated", "not-an-object", "wrong-types", "not-utf8"],
)
def test_a_corrupt_state_file_means_send(
    content: str,
    state_path: Path,
    machine: FakeMachine,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent(collector(state_path, machine, clock))
    state_path.write_bytes(content.encode("utf-8", "surrogateescape"))

    with caplog.at_level(logging.WARNING, logger="agent.inventory.collector"):
        due = collector(state_path, machine, clock).take_due()

    assert due is not None
    assert "inventory state" in caplog.text


def test_a_state_file_that_cannot_be_written_is_logged_and_the_send_remembered_in_memory(
    tmp_path: Path, machine: FakeMachine, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not-a-directory").write_text("")
    inventories = collector(tmp_path / "not-a-directory" / "inventory.json", machine, clock)

    with caplog.at_level(logging.WARNING, logger="agent.inventory.collector"):
        sent(inventories)

    assert "cannot write the inventory state" in caplog.text
    assert inventories.take_due() is None


# --- versions for launch events -----------------------------------------------------------------


def test_version_of_answers_from_the_last_refresh_without_reading_again(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    inventories = collector(state_path, machine, clock)
    assert inventories.version_of("office") is None

    inventories.refresh()

    assert inventories.version_of("office") == "4:7.4.7-1+deb12u8"
    assert inventories.version_of("unknown") is None
    assert machine.software_reads == 1


def test_version_of_keeps_the_previous_versions_when_a_refresh_fails(
    state_path: Path, machine: FakeMachine, clock: FakeClock
) -> None:
    inventories = collector(state_path, machine, clock)
    inventories.refresh()

    machine.failure = OSError("dpkg database locked")

    with pytest.raises(OSError, match="locked"):
        inventories.refresh()

    assert inventories.version_of("office") == "4:7.4.7-1+deb12u8"
