"""The findings pages: the analysis' findings, filtered and paged, and one finding in full.

==================================  ===============================================================
route                               what it shows
==================================  ===============================================================
GET /ui/findings                    the findings, open first and largest effect first; GET form:
                                    status, kind, app, department; ``offset`` pages it
                                    (:data:`PAGE_SIZE` a page)
GET /ui/findings/{key}              one finding: effect, cost, cause, evidence, hosts by
                                    hostname, history (its key, or the id ``findings list``
                                    prints)
==================================  ===============================================================

The figures are the CLI's (advisor.cli.findings: the table's columns and ``findings show``'s
cost paragraph), priced by :class:`advisor.finding_costs.FindingCosts` as the API prices them:
only the page shown is priced. The store sorts and filters findings (they are few) but has no
offset: a page reads the findings up to its end and shows the last :data:`PAGE_SIZE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from advisor.analysis.finding_status import OPEN, STATUSES, Status
from advisor.analysis.findings import KINDS
from advisor.cli.findings import cost_lines, finding_columns
from advisor.cli.ids import finding_id
from advisor.cli.output import Column
from advisor.cli.units import percent, when
from advisor.finding_costs import CostedFindings, FindingCosts
from advisor.store.findings import FindingFilter, FindingHistory, Findings, StoredFinding
from advisor.store.users import UiSession
from advisor.ui.auth import Authenticator, UiRefusal
from advisor.ui.pages import PREFIX, Pages

PAGE_SIZE = 25
HISTORY = 40
"""History points the detail page shows (the newest), as ``findings show`` prints."""
SHOWN_HOSTS = 500
"""Hosts the detail page names; the rest are counted."""
EMPTY_HINT = (
    "the analysis has not found any: it runs every [jobs] analysis_interval inside "
    "`fleetsight-advisor serve`, or now with `fleetsight-advisor analyse`"
)
LISTED = (
    "status",
    "kind",
    "app",
    "effect",
    "seconds_per_launch",
    "hours_per_month",
    "money_per_year",
    "cause",
    "since",
    "hosts",
    "departments",
)
"""The CLI table's columns the list shows, by name."""


def detail_path(key: str) -> str:
    """The detail page of the finding ``key`` (every reserved character quoted)."""
    return f"{PREFIX}/findings/{quote(key, safe='')}"


@dataclass(frozen=True, slots=True)
class FindingQuery:
    """The list's GET form, checked: an unknown status or kind is refused, not ignored."""

    status: Status | None
    kind: str | None
    app: str | None
    department: str | None
    offset: int

    @classmethod
    def of(cls, params: dict[str, str]) -> FindingQuery:
        def text(name: str) -> str | None:
            return params.get(name, "").strip()[:200] or None

        status_text = text("status") or OPEN
        status: Status | None = None
        if status_text != "all":
            if status_text not in STATUSES:
                raise UiRefusal(400, f"no such status: {status_text}")
            status = next(s for s in STATUSES if s == status_text)
        kind = text("kind")
        if kind is not None and kind not in KINDS:
            raise UiRefusal(400, f"no such kind: {kind}")
        try:
            offset = max(int(params.get("offset", "0") or 0), 0)
        except ValueError:
            raise UiRefusal(400, "offset must be a whole number") from None
        return cls(status, kind, text("app"), text("department"), offset)

    def where(self) -> FindingFilter:
        return FindingFilter(
            status=self.status, app=self.app, kind=self.kind, department=self.department
        )

    def link(self, offset: int) -> str:
        values = {
            "status": self.status or "all",
            "kind": self.kind or "",
            "app": self.app or "",
            "department": self.department or "",
            "offset": str(offset),
        }
        kept = {k: v for k, v in values.items() if v and v != "0" and (k, v) != ("status", OPEN)}
        return f"{PREFIX}/findings" + (f"?{urlencode(kept)}" if kept else "")


def column_texts(found: StoredFinding, columns: Sequence[Column[StoredFinding]]) -> dict[str, str]:
    """What the CLI's table shows of ``found``, by column name."""
    texts = {}
    for column in columns:
        texts[column.name] = (
            column.text(found) if column.text is not None else str(column.value(found))
        )
    return texts


def list_rows(
    found: Sequence[StoredFinding], costed: CostedFindings, as_of: float | None
) -> list[dict[str, str]]:
    """The list's lines: the CLI's columns, with the detail page's link."""
    columns = [c for c in finding_columns(found, as_of, costed) if c.name in LISTED]
    rows = []
    for item in found:
        texts = column_texts(item, columns)
        texts["href"] = detail_path(item.key)
        rows.append(texts)
    return rows


