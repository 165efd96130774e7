"""The daily launch rollups on SQLite and PostgreSQL: written by the rollup from raw launches,
rewritten whole by late batches, left alone past the raw launches' retention, read by COPY."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from advisor.analysis.daily import daily_launches
from advisor.store import binary_copy, launch_daily
from advisor.store.analysis_data import SqlFleetFrames, Upkeep
from advisor.store.launch_daily import COLUMNS, DAILY_STATE, LAUNCH_DAILY, DailyState
from advisor.store.retention import RetentionPolicy
from advisor.store.sql import SqlStore
from tests.advisor.store.fleetbatches import launch
from tests.advisor.store.launchdays import (
    DAY0_NUMBER,
    TOLERANCE,
    Fleet,
    at,
    launches_on,
    rows_of,
)

KEEP_ALL = dict.fromkeys(
    (
        "launches_days",
        "summaries_days",
        "hourly_days",
        "daily_days",
        "launch_daily_days",
        "batches_days",
    ),
    0,
)

StoredKey = tuple[str, str, str, bool, int]


def stored(engine: sa.Engine) -> dict[StoredKey, dict[str, Any]]:
    """launch_daily's rows by (host, app, version, cold, day relative to DAY0)."""
    with engine.connect() as conn:
        hosts, apps, versions = launch_daily.read_names(conn)
        rows = conn.execute(sa.select(LAUNCH_DAILY)).mappings().all()
    return {
        (
            hosts[row["host"]],
            apps[row["app"]],
            versions[row["version"]],
            bool(row["cold"]),
            row["day"] - DAY0_NUMBER,
        ): dict(row)
        for row in rows
    }


def state(engine: sa.Engine) -> DailyState:
    with engine.connect() as conn:
        return launch_daily.read_state(conn)


def one_launch_a_day(fleet: Fleet, days: range) -> None:
    """host-a: one launch of 2 s at 09:00 of each day, delivered an hour later."""
    for day in days:
        fleet.send("host-a", launches_on(day, [2.0]), received_at=at(day, 10))


