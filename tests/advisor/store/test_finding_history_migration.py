"""Migration 0007 (finding history): existing findings get their lifecycle and a first history
point from their current figures; the downgrade drops the history and keeps the findings.

The store of today reads a schema at the head revision: after 0007 the tests upgrade to it
before using the store (0008's own test: test_finding_parts_migration.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.store.engine import make_engine
from advisor.store.findings import SqlFindings
from advisor.store.migrate import current_revision, downgrade, upgrade
from tests.advisor.conftest import Databases, table_names
from tests.advisor.store.findingsdata import (
    DAY,
    T0,
    WEAK_Q,
    finding,
    insert_as_before_0007,
    insert_run_as_before_0007,
    weak,
)

HISTORY_TABLES = {"finding_history", "finding_events"}
OPEN = weak(finding())
RESOLVED = finding("trend", "writer", {}, cause="unknown", effect=0.9, hosts=("a", "b", "c"))


@pytest.fixture
def engine_at_0006(backend: str, databases: Databases, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database at 0006 with two runs: the first found OPEN and RESOLVED, the second
    resolved RESOLVED (as the store did then: on the first miss)."""
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    upgrade(engine, "0006")
    with engine.begin() as conn:
        first = insert_run_as_before_0007(conn, T0)
        insert_run_as_before_0007(conn, T0 + DAY)
        insert_as_before_0007(conn, OPEN, run_id=first)
        insert_as_before_0007(conn, RESOLVED, run_id=first, status="resolved", resolved_at=T0 + DAY)
    try:
        yield engine
    finally:
        engine.dispose()


def test_existing_findings_get_their_lifecycle_and_a_history_point_from_their_figures(
    engine_at_0006: sa.Engine,
) -> None:
    upgrade(engine_at_0006, "0007")

    assert current_revision(engine_at_0006) == "0007"
    upgrade(engine_at_0006)
    findings = SqlFindings(engine_at_0006)
    still_open = findings.get(OPEN.key)
    assert still_open is not None
    assert (still_open.status, still_open.opened_at, still_open.runs_seen) == ("open", T0, 1)
    assert (still_open.missed_runs, still_open.reopen_count) == (1, 0)  # run 2 missed it
    (point,) = findings.history(OPEN.key).points
    first_run = findings.last_runs()[-1].run_id
    assert (point.detected_at, point.run_id, point.q_value, point.hosts) == (
        T0,
        first_run,
        WEAK_Q,
        2,
    )
    assert (point.effect.estimate, point.cause, point.confidence) == (0.25, "version", 0.9)
    assert [(e.event, e.at, e.run_id) for e in findings.history(OPEN.key).events] == [
        ("opened", T0, None)
    ]
    resolved = findings.history(RESOLVED.key)
    assert [(e.event, e.at) for e in resolved.events] == [("opened", T0), ("resolved", T0 + DAY)]
    assert resolved.points[0].hosts == 3
    assert [r.pending for r in findings.last_runs()] == [0, 0]


def test_after_the_upgrade_runs_carry_the_lifecycle_on(engine_at_0006: sa.Engine) -> None:
    upgrade(engine_at_0006)
    findings = SqlFindings(engine_at_0006)

    summary = findings.record_run([OPEN], now=T0 + 2 * DAY)

    assert (summary.updated, summary.new, summary.open) == (1, 0, 1)
    stored = findings.get(OPEN.key)
    assert stored is not None
    assert (stored.runs_seen, stored.missed_runs, stored.opened_at) == (2, 0, T0)
    assert len(findings.history(OPEN.key).points) == 2


def test_the_downgrade_drops_the_history_and_keeps_the_findings(
    engine_at_0006: sa.Engine,
) -> None:
    upgrade(engine_at_0006)
    SqlFindings(engine_at_0006).record_run([OPEN], now=T0 + 2 * DAY)

    downgrade(engine_at_0006, "0006")

    assert current_revision(engine_at_0006) == "0006"
    assert not HISTORY_TABLES & table_names(engine_at_0006)
    with engine_at_0006.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("findings")}
        kept = conn.execute(sa.text("SELECT key, status FROM findings ORDER BY key")).all()
    assert not {"opened_at", "runs_seen", "missed_runs", "reopen_count"} & columns
    assert [tuple(row) for row in kept] == [(RESOLVED.key, "resolved"), (OPEN.key, "open")]

    upgrade(engine_at_0006, "0007")
    upgrade(engine_at_0006)

    assert len(SqlFindings(engine_at_0006).history(OPEN.key).points) == 1
