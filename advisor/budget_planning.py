"""The budget planner on the stored recommendations: what ``budget plan`` and ``POST
/api/v1/budget/plan`` answer.

:func:`plan_recommendations` takes the recommendations still to do (``proposed`` and
``approved``), makes each a :class:`~advisor.recommend.budget.BudgetItem`
(:func:`advisor.recommendation_figures.budget_item`) and asks
:func:`~advisor.recommend.budget.plan_budget` for the set that saves the most a year within the
amount, and :func:`~advisor.recommend.budget.greedy_plan` for the ratio ranking's set, for
comparison. Every candidate not chosen has its reason.

**Quarter.** A budget for a quarter (``2026Q3``) is for what can be done in it: the proposed and
approved recommendations (they can be done now, so in any quarter not over yet), and the
deferred ones whose deferral ends before the quarter does (a run proposes them again then); a
deferral ending later leaves its recommendation out, with its date. A quarter that has ended is
refused. Without a quarter, deferred recommendations are not candidates.

**Currency.** The amount is in the recommendations' currency (the cost settings'). Should
they be priced in several, the one most of them use is planned and the others are left out
(``other-currency``). A recommendation whose document has no one-off cost or risk-adjusted
benefit is left out as ``unpriced``.

Exact and pure: money is Decimal, ``now`` is passed in, nothing is read or written. HiGHS may
write a stray line to the process's standard output while it solves
(:func:`advisor.recommend.budget._solve`): a caller printing JSON or CSV to stdout points file
descriptor 1 elsewhere around this call (advisor.cli.budget does).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from advisor.quarters import Quarter
from advisor.recommend.budget import BudgetItem, BudgetPlan, greedy_plan, plan_budget
from advisor.recommendation_figures import budget_item, decimal_text
from advisor.store.recommendations import RecommendationState, StoredRecommendation

__all__ = [
    "DEFERRED",
    "PLANNED_STATES",
    "Excluded",
    "Quarter",
    "StoredPlan",
    "plan_recommendations",
]

PLANNED_STATES: tuple[RecommendationState, ...] = ("proposed", "approved")
"""The states a budget plans over: still to do."""
DEFERRED: RecommendationState = "deferred"
"""Planned too with a quarter, when the deferral ends before the quarter does."""


@dataclass(frozen=True, slots=True)
class Excluded:
    """A candidate left out of the plan: ``reason`` for people, ``code`` for programs (the
    planner's codes, plus ``unpriced`` and ``other-currency``)."""

    key: str
    reason: str
    code: str


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """A budget plan over stored recommendations.

    ``plan`` is the optimiser's, ``greedy`` the ratio ranking's on the same candidates;
    ``recommendations`` every candidate by key (chosen or not); ``left_out`` every candidate
    not in ``plan`` with its reason, in the planner's order (largest benefit first), those
    that could not be planned at all last; ``currency`` the amount's (None: no candidate is
    priced).
    """

    plan: BudgetPlan
    greedy: BudgetPlan
    recommendations: dict[str, StoredRecommendation]
    items: dict[str, BudgetItem]
    left_out: tuple[Excluded, ...]
    currency: str | None
    quarter: Quarter | None
    states: tuple[RecommendationState, ...]

    @property
    def chosen(self) -> list[StoredRecommendation]:
        """The recommendations of the plan, largest benefit first."""
        return [self.recommendations[item.key] for item in self.plan.chosen]

    @property
    def greedy_keys(self) -> set[str]:
        return {item.key for item in self.greedy.chosen}

    def row(self, key: str) -> dict[str, Any]:
        """A candidate as JSON: what it is, its state, and what the planner counted of it
        (money as exact decimal text; null when it could not be planned)."""
        rec = self.recommendations[key]
        item = self.items.get(key)
        return {
            "key": key,
            "title": rec.title,
            "kind": rec.kind,
            "category": rec.category,
            "app": rec.app,
            "target": rec.target,
            "departments": list(rec.departments),
            "hosts": len(rec.hosts),
            "state": rec.state,
            "group": None if item is None else item.group,
            "cost": None if item is None else decimal_text(item.cost),
            "annual_benefit": None if item is None else decimal_text(item.annual_benefit),
            "currency": rec.currency,
        }

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON (the API's answer; the CLI's ``--format json``): the budget asked
        for, the plan with its chosen and left-out candidates (each with its reason and
        ``code``), and the greedy ranking's totals and keys beside it."""
        plan, greedy = self.plan, self.greedy
        return {
            "budget": {
                "amount": decimal_text(plan.budget),
                "currency": self.currency,
                "department": plan.department,
                "quarter": None if self.quarter is None else str(self.quarter),
                "states": list(self.states),
                "candidates": len(self.recommendations),
            },
            "plan": {
                "method": plan.method,
                "spent": decimal_text(plan.spent),
                "left": decimal_text(plan.left),
                "annual_benefit": decimal_text(plan.annual_benefit),
                "chosen": [self.row(item.key) for item in plan.chosen],
                "left_out": [
                    {**self.row(out.key), "reason": out.reason, "code": out.code}
                    for out in self.left_out
                ],
            },
            "greedy": {
                "spent": decimal_text(greedy.spent),
                "left": decimal_text(greedy.left),
                "annual_benefit": decimal_text(greedy.annual_benefit),
                "chosen": [item.key for item in greedy.chosen],
            },
            "gain_over_greedy": decimal_text(plan.annual_benefit - greedy.annual_benefit),
        }


def plan_recommendations(
    stored: Sequence[StoredRecommendation],
    amount: Decimal,
    *,
    now: float,
    department: str | None = None,
    quarter: Quarter | None = None,
) -> StoredPlan:
    """The best plan for ``amount`` over the ``stored`` recommendations that are candidates
    (module docstring), beside the greedy one. ``stored`` may hold any states: the others
    are ignored.

    Raises ValueError for a negative or non-finite amount, or a quarter that has ended by
    ``now``.
    """
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"the amount must be 0 or more, not {amount}")
    if quarter is not None and quarter.end <= now:
        current = Quarter.of(now)
        raise ValueError(
            f"the quarter {quarter} ended on {quarter.end_day.isoformat()}: plan {current} "
            "or a later one"
        )
    states = (*PLANNED_STATES, DEFERRED) if quarter is not None else PLANNED_STATES
    candidates = sorted((s for s in stored if s.state in states), key=lambda s: (-s.score, s.key))
    currency = _currency(candidates)
    items: dict[str, BudgetItem] = {}
    unplannable: list[Excluded] = []
    deferred_past: dict[str, float] = {}
    for rec in candidates:
        in_quarter = _quarter_of(rec, quarter)
        item = budget_item(rec, quarter=in_quarter)
        if item is None:
            unplannable.append(
                Excluded(rec.key, "not priced: its figures have no one-off cost", "unpriced")
            )
        elif rec.currency != currency:
            unplannable.append(
                Excluded(
                    rec.key,
                    f"priced in {rec.currency}, the budget is in {currency}",
                    "other-currency",
                )
            )
        else:
            items[rec.key] = item
            if quarter is not None and in_quarter != str(quarter):
                assert rec.deferred_until is not None
                deferred_past[rec.key] = rec.deferred_until
    best = plan_budget(list(items.values()), amount, department=department, quarter=_q(quarter))
    greedy = greedy_plan(list(items.values()), amount, department=department, quarter=_q(quarter))
    left_out = [
        Excluded(
            out.key,
            _deferred_reason(deferred_past[out.key])
            if out.code == "outside-quarter" and out.key in deferred_past
            else out.reason,
            out.code,
        )
        for out in best.left_out
    ]
    return StoredPlan(
        plan=best,
        greedy=greedy,
        recommendations={rec.key: rec for rec in candidates},
        items=items,
        left_out=(*left_out, *unplannable),
        currency=currency,
        quarter=quarter,
        states=states,
    )


def _q(quarter: Quarter | None) -> str | None:
    return None if quarter is None else str(quarter)


def _quarter_of(rec: StoredRecommendation, quarter: Quarter | None) -> str | None:
    """The quarter ``rec`` counts in: the one asked for when it can be done then (not
    deferred, or deferred until before the quarter ends), else its deferral's."""
    if quarter is None:
        return None
    if (
        rec.state == DEFERRED
        and rec.deferred_until is not None
        and rec.deferred_until >= quarter.end
    ):
        return str(Quarter.of(rec.deferred_until))
    return str(quarter)


def _deferred_reason(until: float) -> str:
    day = dt.datetime.fromtimestamp(until, dt.UTC).date().isoformat()
    return f"deferred until {day}, after the quarter asked for"


def _currency(candidates: Sequence[StoredRecommendation]) -> str | None:
    """The currency most candidates are priced in (ties: the first in alphabetical order)."""
    counts = Counter(rec.currency for rec in candidates)
    if not counts:
        return None
    return min(counts, key=lambda currency: (-counts[currency], currency))
