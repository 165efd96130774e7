"""What a finding costs people: seconds per launch, launches a day, hours a month, money a year.

Pure: the launch rates and departments come in, nothing is read. A finding's effect is
relative (the median load time +25 %); here it becomes time and money:

- **seconds per launch**: the median load time before the change times the effect (its
  interval too): ``before.p50 * effect``. Negative when the finding is an improvement.
- **launches a day**: measured, per host and app (:class:`LaunchRate`: the host's launches
  of the app over the days it reported in the window, weekends and holidays included), summed
  over the finding's hosts. A host with no measured launches of the app counts 0 and is
  counted in ``hosts_without_launches``.
- **hours a month** and **money a year**: seconds lost per launch times launches a day, over
  a month (365.25 / 12 days) and a year (365.25 days), at each department's hourly wage
  (``config/costs.toml``: ``[wages]``); the year's money is the sum of the departments'.

Every figure keeps the finding's interval: ``low`` and ``high`` are the same sums with the
effect's bounds (the launch rates are measured, not estimated, so they carry no interval).

>>> rate = LaunchRate(launches=120, days=10)
>>> rate.per_day
12.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from advisor.analysis.findings import Finding
from advisor.catalog.costs import CostSettings, DatedPrice

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class LaunchRate:
    """How often one host launched one app: ``launches`` over ``days`` days of reporting."""

    launches: int
    days: float

    @property
    def per_day(self) -> float:
        """Launches a day (0 without days)."""
        return self.launches / self.days if self.days > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Span:
    """A figure with its interval: ``low <= estimate <= high``."""

    estimate: float
    low: float
    high: float

    def times(self, factor: float) -> Span:
        """The span scaled by ``factor`` (a negative factor swaps the bounds)."""
        a, b = self.low * factor, self.high * factor
        return Span(self.estimate * factor, min(a, b), max(a, b))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount a year with its interval, in ``currency``, to the cent."""

    estimate: Decimal
    low: Decimal
    high: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class DepartmentImpact:
    """A finding's cost to one department: its hosts, their launches and its wage."""

    department: str
    hosts: int
    launches_per_day: float
    hours_per_month: Span
    money_per_year: Money
    wage: DatedPrice


@dataclass(frozen=True, slots=True)
class Impact:
    """A finding in time and money (module docstring); ``by_department`` sorted by name."""

    seconds_per_launch: Span
    launches_per_day: float
    hours_per_month: Span
    money_per_year: Money
    by_department: tuple[DepartmentImpact, ...]
    hosts_without_launches: int


def seconds_per_launch(finding: Finding) -> Span:
    """Seconds each launch of the finding's app takes more (less, if negative) than before."""
    before = finding.evidence.before.p50
    effect = finding.effect
    return Span(before * effect.estimate, before * effect.low, before * effect.high)


def finding_impact(
    finding: Finding,
    rates: Mapping[tuple[str, str], LaunchRate],
    departments: Mapping[str, str],
    costs: CostSettings,
) -> Impact:
    """``finding`` in time and money. ``rates`` are keyed by (host id, app);
    ``departments`` maps host ids to departments (a host it lacks is in the finding's
    only department when it has one, else in ``""``, paid the default wage)."""
    per_launch = seconds_per_launch(finding)
    fallback = finding.departments[0] if len(finding.departments) == 1 else ""
    launches: dict[str, float] = {}
    hosts: dict[str, int] = {}
    missing = 0
    for host in finding.hosts:
        department = departments.get(host, fallback)
        rate = rates.get((host, finding.app))
        if rate is None or rate.launches == 0:
            missing += 1
        launches[department] = launches.get(department, 0.0) + (rate.per_day if rate else 0.0)
        hosts[department] = hosts.get(department, 0) + 1
    parts = tuple(
        _department(name, hosts[name], launches[name], per_launch, costs)
        for name in sorted(launches)
    )
    total = sum(launches.values())
    return Impact(
        seconds_per_launch=per_launch,
        launches_per_day=total,
        hours_per_month=per_launch.times(total * DAYS_PER_MONTH / 3600),
        money_per_year=_sum_money([p.money_per_year for p in parts], costs.currency),
        by_department=parts,
        hosts_without_launches=missing,
    )


def _department(
    name: str, hosts: int, launches_per_day: float, per_launch: Span, costs: CostSettings
) -> DepartmentImpact:
    wage = costs.wage_for(name or None)
    hours_a_year = per_launch.times(launches_per_day * DAYS_PER_YEAR / 3600)
    return DepartmentImpact(
        department=name,
        hosts=hosts,
        launches_per_day=launches_per_day,
        hours_per_month=per_launch.times(launches_per_day * DAYS_PER_MONTH / 3600),
        money_per_year=Money(
            _cents(hours_a_year.estimate, wage.amount),
            _cents(hours_a_year.low, wage.amount),
            _cents(hours_a_year.high, wage.amount),
            costs.currency,
        ),
        wage=wage,
    )


def _cents(hours: float, wage: Decimal) -> Decimal:
    """``hours`` at ``wage``, rounded to the cent (half to even: no drift in sums)."""
    return (Decimal(repr(hours)) * wage).quantize(CENT, rounding=ROUND_HALF_EVEN)


def _sum_money(amounts: list[Money], currency: str) -> Money:
    zero = Decimal("0.00")
    return Money(
        sum((m.estimate for m in amounts), zero),
        sum((m.low for m in amounts), zero),
        sum((m.high for m in amounts), zero),
        currency,
    )
