"""The rollout rule (docs/analysis.md, "Rollouts"): a rollout's effect is removed from the
cells per start kind, at each host's own change, before any series is built; a host that
moved and moved back has both effects removed. End to end, a pilot department that upgraded
weeks before the rest makes no trend (tests/advisor/analysis/test_fleet_effects.py)."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.analysis.daily import DailyLaunches
from advisor.analysis.fleet_cells import DAY_SECONDS, build_cells
from advisor.analysis.fleet_versions import VersionShift, without_rollouts
from advisor.analysis.frames import HostTable

DAYS = 20
NOW = (1000 + DAYS - 1) * DAY_SECONDS + 3600


def rows(levels: dict[tuple[int, bool], list[tuple[int, int, float]]]) -> DailyLaunches:
    """Daily rows of app 0: per (host, cold) a list of (day, version, log level), days from
    day 1000 (the first of the cells below)."""
    host, cold, day, version, level = [], [], [], [], []
    for (h, c), entries in levels.items():
        for d, v, x in entries:
            host.append(h)
            cold.append(c)
            day.append(1000 + d)
            version.append(v)
            level.append(x)
    n = len(host)
    hosts = HostTable(["a", "b"], ["it", "it"], np.full(2, 8e9), np.zeros(2, bool), np.full(2, 4.0))
    value = np.asarray(level)
    return DailyLaunches(
        hosts=hosts,
        apps=["gimp"],
        versions=["", "1.0", "2.0"],
        host=np.asarray(host, dtype=np.int64),
        app=np.zeros(n, dtype=np.int64),
        version=np.asarray(version, dtype=np.int64),
        cold=np.asarray(cold, dtype=bool),
        day=np.asarray(day, dtype=np.int64),
        count=np.ones(n, dtype=np.int64),
        median=value,
        p10=value,
        p25=value,
        p75=value,
        p90=value,
        log_mean=value,
        log_var=np.zeros(n),
    )


def stepped(
    change: int, effect: float, base: float, labelled_on_change_day: int
) -> list[tuple[int, int, float]]:
    """A host's days: version 1 before ``change``, 2 after (``effect`` added); on the change
    day itself the row carries ``labelled_on_change_day``'s version and level."""
    entries = []
    for d in range(DAYS):
        if d < change or (d == change and labelled_on_change_day == 1):
            entries.append((d, 1, base))
        else:
            entries.append((d, 2, base + effect))
    return entries


def shift(host: list[int], day: list[int], to: int, warm: float, cold: float) -> VersionShift:
    """App 0's move to version ``to`` on ``host`` at ``day`` (days of the cells)."""
    change_day = np.asarray(day, dtype=np.int64)
    at = np.asarray((1000 + change_day + 0.5) * DAY_SECONDS, dtype=np.float64)
    return VersionShift(0, np.asarray(host, dtype=np.int64), at, change_day, to, warm, cold)


@pytest.mark.parametrize("label", [1, 2], ids=["old-label-on-change-day", "new-label"])
def test_each_hosts_own_change_has_its_kinds_effect_removed(label: int) -> None:
    daily = rows(
        {
            (0, True): stepped(5, 0.3, 1.0, label),
            (0, False): stepped(5, 0.0, 0.5, label),
            (1, True): stepped(12, 0.3, 2.0, label),
            (1, False): stepped(12, 0.0, 0.8, label),
        }
    )
    cells = build_cells(daily, now=NOW, horizon_days=DAYS - 1)

    removed = without_rollouts(cells, [shift([0, 1], [5, 12], 2, warm=0.0, cold=0.3)], 1)

    for host, kind, base in ((0, True, 1.0), (0, False, 0.5), (1, True, 2.0), (1, False, 0.8)):
        mine = (removed.host == host) & (removed.cold == kind)
        assert removed.level[mine] == pytest.approx(np.full(mine.sum(), base))
        assert removed.resid[mine] == pytest.approx(np.zeros(mine.sum()))


def test_a_host_that_moved_and_moved_back_has_both_effects_removed() -> None:
    there_and_back = [
        (d, 2 if 5 <= d < 12 else 1, 1.0 + (0.3 if 5 <= d < 12 else 0.0)) for d in range(DAYS)
    ]
    daily = rows({(0, True): there_and_back, (1, True): [(d, 1, 2.0) for d in range(DAYS)]})
    cells = build_cells(daily, now=NOW, horizon_days=DAYS - 1)

    removed = without_rollouts(
        cells,
        [
            shift([0], [5], 2, warm=0.0, cold=0.3),
            shift([0], [12], 1, warm=0.0, cold=-0.3),
        ],
        1,
    )

    assert removed.level[removed.host == 0] == pytest.approx(np.full(DAYS, 1.0))
    assert removed.level[removed.host == 1] == pytest.approx(np.full(DAYS, 2.0))
