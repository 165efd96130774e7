"""The difference in differences of a rollout, on panels whose truth is known."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from advisor.recommend.verify import NEVER, Design, Panel, VerifyParameters, measure

DAYS = 56
PARAMS = VerifyParameters(before_days=14, after_days=14, n_resamples=200)


@dataclass(frozen=True)
class Fleet:
    """Hosts with a level per start kind and day: ``base`` seconds (cold twice warm), a
    weekly cycle, a fleet-wide step ``fleet_step`` from ``fleet_day``, noise ``sigma``, and
    ``effect`` (log) on each changed host from its change day on."""

    hosts: int = 200
    changed: int = 60
    change_day: int = 28
    spread: int = 4
    effect: float = -0.2
    fleet_step: float = 0.0
    fleet_day: int = 30
    weekly: float = 0.0
    sigma: float = 0.08
    later: int = 0  # hosts that change on day later_day: unchanged until then
    later_day: int = 50
    noisy: int = 0
    seed: int = 0

    def build(self) -> tuple[list[Panel], Design, float]:
        """The panels (one per start kind), the design, and the true seconds saved a launch."""
        rng = np.random.default_rng(self.seed)
        changes = np.full(self.hosts, NEVER, dtype=np.int64)
        changes[: self.changed] = self.change_day + rng.integers(0, self.spread + 1, self.changed)
        later = slice(self.changed, self.changed + self.later)
        changes[later] = self.later_day
        treated = np.zeros(self.hosts, dtype=bool)
        treated[: self.changed] = True
        alpha = rng.normal(0.0, 0.2, self.hosts)
        panels = []
        base_seconds, weights = [], []
        for stratum, cold in enumerate((False, True)):
            host = np.repeat(np.arange(self.hosts), DAYS)
            day = np.tile(np.arange(DAYS), self.hosts)
            y = alpha[host] + (math.log(2.0) if cold else 0.0)
            y = y + self.weekly * ((day % 7) >= 5)
            y = y + self.fleet_step * (day >= self.fleet_day)
            sigma = np.where(host < self.hosts - self.noisy, self.sigma, self.sigma * 6)
            y = y + rng.standard_t(3, host.size) / np.sqrt(3.0) * sigma
            y = y + self.effect * ((day >= changes[host]) & treated[host])
            count = np.full(host.size, 4 if not cold else 1, dtype=np.int64)
            panels.append(
                Panel(
                    host=host.astype(np.int64),
                    stratum=np.full(host.size, stratum, dtype=np.int64),
                    cold=np.full(host.size, cold),
                    day=day.astype(np.int64),
                    level=y,
                    count=count,
                )
            )
            level = alpha[: self.changed] + (math.log(2.0) if cold else 0.0)
            base_seconds.append(np.exp(level) * (1 - math.exp(self.effect)))
            weights.append(np.full(self.changed, 4.0 if not cold else 1.0))
        truth = float(np.average(np.concatenate(base_seconds), weights=np.concatenate(weights)))
        before_until = np.where(treated, changes, changes)
        after_from = np.where(treated, changes + 1, NEVER)
        return panels, Design(treated, before_until, after_from), truth


def test_the_saving_of_a_rollout_is_measured_and_a_fleet_wide_change_cancels() -> None:
    panels, design, truth = Fleet(fleet_step=0.3, weekly=0.2).build()

    realised = measure(panels, design, PARAMS)

    seconds = realised.seconds_per_launch
    assert seconds is not None
    assert realised.share is not None
    assert realised.method == "difference_in_differences"
    assert realised.hosts == 60
    assert realised.control_hosts == 140
    assert seconds.low <= truth <= seconds.high
    assert abs(seconds.estimate - truth) < 0.1 * truth
    assert realised.share.estimate == pytest.approx(1 - math.exp(-0.2), abs=0.02)
    assert not realised.worse
    assert [k.start for k in realised.by_start] == ["cold", "warm"]
    assert realised.launches_per_day == pytest.approx(60 * 5 * 28 / 28, rel=0.01)


def test_without_hosts_left_unchanged_it_is_before_and_after_and_never_called_worse() -> None:
    # Everyone changes, and the whole fleet gets slower at the same time by more than the
    # rollout saves: before and after sees a slowdown that is not the rollout's.
    panels, design, _ = Fleet(hosts=60, changed=60, fleet_step=0.4, fleet_day=29).build()

    realised = measure(panels, design, PARAMS)

    assert realised.method == "before_after"
    assert realised.seconds_per_launch is not None
    assert realised.seconds_per_launch.high < 0
    assert not realised.worse
    assert "before and after only" in realised.note


def test_a_rollout_that_made_launches_slower_is_worse() -> None:
    panels, design, truth = Fleet(effect=0.25, weekly=0.3).build()

    realised = measure(panels, design, PARAMS)

    seconds = realised.seconds_per_launch
    assert seconds is not None
    assert truth < 0
    assert seconds.high < 0
    assert seconds.low <= truth <= seconds.high
    assert realised.worse


def test_no_effect_gives_an_interval_around_zero() -> None:
    panels, design, _ = Fleet(effect=0.0, fleet_step=0.2, seed=3).build()

    realised = measure(panels, design, PARAMS)

    seconds = realised.seconds_per_launch
    assert seconds is not None
    assert seconds.low < 0 < seconds.high
    assert not realised.worse


def test_hosts_that_change_later_are_controls_until_they_change() -> None:
    # 140 other hosts, of which 130 change on day 40 (after the measured days but within the
    # data): they compare until then; their own days after are no control.
    fleet = Fleet(later=130, later_day=40, effect=-0.2, fleet_step=0.2, fleet_day=45)
    panels, design, truth = fleet.build()

    realised = measure(panels, design, PARAMS)

    seconds = realised.seconds_per_launch
    assert seconds is not None
    assert realised.control_hosts == 140
    assert abs(seconds.estimate - truth) < 0.15 * truth


def test_noisy_hosts_do_not_move_the_day_effects() -> None:
    quiet = measure(*Fleet(seed=5).build()[:2], PARAMS)
    noisy = measure(*Fleet(seed=5, noisy=10).build()[:2], PARAMS)

    assert quiet.seconds_per_launch is not None
    assert noisy.seconds_per_launch is not None
    assert noisy.seconds_per_launch.estimate == pytest.approx(
        quiet.seconds_per_launch.estimate, rel=0.05
    )


def test_strata_in_separate_panels_measure_as_in_one() -> None:
    panels, design, _ = Fleet(seed=2).build()
    one = Panel(
        host=np.concatenate([p.host for p in panels]),
        stratum=np.concatenate([p.stratum for p in panels]),
        cold=np.concatenate([p.cold for p in panels]),
        day=np.concatenate([p.day for p in panels]),
        level=np.concatenate([p.level for p in panels]),
        count=np.concatenate([p.count for p in panels]),
    )

    apart = measure(panels, design, PARAMS)
    together = measure([one], design, PARAMS)

    assert apart.seconds_per_launch == together.seconds_per_launch
    assert apart.hosts == together.hosts


def test_a_changed_host_without_days_after_is_not_measured() -> None:
    panels, design, _ = Fleet().build()
    late = Design(design.treated, design.before_until, np.full(len(design), DAYS + 5))

    realised = measure(panels, late, PARAMS)

    assert realised.method == "none"
    assert realised.seconds_per_launch is None
    assert not realised.worse
    assert "enough days" in realised.note


def test_the_document_holds_the_figures() -> None:
    panels, design, _ = Fleet().build()

    document = measure(panels, design, PARAMS).to_document()

    assert document["method"] == "difference_in_differences"
    assert document["hosts"] == 60
    assert set(document["seconds_per_launch"]) == {"estimate", "low", "high"}
    assert document["worse"] is False
    assert document["before_days"] == 14
