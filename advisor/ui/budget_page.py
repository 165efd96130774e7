"""``GET /ui/budget``: the budget planner for people. A GET form (amount, department, quarter)
and, once an amount is given, the optimal plan over the stored recommendations: what it
chooses, what it leaves out and why, the totals, and the greedy ranking beside it.

The plan is advisor.budget_planning's (what ``fleetsight-advisor budget plan`` and the API
answer), over the same candidates, read the same way. A user limited to departments plans
for one of theirs. HiGHS may write a stray line to the advisor's standard output while it
solves (advisor.budget_planning says when); the page does not redirect file descriptor 1 as
the CLI does, since other requests' threads share it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from advisor.budget_planning import DEFERRED, PLANNED_STATES, StoredPlan, plan_recommendations
from advisor.cli.recommendations import cents
from advisor.quarters import Quarter
from advisor.store.recommendations import STATES, RecommendationFilter, Recommendations
from advisor.store.users import UiSession, User
from advisor.ui.auth import Authenticator, UiRefusal
from advisor.ui.pages import PREFIX, Pages
from advisor.ui.pages_recommendations import detail_path

MAX_AMOUNT = Decimal("1e12")


class FormError(ValueError):
    """The form's values cannot be planned: shown on the page beside the form."""


def parse_amount(text: str) -> Decimal:
    """The amount typed, thousands separators and spaces allowed: ``"12,500"`` -> 12500.

    >>> parse_amount(" 12,500.50 ")
    Decimal('12500.50')
    """
    cleaned = text.replace(",", "").replace(" ", "").replace("\u00a0", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise FormError("the amount must be a number, such as 25000") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise FormError("the amount must be 0 or more (and under a trillion)")
    return amount


def parse_quarter(text: str) -> Quarter | None:
    if not text.strip():
        return None
    try:
        return Quarter.parse(text.strip())
    except ValueError:
        raise FormError("the quarter is written like 2027Q1") from None


def plan_context(planned: StoredPlan) -> dict[str, Any]:
    """The plan in human units, for budget.html."""
    currency = planned.currency or ""
    plan, greedy = planned.plan, planned.greedy

    def money(amount: Decimal | None) -> str:
        return cents(amount, currency) if currency else "-"

    def line(key: str, reason: str | None = None) -> dict[str, Any]:
        rec = planned.recommendations[key]
        item = planned.items.get(key)
        return {
            "href": detail_path(key),
            "title": rec.title,
            "departments": ", ".join(rec.departments) or "-",
            "state": rec.state.replace("_", " "),
            "cost": money(None if item is None else item.cost),
            "benefit": money(None if item is None else item.annual_benefit),
            "reason": reason,
        }

    return {
        "currency": currency,
        "candidates": len(planned.recommendations),
        "chosen": [line(item.key) for item in plan.chosen],
        "left_out": [line(out.key, out.reason) for out in planned.left_out],
        "spent": money(plan.spent),
        "left": money(plan.left),
        "benefit": money(plan.annual_benefit),
        "method": plan.method,
        "greedy_spent": money(greedy.spent),
        "greedy_benefit": money(greedy.annual_benefit),
        "gain": money(plan.annual_benefit - greedy.annual_benefit),
    }


def add_budget_page(
    app: FastAPI,
    pages: Pages,
    auth: Authenticator,
    recommendations: Recommendations,
    clock: Callable[[], float],
) -> None:
    """``GET /budget`` on ``app``."""
    viewer = Depends(auth.require("viewer"))

    def departments_of(user: User) -> list[str]:
        if user.departments:
            return list(user.departments)
        totals = recommendations.department_totals(states=STATES)
        return sorted({total.department for total in totals})

    def plan(amount: Decimal, department: str | None, quarter: Quarter | None) -> StoredPlan:
        states = (*PLANNED_STATES, DEFERRED) if quarter is not None else PLANNED_STATES
        candidates = [
            rec
            for state in states
            for rec in recommendations.list(RecommendationFilter(state=state))
        ]
        try:
            return plan_recommendations(
                candidates, amount, now=clock(), department=department, quarter=quarter
            )
        except ValueError as exc:
            raise FormError(str(exc)) from None

    @app.get("/budget")
    def budget(request: Request, session: UiSession = viewer) -> Response:
        params = request.query_params
        user = session.user
        amount_text = params.get("amount", "").strip()[:40]
        department = params.get("department", "").strip()[:200] or None
        quarter_text = params.get("quarter", "").strip()[:10]
        if user.departments:
            if department is None:
                department = user.departments[0]
            elif department not in user.departments:
                raise UiRefusal(403, "you plan for other departments than this one")
        context: dict[str, Any] = {
            "current": f"{PREFIX}/budget",
            "amount": amount_text,
            "department": department,
            "quarter": quarter_text,
            "departments": departments_of(user),
            "limited": bool(user.departments),
            "current_quarter": str(Quarter.of(clock())),
            "error": None,
            "plan": None,
        }
        status = 200
        if amount_text:
            try:
                planned = plan(parse_amount(amount_text), department, parse_quarter(quarter_text))
                context["plan"] = plan_context(planned)
            except FormError as bad:
                context["error"] = str(bad)
                status = 400
        return pages.render("budget.html", context, session=session, status=status)
