"""The recommendations pages: the ranked list (filtered, paged in the database) and one
recommendation in full, with the decision forms for those who may decide.

=====================================  ==========================================================
route                                  what it shows
=====================================  ==========================================================
GET /ui/recommendations                the ranked list; GET form: department, app, kind, state;
                                       ``offset`` pages it (:data:`PAGE_SIZE` a page)
GET /ui/recommendations/{key}          one recommendation: explanation, figures, cost parts,
                                       evidence, hosts by name, realised, history, forms
=====================================  ==========================================================

The list is ranked by score (the risk-adjusted net benefit) only: the store orders by nothing
else, and sorting a page in Python would sort that page, not the list. A user limited to
departments (:attr:`advisor.store.users.User.departments`) sees the recommendations that
concern one of theirs, and decides only on those that concern nothing else (advisor.ui.review).
The words and figures are read from the recommendation's document as the CLI's ``show`` reads
them (advisor.recommendation_figures); everything is shown through autoescaped templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from advisor.cli.recommendations import cents, money_text, months, seconds_interval
from advisor.cli.units import when
from advisor.recommendation_figures import Figures, HostDetail, figures_of, host_details
from advisor.store import Enrolments
from advisor.store.audit import AuditEntry, AuditLog, recommendation_target
from advisor.store.recommendations import (
    CURRENT_STATES,
    KINDS,
    STATES,
    RecommendationFilter,
    Recommendations,
    RecommendationState,
    StoredRecommendation,
)
from advisor.store.users import UiSession, User, allows
from advisor.ui.auth import Authenticator, UiRefusal
from advisor.ui.pages import PREFIX, Pages

PAGE_SIZE = 25
HISTORY = 50
"""Audit entries the detail page shows (the newest)."""
SHOWN_HOSTS = 200
"""Hosts the detail page names; the rest are counted."""
APPROVABLE: frozenset[str] = frozenset({"proposed", "deferred", "reopened"})
REJECTABLE: frozenset[str] = APPROVABLE | {"approved"}
DONE_MESSAGES = {
    "approve": "Approved.",
    "reject": "Rejected.",
    "defer": "Deferred.",
}
"""The message after a decision (``?done=approve``): only these, never text from the URL."""
EMPTY_HINT = "run `fleetsight-advisor recommend` to compute them"


def detail_path(key: str) -> str:
    """The detail page of ``key`` (its key, with every reserved character quoted)."""
    return f"{PREFIX}/recommendations/{quote(key, safe='')}"


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The list's GET form, checked: unknown kinds and states are refused, not ignored."""

    department: str | None
    app: str | None
    kind: str | None
    state: RecommendationState | None
    offset: int

    @classmethod
    def of(cls, params: dict[str, str], user: User) -> ListQuery:
        def text(name: str) -> str | None:
            value = params.get(name, "").strip()
            return value[:200] or None

        kind, state = text("kind"), text("state")
        if kind is not None and kind not in KINDS:
            raise UiRefusal(400, f"no such kind: {kind}")
        if state is not None and state not in STATES:
            raise UiRefusal(400, f"no such state: {state}")
        try:
            offset = max(int(params.get("offset", "0") or 0), 0)
        except ValueError:
            raise UiRefusal(400, "offset must be a whole number") from None
        department = text("department")
        if user.departments:
            if department is None:
                department = user.departments[0]
            elif department not in user.departments:
                raise UiRefusal(403, "you review other departments than this one")
        return cls(department, text("app"), kind, state, offset)

    def where(self) -> RecommendationFilter:
        return RecommendationFilter(
            department=self.department,
            app=self.app,
            kind=self.kind,
            state=self.state,
            states=None if self.state is not None else CURRENT_STATES,
        )

    def link(self, offset: int) -> str:
        values = {
            "department": self.department or "",
            "app": self.app or "",
            "kind": self.kind or "",
            "state": self.state or "",
            "offset": str(offset),
        }
        kept = {name: value for name, value in values.items() if value and value != "0"}
        return f"{PREFIX}/recommendations" + (f"?{urlencode(kept)}" if kept else "")


def row(rank: int, rec: StoredRecommendation) -> dict[str, Any]:
    """One line of the list, in human units."""
    figures = figures_of(rec)
    money = figures.money_per_year
    return {
        "rank": rank,
        "href": detail_path(rec.key),
        "title": rec.title,
        "kind": rec.kind,
        "app": rec.app,
        "departments": ", ".join(rec.departments) or "-",
        "hosts": len(rec.hosts),
        "saves": seconds_interval(figures),
        "money": money_text(None if money is None else money.estimate, rec.currency),
        "cost": cost_text(figures, rec.currency),
        "net": money_text(rec.net_benefit_per_year, rec.currency),
        "payback": months(figures.payback_months),
        "state": rec.state.replace("_", " "),
        "pilot": figures.pilot,
    }


def cost_text(figures: Figures, currency: str) -> str:
    text = money_text(figures.one_off, currency)
    if figures.recurring_per_year:
        text += f" + {money_text(figures.recurring_per_year, currency)}/yr"
    return text


