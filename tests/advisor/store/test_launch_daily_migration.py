"""Migration 0006 (launch_daily): the raw launches stored before it become daily rows, so an
upgraded database analyses as before; the oldest stored day is not recomputed; it downgrades."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.analysis.daily import daily_launches
from advisor.store import launch_daily
from advisor.store.analysis_data import SqlFleetFrames
from advisor.store.engine import make_engine
from advisor.store.migrate import current_revision, downgrade, upgrade
from tests.advisor.conftest import Databases, table_names
from tests.advisor.store.launchdays import DAY0_NUMBER, assert_same_rows, at, daily_of

DAILY_TABLES = {
    "launch_daily",
    "launch_daily_hosts",
    "launch_daily_apps",
    "launch_daily_versions",
    "launch_daily_state",
}
_LAUNCH = (
    "INSERT INTO launches (host_id, batch_id, app, version, method, outcome, started_at,"
    " duration_seconds, ready_signal, start_kind, phases) VALUES (:host, 'b1', :app, :version,"
    " 'passive', :outcome, :t, :seconds, 'cpu_settled', :kind, '{}')"
)
LAUNCHES = [
    # host, app, version, outcome, day, hour, seconds, start kind
    ("host-a", "gimp", "2.10", "ok", 0, 9, 2.0, "cold"),
    ("host-a", "gimp", "2.10", "ok", 0, 10, 1.0, "warm"),
    ("host-a", "gimp", "2.10", "ok", 0, 11, 4.0, "warm"),
    ("host-a", "gimp", "2.10", "timeout", 0, 12, 30.0, "warm"),
    ("host-a", "gimp", "2.10", "ok", 0, 13, 0.0, "warm"),  # no load time: not a launch
    ("host-a", "inkscape", None, "ok", 1, 9, 3.0, "unknown"),
    ("host-b", "gimp", "2.8", "ok", 2, 23.5, 0.5, "warm"),
]


@pytest.fixture
def engine_at_0005(backend: str, databases: Databases, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database at 0005 holding :data:`LAUNCHES` (raw, as ingest stored them)."""
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    upgrade(engine, "0005")
    with engine.begin() as conn:
        for host, app, version, outcome, day, hour, seconds, kind in LAUNCHES:
            conn.execute(
                sa.text(_LAUNCH),
                {
                    "host": host,
                    "app": app,
                    "version": version,
                    "outcome": outcome,
                    "t": at(day, hour),
                    "seconds": seconds,
                    "kind": kind,
                },
            )
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_upgrade_turns_stored_launches_into_the_daily_rows_the_analysis_read_before(
    engine_at_0005: sa.Engine,
) -> None:
    upgrade(engine_at_0005, "0006")

    assert current_revision(engine_at_0005) == "0006"
    data = SqlFleetFrames(engine_at_0005, raw_launches=True).load(now=at(3), days=5)
    assert len(data.launches) == 6  # the 0 s one too: daily_launches leaves it out
    expected = daily_launches(data.launches)
    assert len(expected) == 4
    with engine_at_0005.connect() as conn:
        stored = launch_daily.read_rows(conn, from_day=0)
        state = launch_daily.read_state(conn)
    assert len(stored) == len(expected)
    assert_same_rows(
        daily_of(SqlFleetFrames(engine_at_0005, raw_launches=False).load(now=at(3), days=5)),
        expected,
    )
    # Day 0 may have been cut short by retention before: only later days are recomputed.
    assert state == launch_daily.DailyState(
        sequence=1, raw_from_day=DAY0_NUMBER + 1, kept_from_day=0
    )


def test_an_empty_database_upgrades_to_no_rows_and_no_horizon(
    backend: str, databases: Databases, tmp_path: Path
) -> None:
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    try:
        upgrade(engine, "0006")
        with engine.connect() as conn:
            assert len(launch_daily.read_rows(conn, from_day=0)) == 0
            assert launch_daily.read_state(conn) == launch_daily.DailyState(sequence=1)
    finally:
        engine.dispose()


def test_the_downgrade_drops_the_daily_rows_and_keeps_the_raw_launches(
    engine_at_0005: sa.Engine,
) -> None:
    upgrade(engine_at_0005, "0006")

    downgrade(engine_at_0005, "0005")

    assert current_revision(engine_at_0005) == "0005"
    assert not DAILY_TABLES & table_names(engine_at_0005)
    with engine_at_0005.connect() as conn:
        indexes = {index["name"] for index in sa.inspect(conn).get_indexes("launches")}
        kept = conn.execute(sa.text("SELECT count(*) FROM launches")).scalar_one()
    assert "ix_launches_batch_id" not in indexes
    assert kept == len(LAUNCHES)
    upgrade(engine_at_0005, "0006")
    assert table_names(engine_at_0005) >= DAILY_TABLES
