"""A stored recommendation's figures, read from its document, for the recommendations CLI and
API; its hosts by name; and what the budget planner reads of it.

The engine writes every figure of a recommendation into its ``document``
(advisor.recommend.explain: ``benefit``, ``cost``, ``economics``, ``risk``, ``pilot``...); the
store keeps the document as given and never reads it. :func:`figures_of` reads it for people
and programs, defensively: a figure missing or malformed (a document of an older engine, or one
a test wrote by hand) is None, never an error, and money is :class:`~decimal.Decimal` from its
exact text. :func:`budget_item` is what the budget planner takes of a stored recommendation,
as :meth:`advisor.recommend.engine.Recommendation.budget_item` gives it of a fresh one: the
one-off cost, the risk-adjusted benefit a year less the recurring cost, the one department
(None for several), the group of alternatives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from advisor.recommend.budget import BudgetItem
from advisor.store import HostRecord
from advisor.store.recommendations import StoredRecommendation

__all__ = [
    "Figures",
    "HostDetail",
    "Interval",
    "MoneyInterval",
    "budget_item",
    "decimal_of",
    "decimal_text",
    "figures_of",
    "host_details",
]


@dataclass(frozen=True, slots=True)
class Interval:
    """A figure with its interval: ``low <= estimate <= high`` as the engine wrote them."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class MoneyInterval:
    """An amount a year with its interval, exact, in ``currency``."""

    estimate: Decimal
    low: Decimal
    high: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Figures:
    """What a stored recommendation saves and costs (None: not in its document).

    ``basis`` says where the saving comes from: ``model`` (hosts that already have the
    change), ``finding`` (a finding's effect undone) or ``none`` (no evidence: no saving is
    claimed). ``annual_benefit`` is the expected money a year, ``risk_adjusted_benefit`` what
    the rank and the budget count of it; ``one_off`` and ``recurring_per_year`` the cost.
    ``pilot`` is whether the evidence is weak enough that a pilot comes first, on
    ``pilot_hosts`` hosts.
    """

    basis: str | None
    seconds_per_launch: Interval | None
    launches_per_day: float | None
    hours_per_month: Interval | None
    money_per_year: MoneyInterval | None
    one_off: Decimal | None
    recurring_per_year: Decimal | None
    cost_complete: bool | None
    annual_benefit: Decimal | None
    payback_months: float | None
    roi: float | None
    risk_adjusted_benefit: Decimal | None
    pilot: bool
    pilot_hosts: int | None
    flags: tuple[str, ...]
    group: str | None
    explanation: str | None

    def to_dict(self, currency: str) -> dict[str, Any]:
        """JSON-ready: money as exact decimal text, intervals as ``{estimate, low, high}``,
        the cost with ``currency``; ``explanation`` left out (the caller places it)."""
        return {
            "basis": self.basis,
            "seconds_per_launch": _interval_dict(self.seconds_per_launch),
            "launches_per_day": self.launches_per_day,
            "hours_per_month": _interval_dict(self.hours_per_month),
            "money_per_year": None
            if self.money_per_year is None
            else {
                "estimate": str(self.money_per_year.estimate),
                "low": str(self.money_per_year.low),
                "high": str(self.money_per_year.high),
                "currency": self.money_per_year.currency,
            },
            "cost": {
                "one_off": _text_of(self.one_off),
                "recurring_per_year": _text_of(self.recurring_per_year),
                "complete": self.cost_complete,
                "currency": currency,
            },
            "annual_benefit": _text_of(self.annual_benefit),
            "payback_months": self.payback_months,
            "roi": self.roi,
            "risk_adjusted_benefit": _text_of(self.risk_adjusted_benefit),
            "pilot": self.pilot,
            "pilot_hosts": self.pilot_hosts,
            "flags": list(self.flags),
            "group": self.group,
        }


