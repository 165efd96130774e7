"""The Overview (``GET /ui/``): the fleet at a glance, read from the stores on each request.

Its blocks, each saying what to do when it is empty:

- the hosts enrolled, and how many reported in the last 24 hours (``last_seen_at``);
- the open findings by kind, with the hours they cost a month and the money a year, priced
  by :class:`advisor.finding_costs.FindingCosts` as the findings API prices them;
- the top :data:`TOP` recommendations by score, what they save a year and their state;
- the recommendations per state, and per department the net benefit a year of the proposed
  and the approved ones (:meth:`Recommendations.department_totals`);
- what changed in the last 7 days: findings opened and resolved (their ``opened_at`` and
  ``resolved_at``), and the decisions on recommendations in the audit log;
- end-of-life dates in the next 90 days of installed software, as ``catalog outdated
  --eol-within 90d`` finds them, by product and cycle, with the installs already past theirs.

A manager limited to departments sees the recommendations of theirs; the rest is the fleet's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import Depends, FastAPI
from starlette.responses import Response

from advisor.analysis.finding_status import OPEN
from advisor.catalog.fleet import OutdatedRow
from advisor.cli.recommendations import money_text
from advisor.finding_costs import FindingCosts
from advisor.store import Enrolments
from advisor.store.audit import AuditLog
from advisor.store.catalog import CatalogStore
from advisor.store.findings import FindingFilter, Findings, StoredFinding
from advisor.store.recommendations import (
    CURRENT_STATES,
    STATES,
    RecommendationFilter,
    Recommendations,
    StoredRecommendation,
)
from advisor.store.users import UiSession, User
from advisor.ui.auth import Authenticator
from advisor.ui.pages import PREFIX, Pages
from advisor.ui.pages_findings import detail_path as finding_path
from advisor.ui.pages_recommendations import row as recommendation_row

TOP = 5
DAY = 86_400.0
WEEK = 7 * DAY
EOL_HORIZON_DAYS = 90
RECENT_AUDIT = 500
"""Audit entries read for the week's decisions (the newest)."""
SHOWN_CHANGES = 10


@dataclass(frozen=True)
class OverviewStores:
    """What the Overview reads; None: that block says the advisor was started without it."""

    recommendations: Recommendations
    audit: AuditLog
    hosts: Enrolments | None = None
    findings: Findings | None = None
    costs: FindingCosts | None = None
    catalog: CatalogStore | None = None


@dataclass
class KindLine:
    """The open findings of one kind: how many, hours a month, money a year (by currency)."""

    kind: str
    count: int = 0
    hours: float = 0.0
    money: dict[str, Decimal] = field(default_factory=dict)
    unpriced: int = 0

    def as_row(self) -> dict[str, Any]:
        return {
            "kind": self.kind.replace("_", " "),
            "count": self.count,
            "hours": hours_text(self.hours),
            "money": ", ".join(money_text(v, c) for c, v in sorted(self.money.items())) or "-",
            "unpriced": self.unpriced,
        }


def hours_text(hours: float) -> str:
    """Hours as a person reads them: ``1,234 h``, ``2.5 h``."""
    return f"{hours:,.0f} h" if abs(hours) >= 10 else f"{hours:,.1f} h"


def host_counts(hosts: Enrolments, now: float) -> dict[str, int]:
    """Hosts enrolled (not revoked) and how many of them reported in the last 24 hours."""
    active = [h for h in hosts.list_hosts() if h.revoked_at is None]
    recent = [h for h in active if h.last_seen_at is not None and h.last_seen_at >= now - DAY]
    return {"enrolled": len(active), "reported": len(recent)}


