"""Migration 0005: batch ids become unique per host; batches stored before it stay, downgrade
goes back to fleet-wide ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.store.analysis_data import SqlUpkeep
from advisor.store.engine import make_engine
from advisor.store.migrate import current_revision, downgrade, head_revision, upgrade
from tests.advisor.conftest import Databases
from tests.advisor.store.batches import DAY0, HOUR

_HOST = (
    "INSERT INTO hosts (host_id, hostname, department, credential_sha256, enrolled_at,"
    " agent_version) VALUES (:host, :host, 'finance', :host, 0, '0.1')"
)
_BATCH = (
    "INSERT INTO batches (batch_id, host_id, sequence, created_at, received_at)"
    " VALUES (:batch, :host, 1, :t, :t)"
)
_SUMMARY = (
    "INSERT INTO metric_summaries (host_id, batch_id, interval_start, interval_end, name,"
    " labels, count, sum, min, max, p50, p90, p99) VALUES (:host, :batch, :t, :t + 60,"
    " 'cpu_utilization_ratio', '{}', 4, 2.0, 0.25, 1.0, 0.5, 0.75, 1.0)"
)


@pytest.fixture
def engine_at_0004(backend: str, databases: Databases, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database at 0004 with two hosts and one batch of host-a, not rolled up."""
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    upgrade(engine, "0004")
    with engine.begin() as conn:
        for host in ("host-a", "host-b"):
            conn.execute(sa.text(_HOST), {"host": host})
        conn.execute(sa.text(_BATCH), {"batch": "b1", "host": "host-a", "t": DAY0 + 60})
        conn.execute(sa.text(_SUMMARY), {"batch": "b1", "host": "host-a", "t": DAY0})
    try:
        yield engine
    finally:
        engine.dispose()


def test_after_the_upgrade_two_hosts_store_batches_with_the_same_id(
    engine_at_0004: sa.Engine,
) -> None:
    upgrade(engine_at_0004)

    assert current_revision(engine_at_0004) == head_revision()
    with engine_at_0004.begin() as conn:
        conn.execute(sa.text(_BATCH), {"batch": "b1", "host": "host-b", "t": DAY0 + 60})
        conn.execute(sa.text(_SUMMARY), {"batch": "b1", "host": "host-b", "t": DAY0})
    with pytest.raises(sa.exc.IntegrityError), engine_at_0004.begin() as conn:
        conn.execute(sa.text(_BATCH), {"batch": "b1", "host": "host-b", "t": DAY0 + 60})
    # Each host's batch rolls up its own summaries, not the other host's with the same id.
    done = SqlUpkeep(engine_at_0004).roll_up(now=DAY0 + HOUR)
    assert (done.batches, done.summaries) == (2, 2)
    with engine_at_0004.connect() as conn:
        pending = conn.execute(
            sa.text("SELECT count(*) FROM batches WHERE rolled_up_at IS NULL")
        ).scalar_one()
    assert pending == 0


def test_the_upgrade_keeps_batches_and_hosts_and_downgrades_back(
    engine_at_0004: sa.Engine,
) -> None:
    upgrade(engine_at_0004)
    with engine_at_0004.connect() as conn:
        kept = conn.execute(sa.text("SELECT host_id, batch_id FROM batches")).all()
        released = conn.execute(sa.text("SELECT released_at FROM hosts")).scalars().all()
    assert [tuple(row) for row in kept] == [("host-a", "b1")]
    assert released == [None, None]

    downgrade(engine_at_0004, "0004")

    assert current_revision(engine_at_0004) == "0004"
    with pytest.raises(sa.exc.IntegrityError), engine_at_0004.begin() as conn:
        conn.execute(sa.text(_BATCH), {"batch": "b1", "host": "host-b", "t": DAY0 + 60})
