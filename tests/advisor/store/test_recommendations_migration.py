"""Migration 0010 (recommendations and the audit log): it upgrades a 0009 database holding data,
keeping it, and downgrades back to 0009 cleanly, as many times as need be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.store.api_tokens import SqlApiTokens
from advisor.store.audit import SqlAuditLog
from advisor.store.engine import make_engine
from advisor.store.findings import SqlFindings
from advisor.store.migrate import current_revision, downgrade, upgrade
from advisor.store.recommendations_sql import SqlRecommendations
from tests.advisor.conftest import Databases, table_names
from tests.advisor.store.findingsdata import finding
from tests.advisor.store.recommendationsdata import T0, UPGRADE_KEY, proposal

NEW_TABLES = {"recommendations", "recommendation_departments", "audit_log"}


@pytest.fixture
def engine_at_0009(backend: str, databases: Databases, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database migrated to 0009 with an admin token and a finding."""
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    upgrade(engine, "0009")
    SqlApiTokens(engine).create(now=T0, note="kept")
    SqlFindings(engine).record_run([finding()], now=T0)
    try:
        yield engine
    finally:
        engine.dispose()


def assert_the_data_of_0009_is_kept(engine: sa.Engine) -> None:
    assert [t.note for t in SqlApiTokens(engine).list()] == ["kept"]
    assert SqlFindings(engine).get(finding().key) is not None


def use_the_new_tables(engine: sa.Engine) -> None:
    recommendations = SqlRecommendations(engine)
    recommendations.propose([proposal()], now=T0)
    recommendations.decide(UPGRADE_KEY, verdict="approve", actor="alice", now=T0 + 1)
    assert [e.action for e in SqlAuditLog(engine).entries()] == [
        "recommendation.approved",
        "recommendation.proposed",
    ]
    with (
        engine.begin() as conn,
        pytest.raises(sa.exc.DatabaseError, match="audit_log is append-only"),
    ):
        conn.execute(sa.text("DELETE FROM audit_log"))


def test_upgrade_adds_the_tables_keeping_the_data_and_downgrade_removes_only_them(
    engine_at_0009: sa.Engine,
) -> None:
    assert not NEW_TABLES & table_names(engine_at_0009)

    upgrade(engine_at_0009, "0010")

    assert current_revision(engine_at_0009) == "0010"
    assert table_names(engine_at_0009) >= NEW_TABLES
    assert_the_data_of_0009_is_kept(engine_at_0009)
    use_the_new_tables(engine_at_0009)

    downgrade(engine_at_0009, "0009")

    assert current_revision(engine_at_0009) == "0009"
    assert not NEW_TABLES & table_names(engine_at_0009)
    assert_the_data_of_0009_is_kept(engine_at_0009)

    # Everything the upgrade made went with the downgrade (PostgreSQL's trigger function too):
    # upgrading again starts afresh.
    upgrade(engine_at_0009, "0010")

    assert SqlRecommendations(engine_at_0009).list() == []
    use_the_new_tables(engine_at_0009)