def findings_by_kind(
    open_findings: Sequence[StoredFinding], costs: FindingCosts
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The open findings by kind (most hours first), and the pricing's notes."""
    costed = costs.of(open_findings)
    lines: dict[str, KindLine] = {}
    for found in open_findings:
        line = lines.setdefault(found.kind, KindLine(found.kind))
        line.count += 1
        cost = costed.cost(found)
        if cost is None:
            line.unpriced += 1
            continue
        line.hours += cost.time.hours_per_month.estimate
        if cost.impact is not None:
            money = cost.impact.money_per_year
            line.money[money.currency] = line.money.get(money.currency, Decimal(0)) + money.estimate
    ordered = sorted(lines.values(), key=lambda line: (-line.hours, line.kind))
    return [line.as_row() for line in ordered], costed.notes


def week_changes(
    every: Sequence[StoredFinding], now: float
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The findings opened and resolved in the last 7 days, newest first."""
    since = now - WEEK

    def line(found: StoredFinding, at: float) -> dict[str, str]:
        return {
            "href": finding_path(found.key),
            "app": found.app,
            "kind": found.kind.replace("_", " "),
            "at": dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d"),
        }

    opened = sorted(
        (f for f in every if f.opened_at is not None and f.opened_at >= since),
        key=lambda f: -(f.opened_at or 0.0),
    )
    resolved = sorted(
        (f for f in every if f.resolved_at is not None and f.resolved_at >= since),
        key=lambda f: -(f.resolved_at or 0.0),
    )
    return (
        [line(f, f.opened_at or 0.0) for f in opened],
        [line(f, f.resolved_at or 0.0) for f in resolved],
    )


def week_decisions(audit: AuditLog, now: float) -> dict[str, int]:
    """How many recommendations were approved, rejected, deferred... in the last 7 days
    (the newest :data:`RECENT_AUDIT` entries of the log)."""
    counts: dict[str, int] = {}
    for entry in audit.entries(limit=RECENT_AUDIT):
        if entry.at < now - WEEK:
            break
        if entry.action.startswith("recommendation."):
            what = entry.action.removeprefix("recommendation.").replace("_", " ")
            counts[what] = counts.get(what, 0) + 1
    return dict(sorted(counts.items()))


def end_of_life(rows: Sequence[OutdatedRow]) -> tuple[list[dict[str, Any]], int]:
    """The (product, cycle) whose end of life comes within the horizon, soonest first, with
    how many hosts have it; and how many installs are past their end of life already."""
    soon: dict[tuple[str, str, dt.date], set[str]] = {}
    past = 0
    for row in rows:
        if row.status == "end-of-life":
            past += 1
        elif row.status == "end-of-life soon" and row.end_of_life_on is not None:
            soon.setdefault((row.product, row.cycle or "-", row.end_of_life_on), set()).add(
                row.host_id
            )
    lines = [
        {"product": product, "cycle": cycle, "on": on.isoformat(), "hosts": len(hosts)}
        for (product, cycle, on), hosts in sorted(soon.items(), key=lambda kv: (kv[0][2], kv[0]))
    ]
    return lines, past


def top_recommendations(recommendations: Recommendations, user: User) -> list[dict[str, Any]]:
    """The :data:`TOP` best current recommendations the user may see, by score."""
    departments: Sequence[str | None] = user.departments or (None,)
    found: dict[str, StoredRecommendation] = {}
    for department in departments:
        where = RecommendationFilter(states=CURRENT_STATES, department=department)
        for rec in recommendations.list(where, limit=TOP):
            found[rec.key] = rec
    best = sorted(found.values(), key=lambda rec: (-rec.score, rec.key))[:TOP]
    return [recommendation_row(rank, rec) for rank, rec in enumerate(best, start=1)]


def department_lines(recommendations: Recommendations, user: User) -> list[dict[str, str]]:
    """Per department and currency (the user's departments, when limited to some): the
    proposed and the approved net benefit a year."""
    lines: dict[tuple[str, str], dict[str, str]] = {}
    for state in ("proposed", "approved"):
        for total in recommendations.department_totals(states=(state,)):
            if user.departments and total.department not in user.departments:
                continue
            line = lines.setdefault(
                (total.department, total.currency),
                {"department": total.department, "proposed": "-", "approved": "-"},
            )
            line[state] = (
                f"{money_text(total.net_benefit_per_year, total.currency)} ({total.count})"
            )
    return [lines[key] for key in sorted(lines)]


def add_overview_page(
    app: FastAPI,
    pages: Pages,
    auth: Authenticator,
    stores: OverviewStores,
    clock: Callable[[], float],
) -> None:
    """``GET /`` on ``app``: the Overview."""
    viewer = Depends(auth.require("viewer"))

    @app.get("/")
    def overview(session: UiSession = viewer) -> Response:
        now = clock()
        context: dict[str, Any] = {
            "current": f"{PREFIX}/",
            "hosts": None if stores.hosts is None else host_counts(stores.hosts, now),
            "top": top_recommendations(stores.recommendations, session.user),
            "states": [
                (state.replace("_", " "), count)
                for state, count in stores.recommendations.state_counts().items()
                if count and state in STATES
            ],
            "departments": department_lines(stores.recommendations, session.user),
            "decisions": week_decisions(stores.audit, now),
            "has_findings": stores.findings is not None,
            "has_catalog": stores.catalog is not None,
            "eol_days": EOL_HORIZON_DAYS,
            "shown_changes": SHOWN_CHANGES,
        }
        if stores.findings is not None and stores.costs is not None:
            every = stores.findings.find(FindingFilter(status=None))
            kinds, notes = findings_by_kind([f for f in every if f.status == OPEN], stores.costs)
            opened, resolved = week_changes(every, now)
            context |= {"kinds": kinds, "notes": notes, "opened": opened, "resolved": resolved}
        if stores.catalog is not None:
            today = dt.datetime.fromtimestamp(now, dt.UTC).date()
            report = stores.catalog.outdated(today, horizon_days=EOL_HORIZON_DAYS)
            soon, past = end_of_life(report.rows)
            context |= {"eol": soon, "eol_past": past}
        return pages.render("overview.html", context, session=session)
