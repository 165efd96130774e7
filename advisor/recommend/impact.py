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

Time and money apart: :func:`time_lost` needs the finding (as :class:`Affected`) and the
rates only; :func:`priced` adds the money at the cost settings' wages.
:func:`finding_impact` is both at once.

>>> rate = LaunchRate(launches=120, days=10)
>>> rate.per_day
12.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from advisor.analysis.findings import Effect, Finding
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


@dataclass(frozen=True, slots=True)
class Affected:
    """What a finding's cost is counted from: the app, the hosts (ids) and departments it
    names, its effect and the median load time before, in seconds (``evidence.before.p50``).

    >>> slower = Affected("calc", ("h1",), ("hr",), Effect(0.25, 0.2, 0.3), median_before=2.0)
    >>> slower.seconds_per_launch()
    Span(estimate=0.5, low=0.4, high=0.6)
    """

    app: str
    hosts: tuple[str, ...]
    departments: tuple[str, ...]
    effect: Effect
    median_before: float

    @classmethod
    def of(cls, finding: Finding) -> Affected:
        return cls(
            finding.app,
            finding.hosts,
            finding.departments,
            finding.effect,
            finding.evidence.before.p50,
        )

    def seconds_per_launch(self) -> Span:
        """Seconds each launch takes more (less, if negative) than before: the median
        before times the effect and its bounds."""
        before, effect = self.median_before, self.effect
        return Span(before * effect.estimate, before * effect.low, before * effect.high)


@dataclass(frozen=True, slots=True)
class DepartmentTime:
    """The time a finding costs one department's hosts (what :class:`DepartmentImpact` says
    without the money)."""

    department: str
    hosts: int
    launches_per_day: float
    hours_per_month: Span


@dataclass(frozen=True, slots=True)
class TimeLost:
    """A finding in time: what :class:`Impact` says without the money."""

    seconds_per_launch: Span
    launches_per_day: float
    hours_per_month: Span
    by_department: tuple[DepartmentTime, ...]
    hosts_without_launches: int


def seconds_per_launch(finding: Finding) -> Span:
    """Seconds each launch of the finding's app takes more (less, if negative) than before."""
    return Affected.of(finding).seconds_per_launch()


def finding_impact(
    finding: Finding,
    rates: Mapping[tuple[str, str], LaunchRate],
    departments: Mapping[str, str],
    costs: CostSettings,
) -> Impact:
    """``finding`` in time and money. ``rates`` are keyed by (host id, app);
    ``departments`` maps host ids to departments (a host it lacks is in the finding's
    only department when it has one, else in ``""``, paid the default wage)."""
    return priced(time_lost(Affected.of(finding), rates, departments), costs)


def time_lost(
    affected: Affected,
    rates: Mapping[tuple[str, str], LaunchRate],
    departments: Mapping[str, str],
) -> TimeLost:
    """``affected`` in time; ``rates`` and ``departments`` as :func:`finding_impact`'s."""
    per_launch = affected.seconds_per_launch()
    fallback = affected.departments[0] if len(affected.departments) == 1 else ""
    launches: dict[str, float] = {}
    hosts: dict[str, int] = {}
    missing = 0
    for host in affected.hosts:
        department = departments.get(host, fallback)
        rate = rates.get((host, affected.app))
        if rate is None or rate.launches == 0:
            missing += 1
        launches[department] = launches.get(department, 0.0) + (rate.per_day if rate else 0.0)
        hosts[department] = hosts.get(department, 0) + 1
    parts = tuple(
        DepartmentTime(
            name,
            hosts[name],
            launches[name],
            per_launch.times(launches[name] * DAYS_PER_MONTH / 3600),
        )
        for name in sorted(launches)
    )
    total = sum(launches.values())
    return TimeLost(
        seconds_per_launch=per_launch,
        launches_per_day=total,
        hours_per_month=per_launch.times(total * DAYS_PER_MONTH / 3600),
        by_department=parts,
        hosts_without_launches=missing,
    )


def priced(time: TimeLost, costs: CostSettings) -> Impact:
    """``time`` in money too: each department's hours a year at its wage in ``costs`` (the
    default wage for a department without one, and for ``""``)."""
    parts = tuple(_department(part, time.seconds_per_launch, costs) for part in time.by_department)
    return Impact(
        seconds_per_launch=time.seconds_per_launch,
        launches_per_day=time.launches_per_day,
        hours_per_month=time.hours_per_month,
        money_per_year=_sum_money([p.money_per_year for p in parts], costs.currency),
        by_department=parts,
        hosts_without_launches=time.hosts_without_launches,
    )


def _department(part: DepartmentTime, per_launch: Span, costs: CostSettings) -> DepartmentImpact:
    wage = costs.wage_for(part.department or None)
    hours_a_year = per_launch.times(part.launches_per_day * DAYS_PER_YEAR / 3600)
    return DepartmentImpact(
        department=part.department,
        hosts=part.hosts,
        launches_per_day=part.launches_per_day,
        hours_per_month=part.hours_per_month,
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
