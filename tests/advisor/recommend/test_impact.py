"""A finding in seconds per launch, launches a day, hours a month and money a year."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from advisor.analysis.findings import Effect
from advisor.catalog.costs import CostSettings, parse_costs
from advisor.recommend.impact import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    Affected,
    LaunchRate,
    finding_impact,
    priced,
    time_lost,
)
from tests.advisor.store.findingsdata import finding

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "costs.toml"
FINANCE_WAGE = """
[wages.departments.finance]
amount = "45.00"
as_of = 2026-01-01
source = "HR pay scale 2026"
"""


@pytest.fixture
def costs() -> CostSettings:
    # The shipped defaults (default wage 30.00) with a finance wage of 45.00.
    return parse_costs(SHIPPED.read_text() + FINANCE_WAGE, "costs.toml")


def test_seconds_per_launch_are_the_median_before_times_the_effect_and_its_interval(
    costs: CostSettings,
) -> None:
    slower = finding(effect=0.25)  # median 2.0 s before; effect 0.20 .. 0.30

    impact = finding_impact(slower, {}, {}, costs)

    span = impact.seconds_per_launch
    assert (span.estimate, span.low, span.high) == pytest.approx((0.5, 0.4, 0.6))


def test_launches_a_day_are_measured_per_host_and_summed_over_the_findings_hosts(
    costs: CostSettings,
) -> None:
    rates = {
        ("fin-1", "libreoffice"): LaunchRate(launches=300, days=30),  # 10 a day
        ("fin-2", "libreoffice"): LaunchRate(launches=60, days=12),  # 5 a day
        ("fin-1", "firefox"): LaunchRate(launches=9000, days=30),  # another app: not counted
    }

    impact = finding_impact(finding(effect=0.25), rates, {}, costs)

    assert impact.launches_per_day == pytest.approx(15.0)
    assert impact.hosts_without_launches == 0
    hours = 0.5 * 15 * DAYS_PER_MONTH / 3600
    assert impact.hours_per_month.estimate == pytest.approx(hours)
    assert impact.hours_per_month.low == pytest.approx(0.4 * 15 * DAYS_PER_MONTH / 3600)


def test_money_a_year_is_paid_at_each_departments_wage_to_the_cent(costs: CostSettings) -> None:
    rates = {
        ("fin-1", "libreoffice"): LaunchRate(launches=100, days=10),
        ("hr-1", "libreoffice"): LaunchRate(launches=100, days=10),
    }
    both = finding(effect=0.25, hosts=("fin-1", "hr-1"), departments=("finance", "hr"))

    impact = finding_impact(both, rates, {"fin-1": "finance", "hr-1": "hr"}, costs)

    hours_a_year = 0.5 * 10 * DAYS_PER_YEAR / 3600  # per host: 0.5 s x 10 launches a day
    finance = Decimal(repr(hours_a_year)) * Decimal("45.00")
    hr = Decimal(repr(hours_a_year)) * Decimal("30.00")  # no wage of its own: the default
    [fin, other] = impact.by_department
    assert (fin.department, fin.hosts, other.department) == ("finance", 1, "hr")
    assert fin.money_per_year.estimate == finance.quantize(Decimal("0.01"))
    assert other.money_per_year.estimate == hr.quantize(Decimal("0.01"))
    assert impact.money_per_year.estimate == fin.money_per_year.estimate + (
        other.money_per_year.estimate
    )
    assert impact.money_per_year.currency == "USD"
    assert fin.money_per_year.low < fin.money_per_year.estimate < fin.money_per_year.high


def test_an_improvement_saves_time_so_its_figures_are_negative(costs: CostSettings) -> None:
    faster = finding(effect=-0.2)  # effect -0.25 .. -0.15
    rates = {("fin-1", "libreoffice"): LaunchRate(launches=10, days=1)}

    impact = finding_impact(faster, rates, {}, costs)

    assert impact.seconds_per_launch.estimate == pytest.approx(-0.4)
    assert impact.money_per_year.high < 0
    assert (
        impact.hours_per_month.low
        <= impact.hours_per_month.estimate
        <= (impact.hours_per_month.high)
    )


def test_a_host_without_measured_launches_counts_nothing_and_is_counted_as_such(
    costs: CostSettings,
) -> None:
    rates = {("fin-1", "libreoffice"): LaunchRate(launches=50, days=5)}

    impact = finding_impact(finding(), rates, {}, costs)

    assert impact.launches_per_day == pytest.approx(10.0)
    assert impact.hosts_without_launches == 1
    # Hosts without a known department are the finding's only department's.
    assert [d.department for d in impact.by_department] == ["finance"]
    assert impact.by_department[0].hosts == 2


def test_a_rate_over_no_days_is_zero_launches_a_day() -> None:
    assert LaunchRate(launches=5, days=0).per_day == 0.0


def test_time_needs_no_cost_settings_and_pricing_it_gives_the_findings_impact(
    costs: CostSettings,
) -> None:
    both = finding(effect=0.25, hosts=("fin-1", "hr-1"), departments=("finance", "hr"))
    rates = {
        ("fin-1", "libreoffice"): LaunchRate(launches=100, days=10),
        ("hr-1", "libreoffice"): LaunchRate(launches=30, days=3),
    }
    departments = {"fin-1": "finance", "hr-1": "hr"}

    time = time_lost(Affected.of(both), rates, departments)

    assert [(d.department, d.hosts, d.launches_per_day) for d in time.by_department] == [
        ("finance", 1, 10.0),
        ("hr", 1, 10.0),
    ]
    assert time.hours_per_month == finding_impact(both, rates, departments, costs).hours_per_month
    assert priced(time, costs) == finding_impact(both, rates, departments, costs)


def test_a_stored_finding_is_priced_from_its_app_hosts_effect_and_median_before(
    costs: CostSettings,
) -> None:
    stored = Affected("calc", ("h1", "h2"), ("it",), Effect(0.5, 0.25, 0.75), median_before=4.0)
    rates = {("h1", "calc"): LaunchRate(launches=8, days=2)}

    time = time_lost(stored, rates, {})

    assert (time.seconds_per_launch.estimate, time.seconds_per_launch.low) == (2.0, 1.0)
    assert (time.launches_per_day, time.hosts_without_launches) == (4.0, 1)
    assert [(d.department, d.hosts) for d in time.by_department] == [("it", 2)]
