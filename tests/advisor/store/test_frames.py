"""The frames loader on SQLite and PostgreSQL: codes, counts, daily launch rows (rolled up or
not, late, past retention, loaded incrementally), version changes and pressure."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from advisor.analysis.daily import DailyLaunches, daily_launches
from advisor.analysis.frames import METHODS, FleetData
from advisor.store import launch_daily
from advisor.store.analysis_data import FleetFrames, SqlFleetFrames, Upkeep
from advisor.store.frames import hardware_figures
from advisor.store.models import DAILY
from advisor.store.retention import RetentionPolicy
from advisor.store.sql import SqlStore
from tests.advisor.store.fleetbatches import (
    DAY,
    DAY0,
    HOUR,
    NEW_VERSION,
    NOW,
    OLD_VERSION,
    enrol,
)
from tests.advisor.store.fleetbatches import write_fleet as write_small_fleet
from tests.advisor.store.launchdays import (
    Fleet,
    assert_identical,
    assert_same_rows,
    at,
    daily_of,
    launches_on,
    rows_of,
)


@pytest.fixture
def data(frames: FleetFrames, store: SqlStore) -> FleetData:
    write_small_fleet(store)
    return frames.load(now=NOW)


def test_hosts_carry_department_ram_cores_and_the_system_disk_kind(data: FleetData) -> None:
    hosts = data.launches.hosts

    assert hosts.host_id == ["fin-1", "hr-1"]
    assert hosts.department == ["finance", "hr"]
    assert hosts.ram_bytes.tolist() == [8 * 2**30, 16 * 2**30]
    assert hosts.cpu_cores.tolist() == [4.0, 8.0]
    # hr-1's first disk of known kind is its NVMe SSD, not the HDD after it.
    assert hosts.disk_rotational.tolist() == [True, False]


def test_only_successful_launches_of_the_window_are_loaded_with_their_codes(
    data: FleetData,
) -> None:
    frame = data.launches

    assert frame.apps == ["firefox", "libreoffice"]
    assert frame.versions == ["", OLD_VERSION, NEW_VERSION]
    assert len(frame) == 5 + 1
    rows = [
        (
            frame.hosts.host_id[frame.host[i]],
            frame.apps[frame.app[i]],
            frame.versions[frame.version[i]],
            METHODS[frame.method[i]],
            bool(frame.cold[i]),
            float(frame.started_at[i]),
            float(frame.duration[i]),
        )
        for i in range(len(frame))
    ]
    assert rows == [
        ("fin-1", "libreoffice", OLD_VERSION, "passive", True, DAY0 + HOUR, 2.0),
        ("fin-1", "libreoffice", OLD_VERSION, "passive", False, DAY0 + 2 * HOUR, 1.5),
        ("hr-1", "firefox", "", "reported", False, DAY0 + 5 * HOUR, 0.75),
        ("fin-1", "libreoffice", NEW_VERSION, "passive", True, DAY0 + 2 * DAY + HOUR, 3.0),
        ("fin-1", "libreoffice", NEW_VERSION, "passive", False, DAY0 + 2 * DAY + 2 * HOUR, 2.5),
        ("fin-1", "libreoffice", NEW_VERSION, "probe", False, DAY0 + 2 * DAY + 3 * HOUR, 0.25),
    ]
    assert frame.host.dtype == np.int32
    assert frame.duration.dtype == np.float64


def test_a_version_change_is_dated_by_the_inventory_that_first_showed_it(
    data: FleetData,
) -> None:
    changes = data.changes
    versions = data.launches.versions

    assert len(changes) == 1
    assert data.launches.hosts.host_id[changes.host[0]] == "fin-1"
    assert data.launches.apps[changes.app[0]] == "libreoffice"
    assert changes.at.tolist() == [DAY0 + 2 * DAY]
    assert (versions[changes.from_version[0]], versions[changes.to_version[0]]) == (
        OLD_VERSION,
        NEW_VERSION,
    )


def test_daily_pressure_joins_rollups_and_summaries_not_rolled_up_yet(data: FleetData) -> None:
    pressure = data.pressure
    rows = {
        (data.launches.hosts.host_id[h], float(d)): i
        for i, (h, d) in enumerate(zip(pressure.host, pressure.day, strict=True))
    }

    assert sorted(rows) == [("fin-1", DAY0), ("fin-1", DAY0 + DAY), ("hr-1", DAY0)]
    fin_day0, fin_day1, hr_day0 = (
        rows["fin-1", DAY0],
        rows["fin-1", DAY0 + DAY],
        rows["hr-1", DAY0],
    )
    # Rolled up 0.125, 0.25, 0.5 and a late 0.375 not rolled up yet: each counted once.
    assert pressure.memory_pressure[fin_day0] == (0.125 + 0.25 + 0.5 + 0.375) / 4
    assert pressure.memory_pressure[fin_day1] == 0.0625
    # The root filesystem's maximum; /home (0.875) is another filesystem.
    assert pressure.disk_used_ratio[fin_day0] == 0.625
    assert pressure.disk_used_ratio[fin_day1] == 0.75
    assert pressure.swap_in_bytes_per_second[hr_day0] == 1536.0
    assert math.isnan(pressure.memory_pressure[hr_day0])
    assert math.isnan(pressure.swap_in_bytes_per_second[fin_day0])
    assert np.isnan(pressure.io_pressure).all()
    assert np.isnan(pressure.cpu_pressure).all()


def test_a_short_window_leaves_older_launches_and_changes_out(
    frames: FleetFrames, store: SqlStore
) -> None:
    write_small_fleet(store)

    data = frames.load(now=DAY0 + 2 * DAY + 2.5 * HOUR, days=1)

    assert data.launches.started_at.tolist() == [DAY0 + 2 * DAY + HOUR, DAY0 + 2 * DAY + 2 * HOUR]
    assert data.changes.at.tolist() == [DAY0 + 2 * DAY]
    assert data.pressure.day.tolist() == [DAY0 + DAY]
    later = frames.load(now=NOW, days=1)
    assert (len(later.launches), len(later.changes), len(later.pressure)) == (0, 0, 0)
    assert later.launches.versions == [""]


def test_an_empty_store_gives_empty_frames(frames: FleetFrames, store: SqlStore) -> None:
    data = frames.load(now=NOW)

    assert (len(data.launches), len(data.changes), len(data.pressure)) == (0, 0, 0)
    assert len(daily_of(data)) == 0
    assert len(data.launches.hosts) == 0


def test_unknown_hardware_is_nan_and_not_rotational() -> None:
    ram, rotational, cores = hardware_figures({"memory_bytes": None, "disks": []})

    assert math.isnan(ram)
    assert math.isnan(cores)
    assert rotational is False


# -- daily launch rows ----------------------------------------------------------------------


def test_daily_rows_are_those_of_the_stored_launches_whether_rolled_up_or_not(
    data: FleetData,
) -> None:
    # fin-1's batch of day 2 is not rolled up: its host-day is computed from raw launches.
    assert_same_rows(daily_of(data), daily_launches(data.launches))
    assert (daily_of(data).apps, daily_of(data).versions) == (
        data.launches.apps,
        data.launches.versions,
    )
    assert daily_of(data).hosts is data.launches.hosts


def test_loading_before_the_rollup_gives_the_rows_loading_after_it_gives(
    frames: FleetFrames, upkeep: Upkeep, store: SqlStore
) -> None:
    fleet = Fleet(store, "host-a", "host-b")
    fleet.send("host-a", launches_on(0, [1.0, 2.0, 4.0]), received_at=at(0, 10))
    upkeep.roll_up(now=at(0, 11))
    fleet.send("host-a", launches_on(0, [0.5, 8.0], app="inkscape"), received_at=at(1, 10))
    fleet.send("host-b", launches_on(1, [3.0, 6.0], version=None), received_at=at(1, 10))

    before = frames.load(now=at(2), days=3)
    upkeep.roll_up(now=at(2))
    after = frames.load(now=at(2), days=3)

    assert len(daily_of(before)) == 6
    assert_same_rows(daily_of(after), daily_of(before))
    assert after.launches.hosts.host_id == before.launches.hosts.host_id


def test_a_late_batch_updates_an_old_day(
    frames: FleetFrames, upkeep: Upkeep, store: SqlStore
) -> None:
    fleet = Fleet(store, "host-a")
    for day in range(5):
        fleet.send("host-a", launches_on(day, [2.0]), received_at=at(day, 10))
    upkeep.roll_up(now=at(5))
    first = rows_of(daily_of(frames.load(now=at(5), days=10)))

    fleet.send("host-a", launches_on(1, [4.0, 8.0])[1:], received_at=at(5, 10))
    pending = rows_of(daily_of(frames.load(now=at(5, 11), days=10)))
    upkeep.roll_up(now=at(5, 12))
    rolled = rows_of(daily_of(frames.load(now=at(5, 12), days=10)))

    warm_day1 = ("host-a", "gimp", "2.10", False, 1)
    assert warm_day1 not in first
    assert pending[warm_day1][0] == rolled[warm_day1][0] == 1
    assert sorted(rolled) == sorted([*first, warm_day1])


def test_daily_rows_outlive_raw_launches_until_their_own_retention(
    frames: FleetFrames, upkeep: Upkeep, store: SqlStore
) -> None:
    fleet = Fleet(store, "host-a")
    for day in range(10):
        fleet.send("host-a", launches_on(day, [2.0]), received_at=at(day, 10))
    upkeep.roll_up(now=at(10))
    now = at(10, 12)

    upkeep.apply_retention(RetentionPolicy(launches_days=3, launch_daily_days=0), now=now)
    raw_gone = frames.load(now=now, days=30)
    upkeep.apply_retention(RetentionPolicy(launches_days=3, launch_daily_days=5), now=now)
    daily_gone = frames.load(now=now, days=30)

    assert sorted(key[4] for key in rows_of(daily_of(raw_gone))) == list(range(10))
    assert len(raw_gone.launches) == 2  # days 8 and 9
    assert sorted(key[4] for key in rows_of(daily_of(daily_gone))) == [6, 7, 8, 9]


def test_the_window_is_the_whole_utc_days_it_touches(
    frames: FleetFrames, upkeep: Upkeep, store: SqlStore
) -> None:
    fleet = Fleet(store, "host-a")
    for day in range(4):
        fleet.send("host-a", launches_on(day, [2.0]), received_at=at(day, 10))
    upkeep.roll_up(now=at(4))

    # From day 1 at 08:00 to day 2 at 08:00: days 1 and 2, whole, with their 09:00 launches.
    data = frames.load(now=at(2, 8), days=1)

    assert sorted(key[4] for key in rows_of(daily_of(data))) == [1, 2]
    assert data.launches.started_at.tolist() == [at(1)]


def test_without_raw_launches_the_launch_frame_is_empty_with_the_daily_names(
    store: SqlStore, engine: sa.Engine
) -> None:
    write_small_fleet(store)

    with_raw = SqlFleetFrames(engine, raw_launches=True).load(now=NOW)
    daily_only = SqlFleetFrames(engine, raw_launches=False).load(now=NOW)

    assert len(daily_only.launches) == 0
    assert daily_only.launches.hosts.host_id == with_raw.launches.hosts.host_id
    assert (daily_only.launches.apps, daily_only.launches.versions) == (
        with_raw.launches.apps,
        with_raw.launches.versions,
    )
    assert_identical(daily_of(daily_only), daily_of(with_raw))
    assert daily_only.changes.at.tolist() == with_raw.changes.at.tolist()


def test_an_incremental_load_equals_a_fresh_load_after_ingest_rollup_and_retention(
    upkeep: Upkeep, store: SqlStore, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    read_rows = launch_daily.read_rows

    def counted(conn: sa.Connection, **window: Any) -> launch_daily.StoredRows:
        rows = read_rows(conn, **window)
        reads.append(len(rows) if "after_sequence" in window else -1)
        return rows

    monkeypatch.setattr(launch_daily, "read_rows", counted)
    incremental = SqlFleetFrames(engine, raw_launches=False, incremental=True)
    fresh = SqlFleetFrames(engine, raw_launches=False)
    fleet = Fleet(store, "host-a", "host-b")

    def same(now: float, days: int = 20) -> DailyLaunches:
        got = daily_of(incremental.load(now=now, days=days))
        assert_identical(got, daily_of(fresh.load(now=now, days=days)))
        return got

    for day in range(6):
        fleet.send("host-a", launches_on(day, [1.0, 2.0]), received_at=at(day, 10))
        fleet.send("host-b", launches_on(day, [3.0], app="inkscape"), received_at=at(day, 10))
    assert len(same(at(6))) == 0 + 3 * 6  # nothing rolled up yet: all from raw launches
    upkeep.roll_up(now=at(6))
    same(at(6))
    # A late batch, pending, then rolled up; a new app on an old day; a new host.
    fleet.send("host-a", launches_on(2, [5.0], app="krita"), received_at=at(6, 10))
    same(at(6, 11))
    upkeep.roll_up(now=at(6, 12))
    same(at(6, 12))
    fleet.sequence["host-c"] = 0
    enrol(store, "it", "host-c")
    fleet.send("host-c", launches_on(6, [2.5]), received_at=at(6, 13))
    upkeep.roll_up(now=at(6, 14))
    same(at(6, 14))
    # Retention of raw launches, then of daily rows; the window moves on, then back.
    upkeep.apply_retention(RetentionPolicy(launches_days=2, launch_daily_days=0), now=at(7))
    same(at(7))
    upkeep.apply_retention(RetentionPolicy(launches_days=2, launch_daily_days=4), now=at(7))
    assert sorted({key[4] for key in rows_of(same(at(7)))}) == [4, 5, 6]
    same(at(9), days=3)
    same(at(9), days=30)
    # Only changed rows were read, where that was exact: the first rollup's, the late batch's
    # host-day, host-c's (the fresh loader's whole reads are -1).
    assert [n for n in reads if n >= 0] == [18, 3, 1]


def test_pressure_keeps_odd_host_ids_and_hosts_the_hosts_table_does_not_know(
    frames: FleetFrames, store: SqlStore, engine: sa.Engine
) -> None:
    odd = 'it "lab" \\ 7'
    enrol(store, "it", odd)
    with engine.begin() as conn:
        for host_id, value in ((odd, 0.25), ("gone-1", 0.5)):
            conn.execute(
                DAILY.insert(),
                {
                    "host_id": host_id,
                    "name": "pressure_memory_some_ratio",
                    "labels": "{}",
                    "bucket_start": DAY0,
                    "count": 4,
                    "sum": 4 * value,
                    "min": value,
                    "max": value,
                    "p50": value,
                    "p90": value,
                    "p99": value,
                    "updated_at": DAY0,
                },
            )

    data = frames.load(now=DAY0 + DAY, days=2)

    hosts = data.launches.hosts.host_id
    assert hosts == [odd, "gone-1"]  # enrolled ones first, then strangers
    pressure = data.pressure
    by_host = {hosts[h]: m for h, m in zip(pressure.host, pressure.memory_pressure, strict=True)}
    assert by_host == {odd: 0.25, "gone-1": 0.5}


def test_a_batch_for_a_day_retention_has_cut_is_left_out_with_a_note_as_the_rollup_will(
    frames: FleetFrames, upkeep: Upkeep, store: SqlStore
) -> None:
    fleet = Fleet(store, "host-a")
    for day in range(10):
        fleet.send("host-a", launches_on(day, [2.0]), received_at=at(day, 10))
    upkeep.roll_up(now=at(10))
    upkeep.apply_retention(RetentionPolicy(launches_days=4), now=at(10, 12))
    fleet.send("host-a", [*launches_on(6, [4.0]), *launches_on(8, [4.0])], received_at=at(10, 13))

    before = frames.load(now=at(11), days=30)
    upkeep.roll_up(now=at(11))
    after = frames.load(now=at(11), days=30)

    assert any("retention has started deleting" in note for note in before.notes)
    assert not any("retention has started deleting" in note for note in after.notes)
    counts = {key[4]: count for key, (count, _) in rows_of(daily_of(before)).items()}
    assert (counts[6], counts[8]) == (1, 2)
    assert_same_rows(daily_of(after), daily_of(before))


def test_rolling_up_again_recomputes_nothing(upkeep: Upkeep, store: SqlStore) -> None:
    fleet = Fleet(store, "host-a")
    fleet.send("host-a", launches_on(0, [1.0, 2.0]), received_at=at(0, 10))

    first = upkeep.roll_up(now=at(1))
    again = upkeep.roll_up(now=at(2))

    assert (first.launch_days, first.launch_daily_rows) == (1, 2)
    assert (again.batches, again.launch_days, again.launch_daily_rows) == (0, 0, 0)


def test_a_pending_host_day_after_every_stored_day_replaces_only_itself(
    frames: FleetFrames, upkeep: Upkeep, store: SqlStore
) -> None:
    fleet = Fleet(store, "host-a", "host-b")
    for day in (0, 1):
        for host in ("host-a", "host-b"):
            fleet.send(host, launches_on(day, [2.0]), received_at=at(day, 10))
    upkeep.roll_up(now=at(2))
    fleet.send("host-a", launches_on(2, [3.0]), received_at=at(2, 10))

    data = frames.load(now=at(3), days=5)

    assert len(daily_of(data)) == 5
    assert_same_rows(daily_of(data), daily_launches(data.launches))


def test_a_part_holds_its_apps_launches_and_changes_and_the_fleets_hosts_and_pressure(
    frames: FleetFrames, store: SqlStore
) -> None:
    write_small_fleet(store)
    whole = frames.load(now=NOW)

    office = frames.load(now=NOW, apps=["libreoffice"])
    browser = frames.load(now=NOW, apps=["firefox"])

    assert (daily_of(office).apps, daily_of(office).launches, len(office.changes)) == (
        ["libreoffice"],
        5,
        1,
    )
    assert (daily_of(browser).apps, daily_of(browser).launches, len(browser.changes)) == (
        ["firefox"],
        1,
        0,
    )
    for part in (office, browser):
        assert daily_of(part).hosts.host_id == daily_of(whole).hosts.host_id
        assert part.notes == whole.notes
        for column in ("host", "day", "memory_pressure", "swap_in_bytes_per_second"):
            np.testing.assert_array_equal(
                getattr(part.pressure, column), getattr(whole.pressure, column)
            )


def test_the_parts_daily_rows_together_are_the_whole_loads(
    frames: FleetFrames, store: SqlStore
) -> None:
    write_small_fleet(store)

    parts = [rows_of(daily_of(frames.load(now=NOW, apps=[app]))) for app in frames.apps(now=NOW)]

    together = {key: row for part in parts for key, row in part.items()}
    whole = rows_of(daily_of(frames.load(now=NOW)))
    assert sum(len(part) for part in parts) == len(together) == len(whole) == 5
    assert sorted(together) == sorted(whole)
    for key, (count, figures) in whole.items():
        assert together[key][0] == count
        np.testing.assert_allclose(together[key][1], figures, rtol=0, atol=1e-12)


def test_the_apps_of_a_window_are_those_with_launches_in_it_rolled_up_or_not(
    frames: FleetFrames, store: SqlStore
) -> None:
    write_small_fleet(store)

    # firefox only on day 0 (rolled up); libreoffice on day 0 and, not rolled up, day 2.
    assert frames.apps(now=NOW) == ["firefox", "libreoffice"]
    assert frames.apps(now=DAY0 + 2 * DAY + 5 * HOUR, days=1) == ["libreoffice"]
    assert frames.apps(now=DAY0 - 2 * DAY, days=1) == []
    assert frames.load(now=NOW, apps=["writer"]).daily is not None
    assert len(daily_of(frames.load(now=NOW, apps=["writer"]))) == 0


def test_the_parts_of_a_run_hold_each_app_once_grouped_as_their_rows_are_stored(
    frames: FleetFrames, store: SqlStore
) -> None:
    write_small_fleet(store)

    parts = frames.parts(now=NOW, also=["writer"])

    apps = sorted(app for part_apps in parts.values() for app in part_apps)
    assert apps == ["firefox", "libreoffice", "writer"]
    # writer has findings but no stored row: no partition yet.
    assert parts["other"] == ["writer"]
    assert all(name == "other" or (name[0] == "p" and 0 <= int(name[1:]) < 32) for name in parts)
    assert frames.parts(now=NOW) == {k: v for k, v in parts.items() if k != "other"}
    assert frames.parts(now=DAY0 - 2 * DAY, days=1) == {}


def test_loading_every_parts_apps_reads_the_whole_windows_rows(
    frames: FleetFrames, store: SqlStore
) -> None:
    write_small_fleet(store)

    loaded = [frames.load(now=NOW, apps=apps) for apps in frames.parts(now=NOW).values()]

    assert (
        sum(daily_of(part).launches for part in loaded) == daily_of(frames.load(now=NOW)).launches
    )
