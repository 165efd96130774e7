"""advisor.budget_planning and advisor.recommendation_figures: the budget planner on stored
recommendations (pure: no database), and what it reads of their documents."""

from __future__ import annotations

import datetime as dt
import doctest
import types
from decimal import Decimal

import pytest

import advisor.quarters
import advisor.recommendation_figures
from advisor.budget_planning import Quarter, plan_recommendations
from advisor.recommendation_figures import budget_item, figures_of, host_details
from advisor.store import HostRecord
from tests.advisor.store.recommendationsdata import proposal
from tests.advisor.store.reviewdata import (
    HR_RAM,
    HR_REPLACE,
    KNAPSACK,
    LEFT,
    PILOT,
    RIGHT,
    SPREADSHEET,
    priced,
    stored_of,
)

NOW = dt.datetime(2026, 5, 10, tzinfo=dt.UTC).timestamp()
"""In 2026Q2."""
Q3 = Quarter(2026, 3)


def at(day: str) -> float:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize("module", [advisor.quarters, advisor.recommendation_figures])
def test_the_examples_in_the_docstrings_hold(module: types.ModuleType) -> None:
    result = doctest.testmod(module)

    assert result.attempted > 0
    assert result.failed == 0


def test_the_plan_is_the_optimum_where_the_ratio_ranking_falls_short() -> None:
    planned = plan_recommendations([stored_of(p) for p in KNAPSACK], Decimal("10000"), now=NOW)

    assert [item.key for item in planned.plan.chosen] == [RIGHT, LEFT]
    assert (planned.plan.spent, planned.plan.annual_benefit) == (Decimal("10000.00"),) * 2
    assert planned.plan.method == "milp"
    assert planned.greedy_keys == {HR_RAM, SPREADSHEET}
    assert planned.greedy.annual_benefit == Decimal("7300.00")
    reasons = {out.key: (out.code, out.reason) for out in planned.left_out}
    assert reasons == {
        SPREADSHEET: ("over-budget", "over budget (needs 6,000.00, 0.00 left)"),
        HR_REPLACE: ("over-budget", "over budget (needs 900.00, 0.00 left)"),
        HR_RAM: ("over-budget", "over budget (needs 100.00, 0.00 left)"),
        PILOT: ("no-benefit", "no benefit"),
    }
    assert planned.to_dict()["gain_over_greedy"] == "2700.00"


def test_alternatives_of_one_problem_are_never_chosen_together() -> None:
    planned = plan_recommendations(
        [stored_of(p) for p in KNAPSACK], Decimal("1000"), now=NOW, department="hr"
    )

    assert [item.key for item in planned.plan.chosen] == [HR_REPLACE]
    assert {out.key: out.code for out in planned.left_out}[HR_RAM] == "alternative-chosen"
    assert planned.greedy_keys == {HR_RAM}


def test_what_it_counts_is_the_risk_adjusted_benefit_less_the_recurring_cost() -> None:
    rec = stored_of(
        priced(
            "k",
            departments=("a", "b"),
            one_off="10.5",
            recurring="100",
            benefit="900",
            risk_adjusted="600",
            group="g",
        )
    )

    item = budget_item(rec, quarter="2026Q3")

    assert item is not None
    assert (item.cost, item.annual_benefit) == (Decimal("10.5"), Decimal("500"))
    assert (item.department, item.group, item.quarter) == (None, "g", "2026Q3")


def test_without_a_quarter_only_proposed_and_approved_ones_are_planned() -> None:
    stored = [
        stored_of(KNAPSACK[0], state="approved"),
        stored_of(KNAPSACK[1], state="deferred", deferred_until=at("2026-06-01")),
        stored_of(KNAPSACK[2], state="rejected"),
        stored_of(KNAPSACK[3], state="obsolete"),
        stored_of(KNAPSACK[4]),
    ]

    planned = plan_recommendations(stored, Decimal("100000"), now=NOW)

    assert set(planned.recommendations) == {SPREADSHEET, HR_REPLACE}
    assert planned.states == ("proposed", "approved")