def figure_rows(rec: StoredRecommendation, figures: Figures) -> list[tuple[str, str]]:
    """The detail page's table of figures: (what, value)."""
    currency = rec.currency
    money = figures.money_per_year
    hours = figures.hours_per_month
    rows = [
        ("Saves a launch", seconds_interval(figures)),
        (
            "Launches a day",
            "-" if figures.launches_per_day is None else f"{figures.launches_per_day:,.0f}",
        ),
        (
            "Hours a month",
            "-"
            if hours is None
            else f"{hours.estimate:,.1f} h [{hours.low:,.1f}, {hours.high:,.1f}]",
        ),
        (
            "Money a year",
            "-"
            if money is None
            else f"{cents(money.estimate, currency)} [{money.low:,.2f}, {money.high:,.2f}]",
        ),
        ("Cost, one-off", cents(figures.one_off, currency)),
        ("Cost, a year", cents(figures.recurring_per_year, currency)),
        ("Net a year", cents(rec.net_benefit_per_year, currency)),
        ("Payback", months(figures.payback_months)),
        ("Return on investment", "-" if figures.roi is None else f"{figures.roi:.0%}"),
        ("Risk-adjusted benefit a year", cents(figures.risk_adjusted_benefit, currency)),
        ("Evidence", figures.basis or "none"),
        ("Score", f"{rec.score:,.2f}"),
    ]
    if figures.cost_complete is False:
        rows.append(("Cost complete", "no: some parts have no price"))
    return rows


def cost_parts(rec: StoredRecommendation) -> list[dict[str, str]]:
    """The cost breakdown (licence, hardware, labour, downtime...) as the engine wrote it."""
    from advisor.recommendation_figures import decimal_of

    cost = rec.document.get("cost")
    parts = cost.get("parts") if isinstance(cost, dict) else None
    rows = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        amount = decimal_of(part.get("amount"))
        rows.append(
            {
                "item": str(part.get("item") or "-"),
                "what": str(part.get("what") or "-"),
                "seats": "-" if part.get("seats") is None else str(part["seats"]),
                "amount": "not priced" if amount is None else cents(amount, rec.currency),
                "when": "a year" if part.get("recurring") else "one-off",
                "source": str(part.get("source") or "-")
                + (" (estimate)" if part.get("estimate") else ""),
                "as_of": str(part.get("as_of") or "-"),
            }
        )
    return rows


def evidence_rows(rec: StoredRecommendation) -> list[dict[str, str]]:
    """The evidence per app and start kind."""
    benefit = rec.document.get("benefit")
    items = benefit.get("evidence") if isinstance(benefit, dict) else None
    rows = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        rows.append(
            {
                "app": str(item.get("app") or "-"),
                "start": str(item.get("start") or "-"),
                "basis": str(item.get("basis") or "-"),
                "hosts": str(item.get("hosts") if item.get("hosts") is not None else "-"),
                "saves": span_text(item.get("seconds_per_launch")),
                "note": str(item.get("note") or ""),
            }
        )
    return rows


def span_text(span: object) -> str:
    """Seconds with their interval, ``0.41 s [0.37, 0.45]``, from a document's object."""
    if not isinstance(span, dict):
        return "-"
    values = [span.get(name) for name in ("estimate", "low", "high")]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "-"
    estimate, low, high = (float(v) for v in values)  # type: ignore[arg-type]
    return f"{estimate:.2f} s [{low:.2f}, {high:.2f}]"


def realised_rows(rec: StoredRecommendation) -> list[tuple[str, str, str]]:
    """Predicted beside realised, once a rollout was measured: (what, predicted, realised)."""
    realised = rec.realised
    if realised is None:
        return []
    predicted = realised.get("predicted")
    predicted_span = predicted.get("seconds_per_launch") if isinstance(predicted, dict) else None
    if predicted_span is None:
        seconds = figures_of(rec).seconds_per_launch
        predicted_span = None if seconds is None else vars_of(seconds)
    ratio = realised.get("realised_over_predicted")
    rows = [
        (
            "Saves a launch",
            span_text(predicted_span),
            span_text(realised.get("seconds_per_launch")),
        ),
        (
            "Realised over predicted",
            "-",
            "-" if not isinstance(ratio, int | float) else f"{ratio:.0%}",
        ),
    ]
    for name in ("hosts", "control_hosts"):
        if realised.get(name) is not None:
            rows.append((name.replace("_", " ").capitalize(), "-", str(realised[name])))
    measured = realised.get("measured_at")
    if isinstance(measured, int | float):
        rows.append(("Measured", "-", when(float(measured))))
    return rows


def vars_of(span: Any) -> dict[str, float]:
    return {"estimate": span.estimate, "low": span.low, "high": span.high}


def host_groups(details: Sequence[HostDetail]) -> list[tuple[str, list[str], int]]:
    """The hosts by department: (department, hostnames shown, how many more)."""
    groups: dict[str | None, list[str]] = {}
    for detail in details:
        groups.setdefault(detail.department, []).append(detail.hostname or detail.host_id)
    order = sorted(groups, key=lambda d: (d is None, d or ""))
    shown = SHOWN_HOSTS
    result = []
    for department in order:
        names = groups[department]
        result.append((department or "not enrolled", names[:shown], max(len(names) - shown, 0)))
        shown = max(shown - len(names), 0)
    return result


