"""Launches on known host-days, and daily rows compared by name, for the launch_daily tests.

A launch's day is relative to ``DAY0`` (2025-11-24, UTC day 20416); load times are powers of
two, so log-figures are exact multiples of log 2 and tests compare them with a tolerance
well above daily_launches' packing precision and well below any real difference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from advisor.analysis.daily import DailyLaunches
from advisor.analysis.frames import FleetData
from advisor.store.sql import SqlStore
from agent.shared.wire import LaunchEvent
from tests.advisor.store.fleetbatches import DAY, DAY0, HOUR, batch, enrol, launch

DAY0_NUMBER = int(DAY0 // DAY)
TOLERANCE = 1e-9
FIGURES = ("median", "p10", "p25", "p75", "p90", "log_mean", "log_var")

RowKey = tuple[str, str, str, bool, int]
"""(host id, app, version, cold, day relative to DAY0)."""


def at(day: int, hour: float = 9.0) -> float:
    """A time on ``day`` (relative to DAY0) at ``hour``."""
    return DAY0 + day * DAY + hour * HOUR


def launches_on(
    day: int, seconds: Sequence[float], *, app: str = "gimp", version: str | None = "2.10"
) -> list[LaunchEvent]:
    """One successful warm launch per load time, a minute apart from 09:00 on ``day``."""
    return [
        launch(at(day) + 60.0 * i, s, version, app=app, kind="cold" if i == 0 else "warm")
        for i, s in enumerate(seconds)
    ]


class Fleet:
    """Hosts enrolled in one department, and batches numbered per host."""

    def __init__(self, store: SqlStore, *hosts: str) -> None:
        self.store = store
        self.sequence = dict.fromkeys(hosts, 0)
        for host in hosts:
            enrol(store, "it", host)

    def send(self, host: str, launches: Sequence[LaunchEvent], *, received_at: float) -> None:
        """A batch of ``host`` carrying ``launches``, received at ``received_at``."""
        self.sequence[host] += 1
        self.store.ingest(
            host,
            batch(host, self.sequence[host], launches=launches),
            received_at=received_at,
            sent_at=None,
        )


def rows_of(daily: DailyLaunches) -> dict[RowKey, tuple[int, npt.NDArray[np.float64]]]:
    """Each row's (count, figures) by its names."""
    found: dict[RowKey, tuple[int, npt.NDArray[np.float64]]] = {}
    for i in range(len(daily)):
        key = (
            daily.hosts.host_id[daily.host[i]],
            daily.apps[daily.app[i]],
            daily.versions[daily.version[i]],
            bool(daily.cold[i]),
            int(daily.day[i]) - DAY0_NUMBER,
        )
        found[key] = (
            int(daily.count[i]),
            np.array([float(getattr(daily, name)[i]) for name in FIGURES]),
        )
    return found


def assert_same_rows(got: DailyLaunches, expected: DailyLaunches) -> None:
    """The same rows by name: keys and counts exactly, figures to :data:`TOLERANCE`."""
    got_rows, expected_rows = rows_of(got), rows_of(expected)
    assert sorted(got_rows) == sorted(expected_rows)
    for key, (count, figures) in expected_rows.items():
        assert got_rows[key][0] == count, key
        np.testing.assert_allclose(got_rows[key][1], figures, rtol=0, atol=TOLERANCE)


def assert_identical(got: DailyLaunches, expected: DailyLaunches) -> None:
    """Bit for bit the same rows, in the same order, with the same names."""
    assert got.hosts.host_id == expected.hosts.host_id
    assert (got.apps, got.versions) == (expected.apps, expected.versions)
    for name in ("host", "app", "version", "cold", "day", "count", *FIGURES):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)


def daily_of(data: FleetData) -> DailyLaunches:
    """The loaded daily rows (a store always gives them)."""
    assert data.daily is not None
    return data.daily
