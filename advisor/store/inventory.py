"""What the fleet's inventories say: each host's hardware now, the apps' packages, and the
versions installed at a time, with when each was first seen. Read-only.

The recommendation job reads it (advisor.recommend_job): the hardware as the engine's
inventory extras (the system disk's size), which package is which app (to find the app's
catalog product), and, for the loop, whether an approved change shows on its hosts (the
target version installed, and since when: the version span's start, the first inventory
that showed it; RAM, disk kind and cores for hardware).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from advisor.store.frames import hardware_figures
from advisor.store.models import CURRENT_PACKAGES, HOSTS, SPANS

GB = 1e9


@dataclass(frozen=True, slots=True)
class HostInventory:
    """One enrolled host as its newest inventory describes it. ``ram_bytes`` and ``cores``
    are NaN when not reported; ``hdd``: its system disk spins; ``disk_gb`` that disk's size
    (None: unknown); ``machine`` names the machine (vendor, model, CPU) when reported;
    ``inventory_at`` is when that inventory was collected (None: never)."""

    host_id: str
    hostname: str
    department: str
    revoked: bool
    ram_bytes: float
    hdd: bool
    cores: float
    disk_gb: float | None
    machine: str | None
    inventory_at: float | None


@dataclass(frozen=True, slots=True)
class InstalledVersion:
    """A package of ``app`` installed on a host, at ``version`` (as the package manager
    names it) since ``since`` (the first inventory that showed it)."""

    host_id: str
    app: str
    source: str
    package: str
    version: str
    since: float


class FleetInventory(Protocol):
    """The inventories of the fleet as they are now.

    Contract: reads only. :meth:`hosts` lists every enrolled host (revoked ones too, marked)
    with its newest inventory's hardware (no history is kept), by host id;
    :meth:`app_packages` each app's packages as the inventories label them; :meth:`installed`
    the packages of ``apps`` installed at ``at`` on every host (or on ``hosts``), from the
    version history: the span each was in at that time, by host, app and package (a replay
    of an earlier time sees the versions of then). An empty ``apps`` or ``hosts`` gives
    ``[]``.
    """

    def hosts(self) -> list[HostInventory]: ...

    def app_packages(self) -> dict[str, list[tuple[str, str]]]:
        """App -> its packages as ``(source, package)``, sorted; apps sorted."""
        ...

    def installed(
        self, apps: Collection[str], *, at: float, hosts: Collection[str] | None = None
    ) -> list[InstalledVersion]: ...


class SqlFleetInventory:
    """:class:`FleetInventory` on the ``hosts``, ``current_packages`` and ``version_spans``
    tables of ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def hosts(self) -> list[HostInventory]:
        query = sa.select(
            HOSTS.c.host_id,
            HOSTS.c.hostname,
            HOSTS.c.department,
            HOSTS.c.revoked_at,
            HOSTS.c.hardware,
            HOSTS.c.inventory_collected_at,
        ).order_by(HOSTS.c.host_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            _host(
                row.host_id,
                row.hostname,
                row.department,
                row.revoked_at,
                row.hardware,
                row.inventory_collected_at,
            )
            for row in rows
        ]

    def app_packages(self) -> dict[str, list[tuple[str, str]]]:
        query = (
            sa.select(CURRENT_PACKAGES.c.app, CURRENT_PACKAGES.c.source, CURRENT_PACKAGES.c.package)
            .where(CURRENT_PACKAGES.c.app.is_not(None))
            .distinct()
        )
        found: dict[str, list[tuple[str, str]]] = {}
        with self._engine.connect() as conn:
            for app, source, package in conn.execute(query):
                found.setdefault(app, []).append((source, package))
        return {app: sorted(found[app]) for app in sorted(found)}

    def installed(
        self, apps: Collection[str], *, at: float, hosts: Collection[str] | None = None
    ) -> list[InstalledVersion]:
        if not apps or (hosts is not None and not hosts):
            return []
        spans = SPANS
        query = (
            sa.select(spans.c.host_id, spans.c.app, spans.c.source, spans.c.package)
            .add_columns(spans.c.version, spans.c.since)
            .where(
                spans.c.app.in_(sorted(apps)),
                spans.c.since <= at,
                sa.or_(spans.c.until.is_(None), spans.c.until > at),
            )
            .order_by(spans.c.host_id, spans.c.app, spans.c.source, spans.c.package)
        )
        if hosts is not None:
            query = query.where(spans.c.host_id.in_(sorted(hosts)))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            InstalledVersion(
                host_id=row.host_id,
                app=row.app,
                source=row.source,
                package=row.package,
                version=row.version,
                since=row.since,
            )
            for row in rows
        ]


def _host(
    host_id: str,
    hostname: str,
    department: str,
    revoked_at: float | None,
    hardware: dict[str, Any] | None,
    inventory_at: float | None,
) -> HostInventory:
    ram, hdd, cores = hardware_figures(hardware)
    return HostInventory(
        host_id=host_id,
        hostname=hostname,
        department=department,
        revoked=revoked_at is not None,
        ram_bytes=ram,
        hdd=hdd,
        cores=cores,
        disk_gb=_system_disk_gb(hardware),
        machine=_machine(hardware),
        inventory_at=inventory_at,
    )


def _system_disk_gb(hardware: dict[str, Any] | None) -> float | None:
    """The size of the system disk (the first of a known kind, as hardware_figures reads
    it), in GB.

    >>> _system_disk_gb({"disks": [{"kind": "unknown", "size_bytes": 1}, {"kind": "ssd",
    ...     "size_bytes": 512110190592}]})
    512.110190592
    >>> _system_disk_gb(None) is None
    True
    """
    for disk in (hardware or {}).get("disks") or []:
        if disk.get("kind") in ("hdd", "ssd"):
            size = disk.get("size_bytes")
            if isinstance(size, int | float) and math.isfinite(size) and size > 0:
                return float(size) / GB
            return None
    return None


def _machine(hardware: dict[str, Any] | None) -> str | None:
    """The machine's vendor, model and CPU as one name, when any is reported.

    >>> _machine({"machine_vendor": "LENOVO", "machine_model": "20L5", "cpu_model": "i5"})
    'LENOVO 20L5 / i5'
    """
    if not hardware:
        return None
    box = " ".join(str(hardware[k]) for k in ("machine_vendor", "machine_model") if hardware.get(k))
    cpu = str(hardware.get("cpu_model") or "")
    name = " / ".join(part for part in (box, cpu) if part)
    return name or None
