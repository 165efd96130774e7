"""A small fleet written through SqlStore.ingest, for the frames loader and the analysis job.

Two hosts (``fin-1`` in finance: 8 GiB, an HDD, 4 cores; ``hr-1`` in hr: 16 GiB, an NVMe SSD
behind an unknown disk, 8 cores). ``fin-1`` moves libreoffice from 7.5.9 to 7.6.4 with its
inventory of ``DAY0 + 2 days``; its launches say which version they ran. Pressure summaries are
multiples of 1/8, so daily means are exact; the batches of day 0 are rolled up, those of day 1
are not (one of day 0 arrives late and is not rolled up either).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from advisor.store.analysis_data import SqlUpkeep
from advisor.store.sql import SqlStore
from agent.shared.wire import (
    Batch,
    Disk,
    Hardware,
    HostIdentity,
    InstalledPackage,
    Interval,
    Inventory,
    LaunchEvent,
)
from agent.summary import summarise

DAY0 = 1_763_942_400.0
"""2025-11-24 00:00:00 UTC."""
DAY = 86_400.0
HOUR = 3_600.0
NOW = DAY0 + 5 * DAY
OLD_VERSION = "1:7.5.9-2"
NEW_VERSION = "1:7.6.4-1"

Series = tuple[str, tuple[tuple[str, str], ...]]
MEMORY: Series = ("pressure_memory_some_ratio", ())
SWAP: Series = ("swap_in_bytes_per_second", ())
ROOT: Series = ("disk_used_ratio", (("mountpoint", "/"),))
HOME: Series = ("disk_used_ratio", (("mountpoint", "/home"),))


def hardware(memory_gib: int, cores: int, disks: list[Disk]) -> Hardware:
    return Hardware(
        cpu_model="Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz",
        cpu_cores=cores,
        cpu_threads=cores,
        cpu_max_mhz=4100.0,
        memory_bytes=memory_gib * 2**30,
        swap_bytes=2**30,
        disks=disks,
        machine_vendor=None,
        machine_model=None,
        bios_date=None,
        os_name="Debian GNU/Linux",
        os_version="12",
        kernel="6.1.0-26-amd64",
        arch="x86_64",
    )


FIN_HARDWARE = hardware(8, 4, [Disk("sda", "hdd", 10**12, "ST1000DM010", True)])
HR_HARDWARE = hardware(
    16,
    8,
    [
        Disk("loopy", "unknown", 10**9),
        Disk("nvme0n1", "ssd", 5 * 10**11, "Samsung SSD 980", False),
        Disk("sda", "hdd", 10**12, "ST1000DM010", True),
    ],
)


def inventory(at: float, hw: Hardware, version: str) -> Inventory:
    return Inventory(
        collected_at=at,
        digest=f"{version}-{at}",
        hardware=hw,
        software=[
            InstalledPackage("libreoffice-core", version, "dpkg", "amd64", "libreoffice"),
            InstalledPackage("libc6", "2.36-9+deb12u9", "dpkg", "amd64"),
        ],
        upgradable=[],
    )


def launch(
    at: float,
    seconds: float,
    version: str | None,
    *,
    app: str = "libreoffice",
    method: str = "passive",
    outcome: str = "ok",
    kind: str = "warm",
) -> LaunchEvent:
    return LaunchEvent(
        app=app,
        version=version,
        method=method,  # type: ignore[arg-type]
        outcome=outcome,  # type: ignore[arg-type]
        started_at=at,
        duration_seconds=seconds,
        ready_signal="cpu_settled",
        start_kind=kind,  # type: ignore[arg-type]
    )


def batch(
    host_id: str,
    sequence: int,
    *,
    intervals: Mapping[float, Mapping[Series, list[float]]] | None = None,
    launches: Sequence[LaunchEvent] = (),
    inventory: Inventory | None = None,
) -> Batch:
    return Batch(
        batch_id=f"{host_id}-{sequence:06d}",
        sequence=sequence,
        created_at=DAY0 + sequence,
        host=HostIdentity(host_id=host_id, hostname=f"{host_id}.example", agent_version="0.1"),
        intervals=[
            Interval(
                start=start,
                end=start + 60.0,
                metrics=[
                    summarise(name, dict(labels), values) for (name, labels), values in series
                ],
            )
            for start, series in ((s, list(m.items())) for s, m in (intervals or {}).items())
        ],
        launches=list(launches),
        inventory=inventory,
    )


def enrol(store: SqlStore, department: str, host_id: str) -> None:
    secret, _ = store.create_token(department=department, expires_at=NOW + DAY, now=DAY0 - DAY)
    store.enrol(
        token=secret, host_id=host_id, hostname=f"{host_id}.example", agent_version="0.1", now=DAY0
    )


def write_fleet(store: SqlStore) -> None:
    """Enrol both hosts and ingest their batches (see the module docstring)."""
    enrol(store, "finance", "fin-1")
    enrol(store, "hr", "hr-1")

    def ingest(host_id: str, b: Batch, received_at: float) -> None:
        store.ingest(host_id, b, received_at=received_at, sent_at=None)

    ingest(
        "fin-1",
        batch(
            "fin-1",
            1,
            inventory=inventory(DAY0, FIN_HARDWARE, OLD_VERSION),
            launches=[
                launch(DAY0 + HOUR, 2.0, OLD_VERSION, kind="cold"),
                launch(DAY0 + 2 * HOUR, 1.5, OLD_VERSION),
                launch(DAY0 + 3 * HOUR, 9.0, OLD_VERSION, outcome="timeout"),
                launch(DAY0 - 100 * DAY, 1.0, OLD_VERSION),  # before the window
            ],
            intervals={
                DAY0 + HOUR: {MEMORY: [0.125, 0.25], ROOT: [0.5], HOME: [0.875]},
                DAY0 + 2 * HOUR: {MEMORY: [0.5], ROOT: [0.625]},
            },
        ),
        DAY0 + 2 * HOUR,
    )
    ingest(
        "hr-1",
        batch(
            "hr-1",
            1,
            inventory=inventory(DAY0, HR_HARDWARE, NEW_VERSION),
            launches=[launch(DAY0 + 5 * HOUR, 0.75, None, app="firefox", method="reported")],
            intervals={DAY0 + HOUR: {SWAP: [1024.0, 2048.0]}},
        ),
        DAY0 + 2 * HOUR,
    )
    # Day 0 so far is rolled up; what follows is not.
    SqlUpkeep(store.engine).roll_up(now=DAY0 + 3 * HOUR)
    ingest(
        "fin-1",
        batch(
            "fin-1",
            2,
            inventory=inventory(DAY0 + 2 * DAY, FIN_HARDWARE, NEW_VERSION),
            launches=[
                launch(DAY0 + 2 * DAY + HOUR, 3.0, NEW_VERSION, kind="cold"),
                launch(DAY0 + 2 * DAY + 2 * HOUR, 2.5, NEW_VERSION),
                launch(DAY0 + 2 * DAY + 3 * HOUR, 0.25, NEW_VERSION, method="probe"),
            ],
            intervals={
                DAY0 + 20 * HOUR: {MEMORY: [0.375]},  # late for day 0
                DAY0 + DAY + HOUR: {MEMORY: [0.0, 0.125], ROOT: [0.75]},
            },
        ),
        DAY0 + 2 * DAY + 4 * HOUR,
    )
