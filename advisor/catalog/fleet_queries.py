"""The fleet's installed and offered packages read for the catalog, and the questions asked.

Reads ``current_packages``, ``upgradable_packages`` and ``hosts`` (revoked hosts are no longer
part of the fleet and are left out), then hands plain values to :mod:`advisor.catalog.fleet`.
For ``outdated`` only the packages some product or alias names are read: a fleet's other
packages cannot be outdated products, and there are far more of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from advisor.catalog.fleet import (
    HostPackage,
    OutdatedReport,
    UnmatchedPackage,
    offer_key,
    outdated,
    unmatched,
)
from advisor.catalog.store import CatalogStore
from advisor.store.models import CurrentPackage, Host, UpgradablePackageRow
from agent.shared.wire import InstalledPackage, UpgradablePackage


def _table(model: type[Any]) -> sa.Table:
    table: sa.Table = model.__table__
    return table


CURRENT = _table(CurrentPackage)
HOSTS = _table(Host)
UPGRADABLE = _table(UpgradablePackageRow)


def fleet_outdated(
    engine: sa.Engine,
    now: dt.date,
    *,
    horizon_days: int = 90,
    department: str | None = None,
) -> OutdatedReport:
    """Outdated hosts × products on ``now`` (of ``department`` only, when given)."""
    store = CatalogStore(engine)
    catalog = store.load()
    matcher = catalog.matcher()
    names = sorted(
        {
            name
            for record in catalog.records.values()
            for package_names in record.product.identifiers.packages.values()
            for name in package_names
        }
        | {alias.partition(":")[2] or alias for alias in catalog.aliases}
    )
    active: list[sa.ColumnElement[bool]] = [HOSTS.c.revoked_at.is_(None)]
    if department is not None:
        active.append(HOSTS.c.department == department)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                CURRENT.c.host_id,
                HOSTS.c.hostname,
                HOSTS.c.department,
                CURRENT.c.source,
                CURRENT.c.package,
                CURRENT.c.arch,
                CURRENT.c.version,
            )
            .join(HOSTS, HOSTS.c.host_id == CURRENT.c.host_id)
            .where(CURRENT.c.package.in_(names), *active)
        ).all()
        offer_rows = conn.execute(
            sa.select(UPGRADABLE)
            .join(HOSTS, HOSTS.c.host_id == UPGRADABLE.c.host_id)
            .where(UPGRADABLE.c.package.in_(names), *active)
        ).all()
    packages = [
        HostPackage(
            row.host_id,
            row.hostname,
            row.department,
            InstalledPackage(row.package, row.version, row.source, row.arch or None),
        )
        for row in rows
    ]
    offers = {}
    for row in offer_rows:
        offer = UpgradablePackage(
            row.package, row.installed, row.candidate, row.origin, row.arch or None, row.source
        )
        offers[offer_key(row.host_id, offer)] = offer
    return outdated(
        catalog.records,
        matcher,
        packages,
        offers,
        now,
        horizon_days=horizon_days,
        costs=store.costs(),
    )


def fleet_unmatched(engine: sa.Engine) -> list[UnmatchedPackage]:
    """Installed packages of active hosts that match no product, with host counts."""
    matcher = CatalogStore(engine).load().matcher()
    with engine.connect() as conn:
        counts = conn.execute(
            sa.select(
                CURRENT.c.source,
                CURRENT.c.package,
                sa.func.count(sa.distinct(CURRENT.c.host_id)),
            )
            .join(HOSTS, HOSTS.c.host_id == CURRENT.c.host_id)
            .where(HOSTS.c.revoked_at.is_(None))
            .group_by(CURRENT.c.source, CURRENT.c.package)
        ).all()
    return unmatched(matcher, [(source, package, hosts) for source, package, hosts in counts])
