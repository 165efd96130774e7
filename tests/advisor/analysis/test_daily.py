"""Daily launch rows hold what a per-group computation of the same launches gives."""

from __future__ import annotations

import numpy as np

from advisor.analysis.daily import DailyLaunches, daily_launches, daily_of
from advisor.analysis.frames import (
    FleetData,
    HostTable,
    LaunchFrame,
    PressureFrame,
    VersionChanges,
)

DAY = 86400.0


def random_frame(seed: int, n: int = 5000) -> LaunchFrame:
    rng = np.random.default_rng(seed)
    hosts = HostTable(
        ["a", "b", "c"],
        ["it", "it", "hr"],
        np.array([4e9, 8e9, 16e9]),
        np.array([True, False, False]),
        np.array([2.0, 4.0, 8.0]),
    )
    duration = np.exp(rng.normal(0.5, 0.4, n))
    duration[:7] = [np.nan, 0.0, -1.0, np.inf, 1.0, 2.0, 3.0]
    return LaunchFrame(
        hosts,
        ["gimp", "evince"],
        ["", "1.0", "2.0"],
        rng.integers(0, 3, n).astype(np.int32),
        rng.integers(0, 2, n).astype(np.int32),
        rng.integers(0, 3, n).astype(np.int32),
        np.zeros(n, np.int32),
        1_756_684_800.0 + rng.uniform(0, 20 * DAY, n),
        duration,
        rng.random(n) < 0.3,
    )


def test_each_row_holds_the_count_quantiles_and_moments_of_its_launches() -> None:
    frame = random_frame(1)
    daily = daily_launches(frame)
    ok = np.isfinite(frame.duration) & (frame.duration > 0)
    day = np.floor(frame.started_at / DAY).astype(np.int64)
    assert daily.launches == int(ok.sum())
    for i in range(0, len(daily), 7):
        mine = (
            ok
            & (frame.host == daily.host[i])
            & (frame.app == daily.app[i])
            & (frame.version == daily.version[i])
            & (frame.cold == daily.cold[i])
            & (day == daily.day[i])
        )
        logs = np.log(frame.duration[mine])
        assert daily.count[i] == logs.size
        expected = np.quantile(logs, [0.1, 0.25, 0.5, 0.75, 0.9])
        got = [daily.p10[i], daily.p25[i], daily.median[i], daily.p75[i], daily.p90[i]]
        np.testing.assert_allclose(got, expected, atol=1e-4)
        np.testing.assert_allclose(daily.log_mean[i], logs.mean(), atol=1e-9)
        variance = logs.var(ddof=1) if logs.size > 1 else 0.0
        np.testing.assert_allclose(daily.log_var[i], variance, atol=1e-9)


def test_rows_are_unique_per_host_app_version_start_kind_and_day() -> None:
    daily = daily_launches(random_frame(2))
    keys = set(
        zip(
            daily.host.tolist(),
            daily.app.tolist(),
            daily.version.tolist(),
            daily.cold.tolist(),
            daily.day.tolist(),
            strict=True,
        )
    )
    assert len(keys) == len(daily)


def test_no_launches_give_no_rows() -> None:
    frame = random_frame(3, n=7)
    none = np.empty(0, np.int32)
    empty = LaunchFrame(
        frame.hosts,
        frame.apps,
        frame.versions,
        none,
        none,
        none,
        none,
        np.empty(0),
        np.empty(0),
        np.empty(0, bool),
    )
    assert len(daily_launches(empty)) == 0


def test_fleet_data_uses_the_producers_rows_when_it_gives_them() -> None:
    frame = random_frame(4)
    pressure = PressureFrame(*(np.empty(0) for _ in range(7)))  # type: ignore[arg-type]
    changes = VersionChanges(*(np.empty(0) for _ in range(5)))  # type: ignore[arg-type]
    given = daily_launches(random_frame(5))
    assert daily_of(FleetData(frame, pressure, changes, daily=given)) is given
    derived = daily_of(FleetData(frame, pressure, changes))
    assert isinstance(derived, DailyLaunches)
    assert derived.launches == daily_launches(frame).launches
