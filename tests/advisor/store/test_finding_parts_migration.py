"""Migration 0008 (findings by part): existing runs are whole-fleet runs, existing history
points learn the runs that missed their finding since the point before; the downgrade drops
the new columns and keeps every row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.store.engine import make_engine
from advisor.store.findings import SqlFindings
from advisor.store.migrate import current_revision, downgrade, upgrade
from tests.advisor.conftest import Databases
from tests.advisor.store.findingsdata import (
    DAY,
    T0,
    finding,
    insert_as_before_0007,
    insert_run_as_before_0007,
    weak,
)

CALC = finding()
GIMP = weak(finding("trend", "gimp", {}, cause="unknown", effect=0.3))
WRITER = finding("trend", "writer", {}, cause="unknown", effect=0.9)
NEW_RUN_COLUMNS = {"part", "apps", "findings_expired"}

_POINTS = sa.table(
    "finding_history",
    *(
        sa.column(name)
        for name in (
            "finding_key",
            "run_id",
            "detected_at",
            "host_count",
            "cause",
            "effect_estimate",
        )
    ),
)
_FINDINGS = sa.table(
    "findings",
    *(
        sa.column(name)
        for name in ("key", "status", "last_detected_at", "opened_at", "runs_seen", "missed_runs")
    ),
)


def point(key: str, run_id: int | None, run: int) -> dict[str, object]:
    return {
        "finding_key": key,
        "run_id": run_id,
        "detected_at": T0 + run * DAY,
        "host_count": 2,
        "cause": "version",
        "effect_estimate": 0.25,
    }


@pytest.fixture
def engine_at_0007(backend: str, databases: Databases, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database at 0007 after five daily whole-fleet runs: CALC open, found by runs 1, 2
    and 4; WRITER open, with a point of unknown run (0007's backfill) and one by run 3; GIMP
    a candidate found by run 5."""
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    upgrade(engine, "0007")
    with engine.begin() as conn:
        runs = [insert_run_as_before_0007(conn, T0 + i * DAY) for i in range(5)]
        insert_as_before_0007(conn, CALC, run_id=runs[3])
        insert_as_before_0007(conn, WRITER, run_id=runs[2])
        insert_as_before_0007(conn, GIMP, run_id=runs[4], status="candidate")
        # In run order, the findings' points interleaved as the runs wrote them.
        conn.execute(
            _POINTS.insert(),
            [
                point(CALC.key, runs[0], 0),
                point(WRITER.key, None, 0),
                point(CALC.key, runs[1], 1),
                point(WRITER.key, runs[2], 2),
                point(CALC.key, runs[3], 3),
                point(GIMP.key, runs[4], 4),
            ],
        )
        for key, last, seen, missed in (
            (CALC.key, 3, 3, 1),
            (WRITER.key, 2, 2, 2),
            (GIMP.key, 4, 1, 0),
        ):
            conn.execute(
                _FINDINGS.update()
                .where(_FINDINGS.c.key == key)
                .values(last_detected_at=T0 + last * DAY, runs_seen=seen, missed_runs=missed)
            )
    try:
        yield engine
    finally:
        engine.dispose()


def columns(engine: sa.Engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def test_existing_runs_are_whole_fleet_runs_and_points_count_the_runs_between_them(
    engine_at_0007: sa.Engine,
) -> None:
    upgrade(engine_at_0007, "0008")

    assert current_revision(engine_at_0007) == "0008"
    findings = SqlFindings(engine_at_0007)
    runs = findings.last_runs()
    assert [(r.part, r.apps, r.expired) for r in runs] == [(None, None, 0)] * 5
    with engine_at_0007.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM analysis_runs WHERE apps IS NULL")
            ).scalar_one()
            == 5
        )
    assert [p.missed_before for p in findings.history(CALC.key).points] == [None, 0, 1]
    assert [p.missed_before for p in findings.history(WRITER.key).points] == [None, None]
    assert [p.missed_before for p in findings.history(GIMP.key).points] == [None]


def test_after_the_upgrade_parts_carry_the_lifecycle_on(engine_at_0007: sa.Engine) -> None:
    upgrade(engine_at_0007, "0008")
    findings = SqlFindings(engine_at_0007)

    calc = findings.record_run([CALC], now=T0 + 5 * DAY, apps=["libreoffice"])
    gimp = findings.record_run([GIMP], now=T0 + 5 * DAY, apps=["gimp"])

    assert (calc.updated, calc.part) == (1, "libreoffice")
    assert [p.missed_before for p in findings.history(CALC.key).points] == [None, 0, 1, 1]
    # Found by the last whole-fleet run and by its part's first: 2 of 3, opened.
    assert (gimp.new, gimp.pending) == (1, 0)
    writer = findings.get(WRITER.key)
    assert writer is not None
    assert writer.missed_runs == 2  # neither part analysed writer


def test_the_downgrade_drops_the_new_columns_and_keeps_the_rows(
    engine_at_0007: sa.Engine,
) -> None:
    upgrade(engine_at_0007, "0008")
    SqlFindings(engine_at_0007).record_run([CALC], now=T0 + 5 * DAY, apps=["libreoffice"])

    downgrade(engine_at_0007, "0007")

    assert current_revision(engine_at_0007) == "0007"
    assert not NEW_RUN_COLUMNS & columns(engine_at_0007, "analysis_runs")
    assert "missed_before" not in columns(engine_at_0007, "finding_history")
    with engine_at_0007.connect() as conn:
        counts = [
            conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()
            for table in ("analysis_runs", "finding_history", "findings")
        ]
    assert counts == [6, 7, 3]

    upgrade(engine_at_0007)

    # Every run is taken for a whole-fleet run again: the part's run 6 follows run 5.
    points = SqlFindings(engine_at_0007).history(CALC.key).points
    assert [p.missed_before for p in points] == [None, 0, 1, 1]
