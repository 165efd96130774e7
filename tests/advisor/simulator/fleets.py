"""Small simulated fleets shared by the simulator's tests (built once per session)."""

from __future__ import annotations

import functools
import statistics
from collections import defaultdict
from collections.abc import Iterable

from advisor.analysis.frames import LaunchFrame
from advisor.simulator import Delivery, Fleet, default_scenario, plan_fleet, simulate
from tests.conftest import REPO

MONDAY = 1_762_128_000.0  # 2025-11-03 00:00 UTC
OUTSIDE_FLEET = REPO / "config" / "scenarios" / "outside-fleet.toml"
OUTSIDE_START = 1_757_894_400.0  # 2025-09-15 00:00 UTC: its 8 weeks hold its holiday and DST


def small_fleet(seed: int = 1, hosts: int = 20, days: float = 3.0) -> Fleet:
    """A fresh plan (plans are mutable while built, so each caller gets its own)."""
    return plan_fleet(
        default_scenario(), hosts=hosts, days=days, seed=seed, start=MONDAY, interval=3600.0
    )


@functools.cache
def deliveries(seed: int = 1, hosts: int = 20, days: float = 3.0) -> tuple[Delivery, ...]:
    """Every delivery of :func:`small_fleet`, cached: several tests read the same run."""
    return tuple(simulate(small_fleet(seed, hosts, days)))


DurationKey = tuple[str, str | None, bool]
"""App, version and whether the start was cold."""


def batch_durations(run: Iterable[Delivery]) -> dict[DurationKey, list[float]]:
    """The successful launches' load times in a batch run, per app, version and start kind."""
    durations: dict[DurationKey, list[float]] = defaultdict(list)
    for d in run:
        for launch in d.batch.launches:
            if launch.outcome == "ok" and launch.duration_seconds is not None:
                key = (launch.app, launch.version, launch.start_kind == "cold")
                durations[key].append(launch.duration_seconds)
    return durations


def frame_durations(frame: LaunchFrame) -> dict[DurationKey, list[float]]:
    """:func:`batch_durations` of the columnar path's launches."""
    durations: dict[DurationKey, list[float]] = defaultdict(list)
    for a, v, cold, duration in zip(
        frame.app.tolist(),
        frame.version.tolist(),
        frame.cold.tolist(),
        frame.duration.tolist(),
        strict=True,
    ):
        durations[(frame.apps[a], frame.versions[v], cold)].append(duration)
    return durations


def compare_medians(
    batch: dict[DurationKey, list[float]],
    columnar: dict[DurationKey, list[float]],
    *,
    min_launches: int,
) -> int:
    """Assert that every key with at least ``min_launches`` batch launches has a columnar
    median within 10 % of the batch one; how many keys were compared."""
    compared = 0
    for key, durations in batch.items():
        if len(durations) < min_launches:
            continue
        ratio = statistics.median(columnar[key]) / statistics.median(durations)
        assert abs(ratio - 1) < 0.1, key
        compared += 1
    return compared