def history_rows(entries: Sequence[AuditEntry]) -> list[dict[str, str]]:
    """The audit entries, oldest first: when, who, from, to, why."""
    rows = []
    for entry in entries:
        detail = entry.detail
        why = []
        if detail.get("reason"):
            why.append(str(detail["reason"]))
        if isinstance(detail.get("until"), int | float):
            why.append(f"until {when(float(detail['until']))[:10]}")
        rows.append(
            {
                "at": when(entry.at),
                "actor": entry.actor,
                "from": str(detail.get("from") or "-"),
                "to": str(detail.get("to") or "-"),
                "why": "; ".join(why) or "-",
            }
        )
    return rows


def pilot_text(rec: StoredRecommendation) -> str | None:
    pilot = rec.document.get("pilot")
    if not isinstance(pilot, dict):
        return None
    names = pilot.get("hostnames")
    count = len(names) if isinstance(names, list) else 0
    return (
        f"First on {count} hosts for {pilot.get('days')} days, because {pilot.get('reason')}; "
        f"measuring the {pilot.get('measurement')}."
    )


def may_decide(user: User, rec: StoredRecommendation) -> bool:
    """Whether ``user`` may decide on ``rec`` (advisor.ui.review checks the same)."""
    if not allows(user.role, "manager"):
        return False
    return not user.departments or set(rec.departments) <= set(user.departments)


def add_recommendation_pages(
    app: FastAPI,
    pages: Pages,
    auth: Authenticator,
    recommendations: Recommendations,
    audit: AuditLog,
    hosts: Enrolments | None,
) -> None:
    """``GET /recommendations`` and ``GET /recommendations/{key}`` on ``app``."""
    viewer = Depends(auth.require("viewer"))

    def departments_of(user: User) -> list[str]:
        if user.departments:
            return list(user.departments)
        totals = recommendations.department_totals(states=STATES)
        return sorted({total.department for total in totals})

    @app.get("/recommendations")
    def recommendation_list(request: Request, session: UiSession = viewer) -> Response:
        query = ListQuery.of(dict(request.query_params), session.user)
        found = recommendations.list(query.where(), limit=PAGE_SIZE + 1, offset=query.offset)
        shown = found[:PAGE_SIZE]
        context = {
            "current": f"{PREFIX}/recommendations",
            "query": query,
            "rows": [row(query.offset + i, rec) for i, rec in enumerate(shown, start=1)],
            "previous": query.link(max(query.offset - PAGE_SIZE, 0)) if query.offset else None,
            "next": query.link(query.offset + PAGE_SIZE) if len(found) > PAGE_SIZE else None,
            "first": query.offset + 1,
            "last": query.offset + len(shown),
            "departments": departments_of(session.user),
            "limited": bool(session.user.departments),
            "kinds": KINDS,
            "states": STATES,
            "empty_hint": EMPTY_HINT,
            "filtered": any((query.app, query.kind, query.state, query.offset))
            or (query.department is not None and not session.user.departments),
        }
        return pages.render("recommendations.html", context, session=session)

    @app.get("/recommendations/{key:path}")
    def recommendation_detail(key: str, request: Request, session: UiSession = viewer) -> Response:
        rec = recommendations.get(key)
        if rec is None:
            raise UiRefusal(404, "no such recommendation")
        user = session.user
        if user.departments and not set(rec.departments) & set(user.departments):
            raise UiRefusal(403, "this recommendation concerns departments you do not review")
        return pages.render(
            "recommendation.html", detail_context(rec, request, user), session=session
        )

    def detail_context(rec: StoredRecommendation, request: Request, user: User) -> dict[str, Any]:
        figures = figures_of(rec)
        enrolled = {h.host_id: h for h in hosts.list_hosts()} if hosts is not None else {}
        details = host_details(rec, enrolled)
        entries = audit.entries(target=recommendation_target(rec.key), limit=HISTORY)
        decides = may_decide(user, rec)
        return {
            "current": f"{PREFIX}/recommendations",
            "rec": rec,
            "path": detail_path(rec.key),
            "state": rec.state.replace("_", " "),
            "deferred_until": when(rec.deferred_until)[:10] if rec.deferred_until else None,
            "decided": None
            if rec.decided_by is None
            else f"{rec.decided_by} at {when(rec.decided_at)}",
            "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
            "explanation": figures.explanation,
            "figures": figure_rows(rec, figures),
            "parts": cost_parts(rec),
            "evidence": evidence_rows(rec),
            "host_count": len(details),
            "host_groups": host_groups(details),
            "pilot": pilot_text(rec),
            "realised": realised_rows(rec),
            "history": history_rows(list(reversed(entries))),
            "history_truncated": len(entries) == HISTORY,
            "can_approve": decides and rec.state in APPROVABLE,
            "can_reject": decides and rec.state in REJECTABLE,
        }
