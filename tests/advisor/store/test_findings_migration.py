"""Migration 0004 (findings): it upgrades a 0003 database and downgrades back to it cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.store.api_tokens import SqlApiTokens
from advisor.store.engine import make_engine
from advisor.store.migrate import current_revision, downgrade, upgrade
from tests.advisor.conftest import Databases, table_names
from tests.advisor.store.findingsdata import (
    T0,
    finding,
    insert_as_before_0007,
    insert_run_as_before_0007,
)

FINDINGS_TABLES = {"findings", "analysis_runs"}


@pytest.fixture
def engine_at_0003(backend: str, databases: Databases, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database migrated to 0003 with an admin token."""
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    upgrade(engine, "0003")
    SqlApiTokens(engine).create(now=T0, note="kept")
    try:
        yield engine
    finally:
        engine.dispose()


def count_findings(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM findings")).scalar_one())


def test_upgrade_adds_the_findings_and_downgrade_removes_them_keeping_the_rest(
    engine_at_0003: sa.Engine,
) -> None:
    assert not FINDINGS_TABLES & table_names(engine_at_0003)

    upgrade(engine_at_0003, "0004")

    assert current_revision(engine_at_0003) == "0004"
    # The store of today writes tables 0004 does not have: the rows are written as then.
    with engine_at_0003.begin() as conn:
        run_id = insert_run_as_before_0007(conn, T0)
        insert_as_before_0007(conn, finding(), run_id=run_id)
    assert count_findings(engine_at_0003) == 1

    downgrade(engine_at_0003, "0003")

    assert current_revision(engine_at_0003) == "0003"
    assert not FINDINGS_TABLES & table_names(engine_at_0003)
    assert [t.note for t in SqlApiTokens(engine_at_0003).list()] == ["kept"]

    upgrade(engine_at_0003, "0004")

    assert count_findings(engine_at_0003) == 0
