"""Pilots: a representative group, the measurement that decides, and a powered duration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from advisor.analysis.cohorts import RAM_BINS
from advisor.recommend.evidence import levels_of
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.pilot import pilot_days
from tests.advisor.analysis.fleetframes import Rollout, Spec, build
from tests.advisor.recommend.fleets import hosts_on, record, regression, run


def test_days_are_what_the_power_calculation_asks_for() -> None:
    params = RecommendParameters(pilot_alpha=0.05, pilot_power=0.8)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    noise, share, baseline, n, m, delta = 0.04, 0.5, 10.0, 8, 40, 0.15

    days = pilot_days(delta, noise, share, baseline, n, m, params)

    # delta = z * sd, sd^2 = noise (1/b + 1/(d f)) (1/n + 1/m)
    sd = math.sqrt(noise * (1 / baseline + 1 / (days * share)) * (1 / n + 1 / m))
    assert delta == pytest.approx(z * sd)
    assert pilot_days(delta / 2, noise, share, baseline, n, m, params) > days
    assert pilot_days(delta, noise, share, baseline, 2 * n, m, params) < days
    # An effect smaller than what the baseline alone can show: no number of days will do.
    assert pilot_days(0.01, noise, share, baseline, n, m, params) == math.inf


def test_a_pilot_group_spreads_over_departments_and_hardware_and_keeps_its_hosts() -> None:
    spec = Spec(
        hosts=80,
        low_ram_share=0.3,
        departments=("finance", "sales", "hr"),
        rollouts=(Rollout(effect=0.3, share=0.8, day=20),),
    )
    data = build(spec)
    on2 = hosts_on(data, 0, "2.0")

    inputs, recs = run(data, [regression(data, on2)], {"app0": record()}, spec.now)
    _, again = run(data, [regression(data, on2)], {"app0": record()}, spec.now + 86400)

    [upgrade] = [r for r in recs if r.kind == "upgrade"]
    pilot = upgrade.pilot
    assert pilot is not None
    assert 6 <= len(pilot.hosts) <= 30
    hosts = inputs.facts.hosts
    assert {hosts.department[h] for h in pilot.hosts} == {"finance", "sales", "hr"}
    ram = levels_of(hosts.ram_gib[list(pilot.hosts)], RAM_BINS)
    assert set(np.unique(ram).tolist()) == {0, 2}  # 4 GB and 16 GB machines both
    [later] = [r for r in again if r.kind == "upgrade"]
    assert later.pilot is not None
    assert later.pilot.hosts == pilot.hosts
    assert "difference in differences" in pilot.measurement
    assert pilot.comparison_hosts == 80 - len(pilot.hosts)
    pilot_doc = upgrade.document["pilot"]
    assert pilot_doc["hostnames"] == [hosts.hostname[h] for h in pilot.hosts]
    assert pilot_doc["days"] == pilot.days
    assert pilot_doc["cost"] is not None
