"""Migration 0003 (catalog): it upgrades a 0002 database and downgrades back to it cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.catalog_sources import read_endoflife
from advisor.store.catalog import SqlCatalogStore
from advisor.store.engine import make_engine
from advisor.store.migrate import current_revision, downgrade, upgrade
from tests.advisor.conftest import Databases, table_names

ENDOFLIFE = Path(__file__).resolve().parents[2] / "fixtures" / "endoflife"
CATALOG_TABLES = {
    "catalog_products",
    "catalog_identifiers",
    "catalog_cycles",
    "catalog_versions",
    "catalog_prices",
    "catalog_requirements",
    "catalog_aliases",
    "hardware_prices",
    "cost_settings",
    "catalog_imports",
    "catalog_changes",
    "api_tokens",
}


@pytest.fixture
def engine_at_0002(backend: str, databases: Databases, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database migrated to 0002 with one host."""
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO hosts (host_id, hostname, department, credential_sha256,"
                " enrolled_at, agent_version) VALUES ('host-a', 'a', 'finance', 'x', 0, '0.1')"
            )
        )
    try:
        yield engine
    finally:
        engine.dispose()


def test_upgrade_adds_the_catalog_and_downgrade_removes_it_keeping_the_rest(
    engine_at_0002: sa.Engine,
) -> None:
    upgrade(engine_at_0002)
    assert table_names(engine_at_0002) >= CATALOG_TABLES
    records = read_endoflife(str(ENDOFLIFE / "products" / "postgresql.md"))
    SqlCatalogStore(engine_at_0002).import_records(records, kind="endoflife", source="t", now=0.0)

    downgrade(engine_at_0002, "0002")

    assert current_revision(engine_at_0002) == "0002"
    assert not CATALOG_TABLES & table_names(engine_at_0002)
    with engine_at_0002.connect() as conn:
        assert conn.execute(sa.text("SELECT host_id FROM hosts")).scalars().all() == ["host-a"]

    upgrade(engine_at_0002)

    assert SqlCatalogStore(engine_at_0002).load().records == {}
