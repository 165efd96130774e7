"""Migration 0002 (rollups): batches stored before it are rolled up after it; it downgrades."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.store.analysis_data import SqlUpkeep
from advisor.store.engine import make_engine
from advisor.store.migrate import current_revision, downgrade, upgrade
from tests.advisor.conftest import Databases, table_names
from tests.advisor.store.batches import DAY0, HOUR

ROLLUP_TABLES = {"metric_rollups_hourly", "metric_rollups_daily", "job_state"}


@pytest.fixture
def engine_at_0001(backend: str, databases: Databases, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database migrated to 0001 with one host, one batch and one of its summaries."""
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO hosts (host_id, hostname, department, credential_sha256,"
                " enrolled_at, agent_version) VALUES ('host-a', 'a', 'finance', 'x', 0, '0.1')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO batches (batch_id, host_id, sequence, created_at, received_at)"
                " VALUES ('b1', 'host-a', 1, :t, :t)"
            ),
            {"t": DAY0 + 60},
        )
        conn.execute(
            sa.text(
                "INSERT INTO metric_summaries (host_id, batch_id, interval_start, interval_end,"
                " name, labels, count, sum, min, max, p50, p90, p99) VALUES ('host-a', 'b1',"
                " :t, :t + 60, 'cpu_utilization_ratio', '{}', 4, 2.0, 0.25, 1.0, 0.5, 0.75, 1.0)"
            ),
            {"t": DAY0},
        )
    try:
        yield engine
    finally:
        engine.dispose()


def test_batches_stored_before_the_upgrade_are_rolled_up_after_it(
    engine_at_0001: sa.Engine,
) -> None:
    upgrade(engine_at_0001)

    done = SqlUpkeep(engine_at_0001).roll_up(now=DAY0 + HOUR)

    assert (done.batches, done.summaries) == (1, 1)
    with engine_at_0001.connect() as conn:
        row = conn.execute(sa.text("SELECT count, sum FROM metric_rollups_hourly")).one()
    assert tuple(row) == (4, 2.0)


def test_downgrade_to_0001_drops_the_rollups_and_keeps_the_batches(
    engine_at_0001: sa.Engine,
) -> None:
    upgrade(engine_at_0001)
    SqlUpkeep(engine_at_0001).roll_up(now=DAY0 + HOUR)

    downgrade(engine_at_0001, "0001")

    assert current_revision(engine_at_0001) == "0001"
    assert not ROLLUP_TABLES & table_names(engine_at_0001)
    with engine_at_0001.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("batches")}
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("batches")}
        foreign_keys = {k["name"] for k in sa.inspect(conn).get_foreign_keys("batches")}
        batch_ids = conn.execute(sa.text("SELECT batch_id FROM batches")).scalars().all()
    assert "rolled_up_at" not in columns
    assert indexes == {"ix_batches_host_id_sequence", "ix_batches_received_at"}
    assert foreign_keys == {"fk_batches_host_id_hosts"}
    assert batch_ids == ["b1"]

    upgrade(engine_at_0001)

    assert SqlUpkeep(engine_at_0001).roll_up(now=DAY0 + 2 * HOUR).batches == 1
