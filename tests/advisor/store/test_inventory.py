"""The fleet's inventories as they are now (advisor.store.inventory), on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest

from advisor.store.inventory import FleetInventory
from advisor.store.sql import SqlStore
from tests.advisor.store.fleetbatches import DAY, DAY0, NEW_VERSION, NOW, OLD_VERSION, write_fleet


def test_hosts_carry_their_hardware_hostname_and_department(
    store: SqlStore, inventory: FleetInventory
) -> None:
    write_fleet(store)
    store.revoke_host("hr-1", now=NOW)

    fin, hr = inventory.hosts()

    assert (fin.host_id, fin.hostname, fin.department, fin.revoked) == (
        "fin-1",
        "fin-1.example",
        "finance",
        False,
    )
    assert (fin.ram_bytes, fin.hdd, fin.cores, fin.disk_gb) == (8 * 2**30, True, 4.0, 1000.0)
    assert fin.machine == "Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz"
    assert fin.inventory_at == DAY0 + 2 * DAY
    # The NVMe disk is the system disk (the first of a known kind), and it does not spin.
    assert (hr.host_id, hr.revoked, hr.hdd, hr.disk_gb) == ("hr-1", True, False, 500.0)


def test_an_enrolled_host_without_inventory_has_unknown_hardware(
    store: SqlStore, inventory: FleetInventory
) -> None:
    from tests.advisor.store.fleetbatches import enrol

    enrol(store, "it", "new-1")

    [host] = inventory.hosts()

    assert math.isnan(host.ram_bytes)
    assert math.isnan(host.cores)
    assert (host.hdd, host.disk_gb, host.machine, host.inventory_at) == (False, None, None, None)


def test_apps_name_their_packages(store: SqlStore, inventory: FleetInventory) -> None:
    write_fleet(store)

    assert inventory.app_packages() == {"libreoffice": [("dpkg", "libreoffice-core")]}


def test_installed_versions_say_since_when(store: SqlStore, inventory: FleetInventory) -> None:
    write_fleet(store)

    found = inventory.installed(["libreoffice"], at=NOW)

    assert [(i.host_id, i.package, i.version, i.since) for i in found] == [
        ("fin-1", "libreoffice-core", NEW_VERSION, DAY0 + 2 * DAY),
        ("hr-1", "libreoffice-core", NEW_VERSION, DAY0),
    ]
    hr = inventory.installed(["libreoffice"], at=NOW, hosts=["hr-1"])
    assert [i.host_id for i in hr] == ["hr-1"]


def test_installed_versions_of_an_earlier_time_are_those_of_then(
    store: SqlStore, inventory: FleetInventory
) -> None:
    write_fleet(store)

    found = inventory.installed(["libreoffice"], at=DAY0 + DAY)

    assert [(i.host_id, i.version, i.since) for i in found] == [
        ("fin-1", OLD_VERSION, DAY0),
        ("hr-1", NEW_VERSION, DAY0),
    ]
    assert inventory.installed(["libreoffice"], at=DAY0 - 1) == []


@pytest.mark.parametrize(("apps", "hosts"), [([], None), (["libreoffice"], [])])
def test_nothing_asked_is_nothing_read(
    store: SqlStore, inventory: FleetInventory, apps: list[str], hosts: list[str] | None
) -> None:
    write_fleet(store)

    assert inventory.installed(apps, at=NOW, hosts=hosts) == []
