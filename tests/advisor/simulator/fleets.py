"""Small simulated fleets shared by the simulator's tests (built once per session)."""

from __future__ import annotations

import dataclasses
import functools
import statistics
from collections import defaultdict
from collections.abc import Iterable

from advisor.analysis.frames import LaunchFrame
from advisor.simulator import Delivery, Fleet, default_scenario, plan_fleet, simulate
from advisor.simulator.scenario import (
    App,
    Department,
    DiskFill,
    MemoryPressure,
    Realism,
    Reinstall,
    Scenario,
    SlowTrend,
    Tier,
    VersionRollout,
)
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


# A fleet with chained and bad rollouts and one ramp of each kind, every machine always on
# (each upgrades on schedule) and no failed launches: the counterfactual's test bed.
LIBREOFFICE = ("4:26.2.2-1", "4:26.2.3-1", "4:26.2.5-1")
FIX = 1 / 1.35 - 1  # 26.2.3 -> 26.2.5 undoes 26.2.2 -> 26.2.3's +35 %
THUNDERBIRD = ("1:140.2.0esr-1", "1:140.4.0esr-1")
CHAINS = Scenario(
    name="chains",
    apps=(
        App("libreoffice", "libreoffice-core", LIBREOFFICE[0], 2.2, 6.0, cold_factor=2.2),
        App("thunderbird", "thunderbird", THUNDERBIRD[0], 1.8, 4.0),
        App("firefox", "firefox-esr", "140.3.0esr-1~deb12u1", 1.4, 4.0),
        App("evince", "evince", "43.1-2+b1", 0.6, 3.0, cold_factor=1.8),
    ),
    departments=(Department("pilot", 0.2), Department("office", 0.8)),
    tiers=(
        Tier("old-hdd-4g", 0.3, "hdd", 4, "low"),
        Tier("office-ssd-8g", 0.4, "ssd", 8, "mid"),
        Tier("standard-ssd-16g", 0.3, "ssd", 16, "mid"),
    ),
    rollouts=(
        VersionRollout(
            "libreoffice-26.2.3", "libreoffice", LIBREOFFICE[1], 0.2, 0.05, 0.35, share=0.7
        ),
        VersionRollout(
            "libreoffice-26.2.5-pilot",
            "libreoffice",
            LIBREOFFICE[2],
            0.45,
            0.02,
            FIX,
            share=0.3,
            from_version=LIBREOFFICE[1],
        ),
        VersionRollout(
            "libreoffice-26.2.5",
            "libreoffice",
            LIBREOFFICE[2],
            0.75,
            0.05,
            FIX,
            from_version=LIBREOFFICE[1],
        ),
        VersionRollout(
            "thunderbird-140.4-pilot",
            "thunderbird",
            THUNDERBIRD[1],
            0.3,
            0.05,
            0.0,
            departments=("pilot",),
        ),
        VersionRollout(
            "thunderbird-140.4",
            "thunderbird",
            THUNDERBIRD[1],
            0.6,
            0.05,
            0.3,
            share=0.8,
            from_version=THUNDERBIRD[0],
        ),
    ),
    memory_pressure=(
        MemoryPressure("firefox-memory", 0.05, 0.1, 0.5, max_memory_gb=8, apps=("firefox",)),
    ),
    disk_fills=(DiskFill("hdd-filling", 0.05, 0.1, 0.4, share=1.0),),
    trends=(SlowTrend("evince-index", "evince", 0.05, 0.3),),
    reinstalls=(Reinstall("reinstalled", at=0.5),),
    realism=Realism(
        always_on_share=1.0,
        failed_launch_rate=0.0,
        agent_offline_share=0.0,
        powered_off_share=0.0,
        skewed_clock_share=0.0,
        badly_skewed_share=0.0,
    ),
)


def chain_fleet(*, noise: bool = True, seed: int = 3, days: float = 40.0) -> Fleet:
    """A fresh plan of :data:`CHAINS` on 40 hosts; without ``noise`` every launch takes
    exactly its median (the apps' sigma is 0)."""
    scenario = CHAINS
    if not noise:
        apps = tuple(dataclasses.replace(app, sigma=0.0) for app in CHAINS.apps)
        scenario = dataclasses.replace(CHAINS, apps=apps)
    return plan_fleet(scenario, hosts=40, days=days, seed=seed, start=MONDAY, interval=3600.0)