def test_a_rollup_writes_the_rows_daily_launches_computes_from_the_raw_launches(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    fleet = Fleet(store, "host-a", "host-b")
    fleet.send("host-a", launches_on(0, [1.0, 2.0, 4.0, 8.0]), received_at=at(0, 10))
    fleet.send(
        "host-a",
        [*launches_on(1, [0.5], app="inkscape", version=None), *launches_on(0, [16.0, 1.0])],
        received_at=at(1, 10),
    )
    fleet.send("host-b", launches_on(1, [3.0, 3.0, 6.0]), received_at=at(1, 10))

    done = upkeep.roll_up(now=at(2))

    assert (done.launch_days, done.launch_days_late) == (3, 0)
    raw = SqlFleetFrames(engine, raw_launches=True).load(now=at(2), days=3).launches
    expected = rows_of(daily_launches(raw))
    rows = stored(engine)
    assert done.launch_daily_rows == len(rows) == len(expected) == 5
    assert sorted(rows) == sorted(expected)
    for key, (count, figures) in expected.items():
        assert rows[key]["count"] == count
        got = np.array([rows[key][name] for name in launch_daily.FIGURES])
        np.testing.assert_allclose(got, figures, rtol=0, atol=TOLERANCE)
    # The unknown version is "", as in the frames.
    assert ("host-a", "inkscape", "", True, 1) in rows


def test_failed_launches_and_batches_without_launches_rewrite_no_host_day(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    fleet = Fleet(store, "host-a")
    fleet.send("host-a", [launch(at(0), 9.0, "2.10", outcome="timeout")], received_at=at(0, 10))
    fleet.send("host-a", [], received_at=at(0, 10))
    before = state(engine)

    done = upkeep.roll_up(now=at(1))

    assert (done.batches, done.launch_days, done.launch_daily_rows) == (2, 0, 0)
    assert stored(engine) == {}
    assert state(engine) == before


def test_a_late_batch_rewrites_the_whole_past_day_it_measured_and_no_other(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    fleet = Fleet(store, "host-a")
    one_launch_a_day(fleet, range(3))
    upkeep.roll_up(now=at(3))
    before = stored(engine)

    # A laptop back after three days delivers more launches of day 0.
    fleet.send("host-a", launches_on(0, [8.0, 8.0])[1:], received_at=at(3, 10))
    done = upkeep.roll_up(now=at(4))

    after = stored(engine)
    assert (done.launch_days, done.launch_daily_rows) == (1, 2)  # the whole host-day
    warm_day0 = ("host-a", "gimp", "2.10", False, 0)
    assert warm_day0 not in before
    assert after[warm_day0]["count"] == 1
    assert after[warm_day0]["median"] == pytest.approx(np.log(8.0), abs=TOLERANCE)
    cold_day0 = ("host-a", "gimp", "2.10", True, 0)
    assert after[cold_day0]["count"] == before[cold_day0]["count"] == 1
    assert after[cold_day0]["sequence"] > before[cold_day0]["sequence"]
    for day in (1, 2):
        key = ("host-a", "gimp", "2.10", True, day)
        assert after[key] == before[key]


def test_recomputing_a_host_day_again_gives_the_same_rows_bit_for_bit(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    fleet = Fleet(store, "host-a")
    fleet.send("host-a", launches_on(0, [1.0, 3.0, 3.5, 7.25, 2.0]), received_at=at(0, 10))
    upkeep.roll_up(now=at(1))
    before = stored(engine)

    with engine.begin() as conn:
        again = launch_daily.recompute(conn, {("host-a", DAY0_NUMBER), ("host-a", DAY0_NUMBER + 1)})

    after = stored(engine)
    assert (again.host_days, again.rows) == (2, 2)
    assert {key: {**row, "sequence": 0} for key, row in after.items()} == {
        key: {**row, "sequence": 0} for key, row in before.items()
    }


def test_a_late_batch_for_a_day_retention_has_cut_is_counted_and_leaves_the_day_as_it_was(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    fleet = Fleet(store, "host-a")
    one_launch_a_day(fleet, range(10))
    upkeep.roll_up(now=at(10))
    # Raw launches before day 6 at 12:00 go: day 6 is cut short, day 7 is the first whole day.
    upkeep.apply_retention(RetentionPolicy(**{**KEEP_ALL, "launches_days": 4}), now=at(10, 12))
    assert state(engine).raw_from_day == DAY0_NUMBER + 7

    fleet.send("host-a", [*launches_on(6, [4.0]), *launches_on(8, [4.0])], received_at=at(10, 13))
    done = upkeep.roll_up(now=at(11))

    assert (done.launch_days, done.launch_days_late) == (1, 1)
    rows = stored(engine)
    assert rows["host-a", "gimp", "2.10", True, 6]["count"] == 1
    assert rows["host-a", "gimp", "2.10", True, 8]["count"] == 2


def test_daily_rows_are_kept_for_launch_daily_days_after_their_raw_launches_are_gone(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine
) -> None:
    fleet = Fleet(store, "host-a")
    one_launch_a_day(fleet, range(10))
    upkeep.roll_up(now=at(10))

    raw_gone = upkeep.apply_retention(
        RetentionPolicy(**{**KEEP_ALL, "launches_days": 2}), now=at(10, 12)
    )
    assert (raw_gone["launches"], raw_gone["launch_daily"]) == (9, 0)
    assert sorted(key[4] for key in stored(engine)) == list(range(10))

    # Days that started more than 3 days before now go: days 0..7.
    daily_gone = upkeep.apply_retention(
        RetentionPolicy(**{**KEEP_ALL, "launch_daily_days": 3}), now=at(10, 12)
    )

    assert daily_gone["launch_daily"] == 8
    assert sorted(key[4] for key in stored(engine)) == [8, 9]
    assert state(engine).kept_from_day == DAY0_NUMBER + 8
    # A late batch for a day whose rows retention deleted does not bring the day back.
    fleet.send("host-a", launches_on(7, [1.0]), received_at=at(10, 13))
    assert upkeep.roll_up(now=at(11)).launch_days_late == 1
    assert sorted(key[4] for key in stored(engine)) == [8, 9]


def test_horizons_only_move_forward_and_sequences_only_grow(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(DAILY_STATE.delete())  # as after TRUNCATE: no state row
        first = launch_daily.take_sequence(conn)
        launch_daily.raise_horizons(conn, raw_from_day=20, kept_from_day=None)
        launch_daily.raise_horizons(conn, raw_from_day=10, kept_from_day=5)
        second = launch_daily.take_sequence(conn)
    with engine.begin() as conn:
        conn.execute(DAILY_STATE.delete())
        restarted = launch_daily.take_sequence(conn)

    assert first == DailyState(sequence=1, raw_from_day=0, kept_from_day=0)
    assert second == DailyState(sequence=2, raw_from_day=20, kept_from_day=5)
    assert second.recompute_from_day == 20
    assert restarted.sequence == 1


@pytest.mark.parametrize("block_bytes", [150, 1000, 8 << 20])
def test_rows_read_in_blocks_of_any_size_are_the_rows_a_select_returns(
    upkeep: Upkeep,
    store: SqlStore,
    engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
    block_bytes: int,
) -> None:
    fleet = Fleet(store, "host-a", "host-b")
    for day in range(4):
        for host in ("host-a", "host-b"):
            fleet.send(host, launches_on(day, [1.0, 2.0, 2.5]), received_at=at(day, 10))
        fleet.send("host-a", launches_on(day, [0.75], app="inkscape"), received_at=at(day, 10))
        upkeep.roll_up(now=at(day, 11))
    monkeypatch.setattr(binary_copy, "BLOCK_BYTES", block_bytes)

    with engine.connect() as conn:
        every = launch_daily.read_rows(conn, from_day=0)
        window = launch_daily.read_rows(
            conn, from_day=DAY0_NUMBER + 1, to_day=DAY0_NUMBER + 2, after_sequence=1
        )
        expected = conn.execute(
            sa.select(*(LAUNCH_DAILY.c[name] for name in COLUMNS), LAUNCH_DAILY.c.sequence)
        ).all()

    def as_tuples(rows: launch_daily.StoredRows) -> list[tuple[Any, ...]]:
        return sorted(zip(*(getattr(rows, name).tolist() for name in COLUMNS), strict=True))

    assert len(every) == len(expected) == 4 * 5
    assert as_tuples(every) == sorted(tuple(row[:-1]) for row in expected)
    assert as_tuples(window) == sorted(
        tuple(row[:-1])
        for row in expected
        if DAY0_NUMBER + 1 <= row[1] <= DAY0_NUMBER + 2 and row[-1] > 1
    )
    assert every.host.dtype == np.int32
    assert every.cold.dtype == np.bool_
    assert every.median.dtype == np.float64
