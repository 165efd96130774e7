"""The CatalogStore contract on SQLite and PostgreSQL: imports, re-imports, changes, rollback."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from advisor.catalog.answers import supported_cycles
from advisor.catalog.costs import load_costs
from advisor.catalog.errors import RowProblem
from advisor.catalog_sources import read_endoflife, read_org
from advisor.store.catalog import CatalogStore, SqlCatalogStore
from advisor.store.models import Base
from tests.advisor.catalog.conftest import ENDOFLIFE, SNAPSHOT

ROOT = Path(__file__).resolve().parents[3]
NOW = 1_787_400_000.0
CATALOG_TABLES = (
    "catalog_products",
    "catalog_identifiers",
    "catalog_cycles",
    "catalog_versions",
    "catalog_prices",
    "catalog_requirements",
    "catalog_aliases",
    "hardware_prices",
    "cost_settings",
)

ORG_TOML = """\
[aliases]
"dpkg:postgresql-15" = "postgresql"
"dpkg:acme" = "acme-crm"

[[product]]
slug = "acme-erp"
name = "ACME ERP"
vendor = "ACME"
scheme = "semver"
packages = { dpkg = ["acme-erp-client"] }
min_ram_gb = 8
price = { licence = "per_seat_year", amount = "150.00", currency = "USD", as_of = 2026-01-15 }
versions = [{ version = "5.2.0", release_date = 2026-03-01, tags = ["performance"] }]

[[product]]
slug = "vpn"
name = "VPN client"
price = { licence = "per_seat_year", amount = "ten", currency = "USD", as_of = 2026-01-15 }

