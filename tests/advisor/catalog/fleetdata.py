"""A small fleet for the catalog's store tests, written through SqlStore.ingest.

Three hosts, inventories built from the real Debian 12 package-manager output in
tests/fixtures/package-managers (the same lines an agent would parse):

- ``fin-1`` (finance): postgresql-15 15.18-0+deb12u1, the ``postgresql`` meta-package
  (Debian-native, 15+248+deb12u1), python3.11 3.11.2-6+deb12u6 and an unknown ``jq``; apt offers
  postgresql-15 15.20-0+deb12u1 from oldstable-security (and the rest of the real list);
- ``fin-2`` (finance): firefox-esr 115.5.0esr-1~deb12u1 (ESR 115, end of life 2027-03-31);
- ``hr-1`` (hr): PostgreSQL 18.6 reported by ``--version`` (source ``command``): up to date.
"""

from __future__ import annotations

from pathlib import Path

from advisor.store.sql import SqlStore
from agent.inventory.packages import parse_apt_upgradable, parse_dpkg_query
from agent.shared.wire import Batch, Hardware, HostIdentity, InstalledPackage, Inventory

PACKAGE_MANAGERS = Path(__file__).resolve().parents[2] / "fixtures" / "package-managers"
T0 = 1_787_000_000.0  # 2026-08-17, a few days before the snapshot
FIN1_PACKAGES = ("postgresql-15", "postgresql", "python3.11", "jq")

HARDWARE = Hardware(
    cpu_model="Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz",
    cpu_cores=6,
    cpu_threads=6,
    cpu_max_mhz=4100.0,
    memory_bytes=8 * 1024**3,
    swap_bytes=0,
    disks=[],
    machine_vendor=None,
    machine_model=None,
    bios_date=None,
    os_name="Debian GNU/Linux",
    os_version="12",
    kernel="6.1.0-26-amd64",
    arch="x86_64",
)


def _real_packages(names: tuple[str, ...]) -> list[InstalledPackage]:
    text = (PACKAGE_MANAGERS / "dpkg-query.debian12.tsv").read_text(encoding="utf-8")
    return [p for p in parse_dpkg_query(text).packages if p.package in names]


def _batch(host_id: str, inventory: Inventory) -> Batch:
    return Batch(
        batch_id=f"{host_id}-000001",
        sequence=1,
        created_at=T0,
        host=HostIdentity(host_id=host_id, hostname=f"{host_id}.example", agent_version="0.1.0"),
        inventory=inventory,
    )


def _enrol(store: SqlStore, department: str, *host_ids: str) -> None:
    secret, _ = store.create_token(department=department, expires_at=T0 + 86400, now=T0)
    for host_id in host_ids:
        store.enrol(
            token=secret,
            host_id=host_id,
            hostname=f"{host_id}.example",
            agent_version="0.1.0",
            now=T0,
        )


def write_fleet(store: SqlStore) -> None:
    """Enrol the three hosts and ingest one inventory batch for each."""
    _enrol(store, "finance", "fin-1", "fin-2")
    _enrol(store, "hr", "hr-1")
    upgradable = parse_apt_upgradable(
        (PACKAGE_MANAGERS / "apt-list-upgradable.debian12.txt").read_text(encoding="utf-8")
    ).packages
    inventories = {
        "fin-1": Inventory(T0, "d1", HARDWARE, _real_packages(FIN1_PACKAGES), upgradable),
        "fin-2": Inventory(
            T0,
            "d2",
            HARDWARE,
            [InstalledPackage("firefox-esr", "115.5.0esr-1~deb12u1", "dpkg", "amd64")],
            [],
        ),
        "hr-1": Inventory(
            T0, "d3", HARDWARE, [InstalledPackage("postgresql", "18.6", "command")], []
        ),
    }
    for host_id, inventory in inventories.items():
        store.ingest(host_id, _batch(host_id, inventory), received_at=T0 + 60, sent_at=None)
