"""The frames loader on SQLite and PostgreSQL: codes, counts, version changes and pressure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.analysis.frames import METHODS, FleetData
from advisor.store.analysis_data import FleetFrames
from advisor.store.frames import hardware_figures
from advisor.store.sql import SqlStore
from tests.advisor.store.fleetbatches import DAY, DAY0, HOUR, NEW_VERSION, NOW, OLD_VERSION
from tests.advisor.store.fleetbatches import write_fleet as write_small_fleet


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
    assert len(data.launches.hosts) == 0


def test_unknown_hardware_is_nan_and_not_rotational() -> None:
    ram, rotational, cores = hardware_figures({"memory_bytes": None, "disks": []})

    assert math.isnan(ram)
    assert math.isnan(cores)
    assert rotational is False
