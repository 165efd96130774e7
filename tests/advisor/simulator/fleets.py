"""Small simulated fleets shared by the simulator's tests (built once per session)."""

from __future__ import annotations

import functools

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