[[product]]
slug = "postgresql"
price = { licence = "free", amount = "0", currency = "USD", as_of = 2026-01-01 }
"""


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(
                sa.select(sa.func.count()).select_from(Base.metadata.tables[name])
            ).scalar_one()
            for name in (*CATALOG_TABLES, "catalog_imports", "catalog_changes")
        }


def rows(engine: sa.Engine, table: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(Base.metadata.tables[table]))]


def test_every_shipped_endoflife_product_imports_and_reads_back_the_same(
    catalog: CatalogStore,
) -> None:
    records = read_endoflife(str(ENDOFLIFE))

    report = catalog.import_records(records, kind="endoflife", source="shipped", now=NOW)

    stored = catalog.load().records
    assert len(stored) == len(records) == 48
    assert report.count("added") > 10_000
    for record in records:
        back = stored[record.product.slug]
        assert back.product == record.product or (
            back.product.identifiers.packages.keys() == record.product.identifiers.packages.keys()
        )
        assert set(back.cycles) == set(record.cycles)
        assert set(back.versions) == set(record.versions)
    postgresql = [c.name for c in supported_cycles(stored["postgresql"], SNAPSHOT)]
    assert postgresql == ["18", "17", "16", "15", "14"]
    firefox = {c.name for c in supported_cycles(stored["firefox"], SNAPSHOT)}
    assert {"115", "140"} <= firefox
    assert "128" not in firefox


def test_importing_the_same_data_twice_changes_nothing(
    catalog: CatalogStore, engine: sa.Engine
) -> None:
    records = read_endoflife(str(ENDOFLIFE))
    catalog.import_records(records, kind="endoflife", source="shipped", now=NOW)
    before = counts(engine)
    products_before = rows(engine, "catalog_products")

    again = catalog.import_records(records, kind="endoflife", source="shipped", now=NOW + 60)

    assert again.changes == ()
    assert again.summary == "no changes"
    after = counts(engine)
    assert after == {**before, "catalog_imports": before["catalog_imports"] + 1}
    assert rows(engine, "catalog_products") == products_before
    assert catalog.import_log()[0].summary == "no changes"


def test_a_newer_import_updates_what_changed_and_records_it(
    catalog: CatalogStore, tmp_path: Path
) -> None:
    copy = tmp_path / "endoflife"
    (copy / "products").mkdir(parents=True)
    (copy / "releases").mkdir()
    shutil.copy(ENDOFLIFE / "products" / "postgresql.md", copy / "products")
    shutil.copy(ENDOFLIFE / "releases" / "postgresql.json", copy / "releases")
    catalog.import_records(read_endoflife(str(copy)), kind="endoflife", source="v1", now=NOW)
    product = copy / "products" / "postgresql.md"
    product.write_text(
        product.read_text().replace("eol: 2027-11-11", "eol: 2027-12-01"), encoding="utf-8"
    )
    releases = copy / "releases" / "postgresql.json"
    data = json.loads(releases.read_text())
    data["versions"]["15.20"] = {"name": "15.20", "date": "2026-08-20"}
    releases.write_text(json.dumps(data), encoding="utf-8")

    report = catalog.import_records(
        read_endoflife(str(copy)), kind="endoflife", source="v2", now=NOW + 60
    )

    changes = {(c.entity, c.key, c.action): c.detail for c in report.changes}
    assert changes == {
        ("cycle", "postgresql/15", "changed"): {"life_ends_on": ["2027-11-11", "2027-12-01"]},
        ("version", "postgresql/15.20", "added"): {},
    }
    assert report.summary == "1 added, 1 changed, 0 removed"
    assert catalog.changes(report.import_id) == list(report.changes)
    (cycle,) = [c for c in catalog.load().records["postgresql"].cycles if c.name == "15"]
    assert cycle.end_of_life == dt.date(2027, 12, 1)
    log = catalog.import_log()
    assert [(e.source, e.summary) for e in log][:1] == [("v2", "1 added, 1 changed, 0 removed")]


def test_a_failure_in_the_middle_of_an_import_leaves_nothing_stored(
    catalog: CatalogStore, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = read_endoflife(str(ENDOFLIFE))

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection lost")

    # Every row is written by then; only the log entry is missing.
    monkeypatch.setattr(SqlCatalogStore, "_log", crash)
    with pytest.raises(RuntimeError):
        catalog.import_records(records, kind="endoflife", source="shipped", now=NOW)

    assert set(counts(engine).values()) == {0}


def test_an_org_file_imports_its_good_rows_and_reports_the_bad_ones_by_line(
    catalog: CatalogStore, tmp_path: Path
) -> None:
    catalog.import_records(read_endoflife(str(ENDOFLIFE)), kind="endoflife", source="e", now=NOW)
    path = tmp_path / "catalog.toml"
    path.write_text(ORG_TOML, encoding="utf-8")
    org, lines = read_org(path)

    report = catalog.import_records(
        list(org.records),
        kind="org",
        source=str(path),
        now=NOW,
        aliases=org.aliases,
        alias_lines=lines,
        problems=org.problems,
    )

    bad_price, bad_alias = report.problems
    assert (bad_price.source, bad_price.line) == (str(path), 15)
    assert bad_price.reason.startswith("product[1]: price.amount:")
    assert bad_alias == RowProblem(
        str(path), 3, "alias 'dpkg:acme' names unknown product 'acme-crm'"
    )
    stored = catalog.load()
    assert "vpn" not in stored.records
    acme = stored.records["acme-erp"]
    assert acme.price is not None
    assert str(acme.price.amount) == "150.00"
    assert acme.requirements is not None
    assert acme.requirements.min_ram_bytes == 8 * 1024**3
    assert [(v.version, v.tags) for v in acme.versions] == [("5.2.0", frozenset({"performance"}))]
    # A price added to a known product keeps its name and endoflife.date data.
    assert stored.records["postgresql"].product.name == "PostgreSQL"
    assert stored.records["postgresql"].price is not None
    assert stored.aliases == {"dpkg:postgresql-15": "postgresql"}
    assert report.summary.endswith("; 2 rejected")

    again = catalog.import_records(
        list(org.records), kind="org", source=str(path), now=NOW, aliases=org.aliases
    )
    assert again.changes == ()


def test_an_alias_dropped_from_its_file_is_removed_on_the_next_import(
    catalog: CatalogStore,
) -> None:
    catalog.import_records(read_endoflife(str(ENDOFLIFE)), kind="endoflife", source="e", now=NOW)
    catalog.import_records([], kind="org", source="a.toml", now=NOW, aliases={"py": "python"})

    report = catalog.import_records([], kind="org", source="a.toml", now=NOW, aliases={})

    assert [str(c) for c in report.changes] == ["removed alias py"]
    assert catalog.load().aliases == {}


def test_cost_settings_round_trip_and_keep_price_history(
    catalog: CatalogStore, engine: sa.Engine, tmp_path: Path
) -> None:
    costs_file = ROOT / "config" / "costs.toml"
    costs = load_costs(costs_file)
    catalog.import_costs(costs, source=str(costs_file), now=NOW)
    assert catalog.costs() == costs
    assert catalog.import_costs(costs, source=str(costs_file), now=NOW).summary == "no changes"

    newer = tmp_path / "costs.toml"
    newer.write_text(
        costs_file.read_text()
        .replace('amount = "29.59"', 'amount = "31.00"')
        .replace('per_gb = "7.50"\nas_of = 2026-03-31', 'per_gb = "8.10"\nas_of = 2026-07-31'),
        encoding="utf-8",
    )
    report = catalog.import_costs(load_costs(newer), source=str(newer), now=NOW)

    assert {(c.entity, c.key, c.action) for c in report.changes} == {
        ("cost setting", "labour_rate", "changed"),
        ("hardware price", "ram/DDR4/2026-07-31", "added"),
    }
    stored = catalog.costs()
    assert stored is not None
    assert str(stored.labour_rate.amount) == "31.00"
    assert str(stored.ram_per_gb["DDR4"].amount) == "8.10"
    assert len([r for r in rows(engine, "hardware_prices") if r["item"] == "DDR4"]) == 2
