"""Launch times: log-normal around the modelled median, heavy-tailed, cold slower than warm."""

from __future__ import annotations

import math
import statistics

import numpy as np

from advisor.simulator.calendar import DAY
from advisor.simulator.launches import Launch, launches_between
from advisor.simulator.loadtime import hardware_factor

from .fleets import MONDAY, small_fleet


def quiet_reference_host_launches(days: int) -> tuple[list[Launch], float]:
    """Launches of one noise-free, event-free SSD host of the default scenario (seed 11)."""
    fleet = small_fleet(seed=11, hosts=60, days=days)
    host = next(
        h
        for h in fleet.hosts
        if h.tier.disk == "ssd"
        and h.tier.memory_gb >= 16
        and h.noise_factor == 1.0
        and not h.ramps
        and not h.powered_off
    )
    for app in host.versions:
        del host.versions[app][1:]  # no rollouts either: a stationary series
    rng = np.random.default_rng(11)
    launches = launches_between(fleet, host, MONDAY, MONDAY + days * DAY, 3.0, rng)
    return launches, hardware_factor(host, cold=False)


def test_warm_launch_times_are_log_normal_around_the_modelled_median_with_a_heavy_tail() -> None:
    launches, hardware = quiet_reference_host_launches(days=120)
    warm = [x.duration for x in launches if x.app == "evince" and x.start_kind == "warm"]
    assert len(warm) > 300
    expected_median = 0.6 * hardware
    median = statistics.median(warm)
    assert abs(median / expected_median - 1) < 0.08
    logs = sorted(math.log(d / median) for d in warm)
    q = statistics.quantiles(logs, n=100)
    # sigma 0.25: a pure log-normal has p99/p50 = exp(2.33 * 0.25) = 1.79; the t tail is fatter.
    assert math.exp(q[98]) > 1.79
    assert max(warm) / median > 2.5
    assert abs(statistics.mean(logs)) < 0.05  # symmetric in log space


def test_the_first_launch_of_each_app_each_day_is_cold_and_cold_is_slower() -> None:
    launches, _ = quiet_reference_host_launches(days=20)
    first_of_day: dict[tuple[int, str], Launch] = {}
    for launch in launches:
        first_of_day.setdefault((math.floor(launch.t / DAY), launch.app), launch)
    assert all(x.start_kind == "cold" for x in first_of_day.values())
    for app in ("libreoffice", "evince"):
        cold = [x.duration for x in launches if x.app == app and x.start_kind == "cold"]
        warm = [x.duration for x in launches if x.app == app and x.start_kind == "warm"]
        assert statistics.median(cold) > 1.5 * statistics.median(warm)


def test_launches_happen_in_working_hours_and_rarely_at_weekends() -> None:
    launches, _ = quiet_reference_host_launches(days=14)
    hours = [(x.t % DAY) / 3600 for x in launches]
    assert all(8.0 <= h < 17.5 for h in hours)
    weekend = [x for x in launches if (math.floor(x.t / DAY) + 3) % 7 >= 5]
    assert len(weekend) < 0.2 * len(launches)
