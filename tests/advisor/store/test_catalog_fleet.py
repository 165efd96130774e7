"""The CatalogStore contract, continued: outdated and unmatched software of a small fleet
written with SqlStore.ingest, on SQLite and PostgreSQL.

The fleet is tests/advisor/catalog/fleetdata.py; the date is the data snapshot, 2026-08-22.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.catalog.costs import load_costs
from advisor.catalog.fleet import NATIVE_PACKAGE
from advisor.catalog.importers.orgfile import parse_toml
from advisor.catalog_sources import read_endoflife
from advisor.store.catalog import CatalogStore, SqlCatalogStore
from advisor.store.sql import SqlStore
from tests.advisor.catalog.conftest import ENDOFLIFE, SNAPSHOT
from tests.advisor.catalog.fleetdata import T0, write_fleet

COSTS = Path(__file__).resolve().parents[3] / "config" / "costs.toml"


@pytest.fixture
def catalog(store: SqlStore) -> CatalogStore:
    """The fleet, the shipped endoflife.date catalog, one alias, costs and the apt offers."""
    write_fleet(store)
    catalog = SqlCatalogStore(store.engine)
    catalog.import_records(read_endoflife(str(ENDOFLIFE)), kind="endoflife", source="e", now=T0)
    catalog.import_records(
        [], kind="org", source="org.toml", now=T0, aliases={"dpkg:postgresql-15": "postgresql"}
    )
    catalog.import_costs(load_costs(COSTS), source=str(COSTS), now=T0)
    return catalog


def test_importing_the_offers_adds_the_apt_version_tagged_security(
    catalog: CatalogStore,
) -> None:
    report = catalog.import_offers(now=T0)

    # python3.11 3.11.2-6+deb12u6 is offered nothing newer; the postgresql meta-package
    # (Debian-native, 15+248+deb12u2) is not a PostgreSQL version and is skipped.
    assert [str(change) for change in report.changes] == ["added version postgresql/15.20"]
    (version,) = [v for v in catalog.load().records["postgresql"].versions if v.version == "15.20"]
    assert version.tags == frozenset({"security"})
    assert catalog.import_offers(now=T0).summary == "no changes"


def test_a_host_on_postgresql_15_18_is_behind_the_15_20_apt_offers(
    catalog: CatalogStore, engine: sa.Engine
) -> None:
    catalog.import_offers(now=T0)

    report = catalog.outdated(SNAPSHOT)

    by_host = {(row.host_id, row.product): row for row in report.rows}
    pg = by_host[("fin-1", "postgresql")]
    assert (pg.department, pg.package, pg.installed, pg.cycle) == (
        "finance",
        "postgresql-15",
        "15.18",
        "15",
    )
    assert (pg.newest_in_cycle, pg.offered, pg.offered_security) == ("15.20", "15.20", True)
    assert (pg.latest, pg.newest_supported) == ("18.6", "18.6")
    assert (pg.status, pg.end_of_life_on) == ("behind", dt.date(2027, 11, 11))
    # endoflife.date knows no licence price, so the cost per seat is unknown, not guessed.
    assert pg.cost_per_seat is None
    python = by_host[("fin-1", "python")]
    assert (python.installed, python.cycle, python.status) == ("3.11.2", "3.11", "behind")
    firefox = by_host[("fin-2", "firefox")]
    assert (firefox.installed, firefox.cycle, firefox.status) == ("115.5.0esr", "115", "behind")
    # hr-1 runs PostgreSQL 18.6, the newest: nothing to say about it.
    assert set(by_host) == {("fin-1", "postgresql"), ("fin-1", "python"), ("fin-2", "firefox")}
    assert [row.department for row in report.rows] == ["finance"] * 3
    (native,) = report.unordered
    assert (native.host_id, native.package, native.reason) == (
        "fin-1",
        "postgresql",
        NATIVE_PACKAGE,
    )


def test_a_free_licence_prices_the_upgrade_at_labour_only(
    catalog: CatalogStore, engine: sa.Engine
) -> None:
    org = parse_toml(
        '[[product]]\nslug = "postgresql"\nprice = { licence = "free", amount = "0", '
        'currency = "USD", as_of = 2026-01-01 }\n',
        "org.toml",
    )
    catalog.import_records(list(org.records), kind="org", source="org2.toml", now=T0)

    (pg,) = [r for r in catalog.outdated(SNAPSHOT).rows if r.product == "postgresql"]

    # Labour only: 0.1 h (package_manager) x 29.59 USD per hour.
    assert (pg.cost_per_seat, pg.currency) == (Decimal("0.1") * Decimal("29.59"), "USD")


def test_the_eol_horizon_and_department_filter_what_is_listed(
    catalog: CatalogStore, engine: sa.Engine
) -> None:
    # Firefox ESR 115 ends on 2027-03-31: within a year of the snapshot, not within 90 days.
    soon = catalog.outdated(SNAPSHOT, horizon_days=365, department="finance")
    assert {(r.product, r.status) for r in soon.rows} >= {("firefox", "end-of-life soon")}
    later = catalog.outdated(dt.date(2027, 4, 1))
    assert {r.status for r in later.rows if r.product == "firefox"} == {"end-of-life"}
    assert catalog.outdated(SNAPSHOT, department="hr").rows == []


def test_unmatched_packages_are_listed_with_host_counts(
    catalog: CatalogStore, engine: sa.Engine
) -> None:
    unmatched = {(u.source, u.package): u for u in catalog.unmatched()}

    assert unmatched[("dpkg", "jq")].hosts == 1
    assert unmatched[("dpkg", "jq")].reason == "unknown"
    assert ("dpkg", "postgresql-15") not in unmatched  # the alias claims it
    assert ("command", "postgresql") not in unmatched