def figures_of(stored: StoredRecommendation) -> Figures:
    """The figures of ``stored``'s document (module docstring)."""
    doc = stored.document
    benefit = _object(doc.get("benefit"))
    cost = _object(doc.get("cost"))
    economics = _object(doc.get("economics"))
    risk = _object(doc.get("risk"))
    pilot = doc.get("pilot")
    pilot_hosts = None
    if isinstance(pilot, dict) and isinstance(pilot.get("hostnames"), list):
        pilot_hosts = len(pilot["hostnames"])
    flags = doc.get("flags")
    complete = cost.get("complete")
    return Figures(
        basis=_text(benefit.get("basis")),
        seconds_per_launch=_interval(benefit.get("seconds_per_launch")),
        launches_per_day=_number(benefit.get("launches_per_day")),
        hours_per_month=_interval(benefit.get("hours_per_month")),
        money_per_year=_money_interval(benefit.get("money_per_year")),
        one_off=decimal_of(cost.get("one_off")),
        recurring_per_year=decimal_of(cost.get("recurring_per_year")),
        cost_complete=complete if isinstance(complete, bool) else None,
        annual_benefit=decimal_of(economics.get("annual_benefit")),
        payback_months=_number(economics.get("payback_months")),
        roi=_number(economics.get("roi")),
        risk_adjusted_benefit=decimal_of(risk.get("risk_adjusted_benefit")),
        pilot=isinstance(pilot, dict) or "pilot" in (flags or ()),
        pilot_hosts=pilot_hosts,
        flags=tuple(f for f in flags if isinstance(f, str)) if isinstance(flags, list) else (),
        group=_text(doc.get("group")),
        explanation=_text(doc.get("explanation")),
    )


def budget_item(stored: StoredRecommendation, *, quarter: str | None = None) -> BudgetItem | None:
    """What the budget planner reads of ``stored`` (module docstring), with ``quarter`` as the
    quarter it can be done in; None when its document has no one-off cost or no risk-adjusted
    benefit (it cannot be planned).

    A pilot's benefit is 0 (no evidence), so the planner leaves it out with ``no benefit``.
    """
    figures = figures_of(stored)
    if figures.one_off is None or figures.one_off < 0 or figures.risk_adjusted_benefit is None:
        return None
    departments = stored.departments
    return BudgetItem(
        key=stored.key,
        cost=figures.one_off,
        annual_benefit=figures.risk_adjusted_benefit - (figures.recurring_per_year or 0),
        department=departments[0] if len(departments) == 1 else None,
        quarter=quarter,
        group=figures.group,
    )


@dataclass(frozen=True, slots=True)
class HostDetail:
    """A host a recommendation names: its id, hostname and department (None: not known)."""

    host_id: str
    hostname: str | None
    department: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"host_id": self.host_id, "hostname": self.hostname, "department": self.department}


def host_details(stored: StoredRecommendation, hosts: Mapping[str, HostRecord]) -> list[HostDetail]:
    """Each host of ``stored``, in its order, named from ``hosts`` (the enrolled hosts by id);
    a host no longer enrolled keeps the hostname the engine wrote in the document, and no
    department."""
    written = _object(stored.document.get("hosts")).get("hostnames")
    names = written if isinstance(written, list) and len(written) == len(stored.hosts) else None
    details = []
    for i, host_id in enumerate(stored.hosts):
        record = hosts.get(host_id)
        if record is not None:
            details.append(HostDetail(host_id, record.hostname, record.department))
        else:
            name = names[i] if names is not None and isinstance(names[i], str) else None
            details.append(HostDetail(host_id, name, None))
    return details


def _interval_dict(span: Interval | None) -> dict[str, float] | None:
    return None if span is None else {"estimate": span.estimate, "low": span.low, "high": span.high}


def _text_of(amount: Decimal | None) -> str | None:
    return None if amount is None else decimal_text(amount)


def decimal_text(amount: Decimal) -> str:
    """An exact amount as JSON carries money: fixed-point decimal text, never an exponent.

    >>> [decimal_text(Decimal(text)) for text in ("236.4910", "1E+3", "-0")]
    ['236.4910', '1000', '0']
    """
    return format(amount + 0, "f")


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def decimal_of(value: object) -> Decimal | None:
    """Money as the document writes it: exact decimal text (a number is taken too)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(value) if isinstance(value, str) else Decimal(repr(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _interval(value: object) -> Interval | None:
    if not isinstance(value, dict):
        return None
    parts = [_number(value.get(name)) for name in ("estimate", "low", "high")]
    if any(part is None for part in parts):
        return None
    estimate, low, high = (float(part) for part in parts if part is not None)
    return Interval(estimate, low, high)


def _money_interval(value: object) -> MoneyInterval | None:
    if not isinstance(value, dict) or not isinstance(value.get("currency"), str):
        return None
    parts = [decimal_of(value.get(name)) for name in ("estimate", "low", "high")]
    if any(part is None for part in parts):
        return None
    estimate, low, high = (part for part in parts if part is not None)
    return MoneyInterval(estimate, low, high, value["currency"])
