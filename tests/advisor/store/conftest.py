"""One fixture per store interface, over every implementation of it.

``hosts`` (enrolment and ingest, :class:`advisor.store.Store`) runs on the in-memory store the
API tests use and on SQL (SQLite and PostgreSQL); the other interfaces have one implementation,
on SQL, and run on both databases through ``engine`` (tests/advisor/conftest.py). A contract
test takes the interface's fixture and calls only the interface; tests that also read the
tables directly are the SQL implementation's own, and take ``store`` and ``engine``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.store import Store
from advisor.store.analysis_data import FleetFrames, SqlFleetFrames, SqlUpkeep, Upkeep
from advisor.store.api_tokens import ApiTokens, SqlApiTokens
from advisor.store.audit import AuditLog, SqlAuditLog
from advisor.store.catalog import CatalogStore, SqlCatalogStore
from advisor.store.engine import make_engine
from advisor.store.findings import Findings, SqlFindings
from advisor.store.inventory import FleetInventory, SqlFleetInventory
from advisor.store.job_state import JobLeases, SqlJobLeases
from advisor.store.recommendations import Recommendations
from advisor.store.recommendations_sql import SqlRecommendations
from advisor.store.sql import SqlStore
from tests.advisor.api.memory_store import MemoryStore
from tests.advisor.conftest import BACKENDS, Databases, empty_tables

HOST_STORES = ("memory", *BACKENDS)


@pytest.fixture(params=HOST_STORES)
def hosts(request: pytest.FixtureRequest, databases: Databases, tmp_path: Path) -> Iterator[Store]:
    """Enrolment and ingest on each implementation: in memory, SQLite and PostgreSQL."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "postgresql":
        databases.require_postgresql()
        url: str = request.getfixturevalue("shared_postgresql_url")
        empty_tables(url)
    else:
        url = databases.sqlite_url(tmp_path)
    made = SqlStore(make_engine(url))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def findings(engine: sa.Engine) -> Findings:
    return SqlFindings(engine)


@pytest.fixture
def frames(engine: sa.Engine) -> FleetFrames:
    return SqlFleetFrames(engine, raw_launches=True)


@pytest.fixture
def upkeep(engine: sa.Engine) -> Upkeep:
    return SqlUpkeep(engine)


@pytest.fixture
def catalog(engine: sa.Engine) -> CatalogStore:
    return SqlCatalogStore(engine)


@pytest.fixture
def leases(engine: sa.Engine) -> JobLeases:
    return SqlJobLeases(engine)


@pytest.fixture
def api_tokens(engine: sa.Engine) -> ApiTokens:
    return SqlApiTokens(engine)


@pytest.fixture
def recommendations(engine: sa.Engine) -> Recommendations:
    return SqlRecommendations(engine)


@pytest.fixture
def audit_log(engine: sa.Engine) -> AuditLog:
    return SqlAuditLog(engine)


@pytest.fixture
def inventory(engine: sa.Engine) -> FleetInventory:
    return SqlFleetInventory(engine)