def test_a_quarter_takes_the_deferrals_that_end_before_it_does() -> None:
    stored = [
        stored_of(KNAPSACK[0]),
        stored_of(KNAPSACK[1], state="deferred", deferred_until=at("2026-09-15")),
        stored_of(KNAPSACK[2], state="deferred", deferred_until=at("2026-10-01")),
    ]

    planned = plan_recommendations(stored, Decimal("100000"), now=NOW, quarter=Q3)

    assert {item.key for item in planned.plan.chosen} == {SPREADSHEET, LEFT}
    assert [(out.key, out.code, out.reason) for out in planned.left_out] == [
        (RIGHT, "outside-quarter", "deferred until 2026-10-01, after the quarter asked for")
    ]
    assert planned.to_dict()["budget"]["quarter"] == "2026Q3"


def test_a_quarter_that_has_ended_is_refused_and_the_current_one_is_not() -> None:
    with pytest.raises(ValueError, match="the quarter 2026Q1 ended on 2026-04-01: plan 2026Q2"):
        plan_recommendations([], Decimal("1"), now=NOW, quarter=Quarter(2026, 1))

    assert (
        plan_recommendations([], Decimal("1"), now=NOW, quarter=Quarter(2026, 2)).currency is None
    )


@pytest.mark.parametrize("text", ["2026", "2026Q5", "Q3 2026", "26Q1", ""])
def test_a_quarter_is_written_yyyyqn(text: str) -> None:
    with pytest.raises(ValueError, match="write it as YYYYQn"):
        Quarter.parse(text)


def test_unpriced_ones_and_another_currency_are_left_out_with_their_reason() -> None:
    stored = [
        stored_of(priced("a", one_off="10")),
        stored_of(priced("b", one_off="10")),
        stored_of(priced("c", one_off="10", currency="USD")),
        stored_of(proposal("d")),  # a document without figures
    ]

    planned = plan_recommendations(stored, Decimal("100"), now=NOW)

    assert planned.currency == "EUR"
    assert [(out.key, out.code) for out in planned.left_out] == [
        ("c", "other-currency"),
        ("d", "unpriced"),
    ]
    assert planned.left_out[0].reason == "priced in USD, the budget is in EUR"
    row = planned.to_dict()["plan"]["left_out"][1]
    assert (row["cost"], row["annual_benefit"], row["currency"]) == (None, None, "EUR")


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        plan_recommendations([], Decimal("-1"), now=NOW)


def test_figures_missing_or_malformed_in_a_document_are_none() -> None:
    bare = figures_of(stored_of(proposal()))
    broken = figures_of(
        stored_of(
            proposal(
                document={
                    "cost": {"one_off": "lots", "recurring_per_year": float("nan")},
                    "benefit": {"seconds_per_launch": {"estimate": 1, "low": "x", "high": 2}},
                    "economics": "none",
                    "flags": ["pilot", 3],
                }
            )
        )
    )
    full = figures_of(stored_of(priced("k")))

    assert (bare.one_off, bare.seconds_per_launch, bare.basis, bare.pilot) == (
        None,
        None,
        None,
        False,
    )
    assert (broken.one_off, broken.recurring_per_year, broken.seconds_per_launch) == (None,) * 3
    assert (broken.pilot, broken.flags, broken.annual_benefit) == (True, ("pilot",), None)
    assert budget_item(stored_of(proposal())) is None
    assert (full.one_off, full.risk_adjusted_benefit, full.payback_months) == (
        Decimal("1000.00"),
        Decimal("2000.00"),
        6.0,
    )


def test_hosts_are_named_by_the_enrolment_else_by_the_engine() -> None:
    rec = stored_of(priced("k", hosts=("h1", "h2"), hostnames=("old-1", "old-2")))
    enrolled = {
        "h1": HostRecord(
            host_id="h1",
            hostname="fin-ws-01",
            department="finance",
            agent_version="0.1.0",
            enrolled_at=0.0,
            last_seen_at=None,
            revoked_at=None,
        )
    }

    details = host_details(rec, enrolled)

    assert [d.to_dict() for d in details] == [
        {"host_id": "h1", "hostname": "fin-ws-01", "department": "finance"},
        {"host_id": "h2", "hostname": "old-2", "department": None},
    ]