def evidence_rows(found: StoredFinding) -> list[tuple[str, str]]:
    """The evidence as ``findings show`` prints it: (what, value)."""
    evidence = found.evidence
    rows = [("Method", str(evidence.get("method") or "-"))]
    for side in ("before", "after"):
        q = evidence.get(side)
        if isinstance(q, dict):
            rows.append(
                (
                    side.capitalize(),
                    f"{q.get('count')} launches, p10 {seconds(q.get('p10'))}, median "
                    f"{seconds(q.get('p50'))}, p90 {seconds(q.get('p90'))}",
                )
            )
    for name in ("p_value", "q_value"):
        if isinstance(evidence.get(name), int | float):
            rows.append((name.replace("_", "-"), f"{evidence[name]:.3g}"))
    detail = evidence.get("detail")
    for name, value in sorted((detail if isinstance(detail, dict) else {}).items()):
        rows.append((str(name).replace("_", " "), str(value)))
    return rows


def seconds(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.2f} s"
    return "-"


def history_rows(history: FindingHistory) -> list[dict[str, str]]:
    """The newest :data:`HISTORY` points and every status event, newest first."""
    rows: list[tuple[float, dict[str, str]]] = []
    for point in history.points[-HISTORY:]:
        effect = point.effect
        rows.append(
            (
                point.detected_at,
                {
                    "at": when(point.detected_at),
                    "what": "found",
                    "effect": f"{percent(effect.estimate, signed=True)} "
                    f"[{percent(effect.low, signed=True)}, {percent(effect.high, signed=True)}]",
                    "hosts": str(point.hosts),
                    "cause": point.cause,
                },
            )
        )
    for event in history.events:
        rows.append(
            (
                event.at,
                {"at": when(event.at), "what": event.event, "effect": "", "hosts": "", "cause": ""},
            )
        )
    rows.sort(key=lambda pair: pair[0], reverse=True)
    return [row for _, row in rows]


def add_findings_pages(
    app: FastAPI, pages: Pages, auth: Authenticator, findings: Findings, costs: FindingCosts
) -> None:
    """``GET /findings`` and ``GET /findings/{key}`` on ``app``."""
    viewer = Depends(auth.require("viewer"))

    def newest_run() -> float | None:
        runs = findings.last_runs(1)
        return runs[0].analysed_at if runs else None

    @app.get("/findings")
    def finding_list(request: Request, session: UiSession = viewer) -> Response:
        query = FindingQuery.of(dict(request.query_params))
        found = findings.find(query.where(), limit=query.offset + PAGE_SIZE + 1)
        shown = found[query.offset : query.offset + PAGE_SIZE]
        costed = costs.of(shown)
        departments = sorted(
            {d for f in findings.find(FindingFilter(status=None)) for d in f.departments}
        )
        context = {
            "current": f"{PREFIX}/findings",
            "query": query,
            "rows": list_rows(shown, costed, newest_run()),
            "notes": costed.notes,
            "previous": query.link(max(query.offset - PAGE_SIZE, 0)) if query.offset else None,
            "next": query.link(query.offset + PAGE_SIZE)
            if len(found) > query.offset + PAGE_SIZE
            else None,
            "first": query.offset + 1,
            "last": query.offset + len(shown),
            "statuses": STATUSES,
            "kinds": KINDS,
            "departments": departments,
            "empty_hint": EMPTY_HINT,
            "filtered": any((query.kind, query.app, query.department, query.offset))
            or query.status != OPEN,
        }
        return pages.render("findings.html", context, session=session)

    @app.get("/findings/{key:path}")
    def finding_detail(key: str, session: UiSession = viewer) -> Response:
        found = findings.get(key) or by_id(key)
        if found is None:
            raise UiRefusal(404, "no such finding")
        history = findings.history(found.key, limit=HISTORY)
        costed = costs.of([found])
        as_of = newest_run()
        columns = finding_columns([found], as_of, costed)
        hosts = costed.host_details(found)
        return pages.render(
            "finding.html",
            {
                "current": f"{PREFIX}/findings",
                "found": found,
                "id": finding_id(found.key),
                "facts": column_texts(found, columns),
                "since": when(found.since),
                "first": when(found.first_detected_at),
                "last": when(found.last_detected_at),
                "resolved": when(found.resolved_at, ""),
                "cost": [line.strip() for line in cost_lines(costed, found)],
                "evidence": evidence_rows(found),
                "hosts": host_rows(hosts[:SHOWN_HOSTS]),
                "more_hosts": max(len(hosts) - SHOWN_HOSTS, 0),
                "history": history_rows(history),
                "history_total": history.stored_points,
            },
            session=session,
        )

    def by_id(given: str) -> StoredFinding | None:
        if len(given) != len(finding_id("")):
            return None
        every = findings.find(FindingFilter(status=None))
        return next((f for f in every if finding_id(f.key) == given), None)


def host_rows(details: Sequence[dict[str, str | None]]) -> list[dict[str, Any]]:
    """Each host by hostname (its id when not enrolled) and department."""
    return [
        {
            "name": d["hostname"] or d["host_id"],
            "department": d["department"] or "not enrolled",
        }
        for d in details
    ]
