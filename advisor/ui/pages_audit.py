"""The audit log page: who did what to what, when and why; managers and admins only.

=====================  ==========================================================================
route                  what it shows
=====================  ==========================================================================
GET /ui/audit          the entries, newest first, :data:`PAGE_SIZE` a page; GET form: ``actor``
                       (exactly), ``action`` (a prefix: ``recommendation.`` or
                       ``recommendation.approved``); ``before`` (an entry id) pages it
=====================  ==========================================================================

A viewer gets 403: the log names people, their addresses and their reasons. The store
filters by actor and pages by id; it has no filter by action, so with one this page reads
entries in chunks of :data:`CHUNK` and keeps the matching ones, reading at most
:data:`MAX_SCAN` entries a page (the page then says it stopped and links on from there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from advisor.cli.units import when
from advisor.store.audit import AuditEntry, AuditLog
from advisor.store.recommendations import Recommendations
from advisor.store.users import UiSession
from advisor.ui.auth import Authenticator, UiRefusal
from advisor.ui.pages import PREFIX, Pages
from advisor.ui.pages_recommendations import detail_path

PAGE_SIZE = 50
CHUNK = 500
MAX_SCAN = 5000
RECOMMENDATION = "recommendation:"


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """The page's GET form, checked."""

    actor: str | None
    action: str | None
    before: int | None

    @classmethod
    def of(cls, params: dict[str, str]) -> AuditQuery:
        def text(name: str) -> str | None:
            return params.get(name, "").strip()[:200] or None

        before_text = text("before")
        try:
            before = None if before_text is None else int(before_text)
        except ValueError:
            raise UiRefusal(400, "before must be an entry number") from None
        return cls(text("actor"), text("action"), before)

    def link(self, before: int | None) -> str:
        values = {
            "actor": self.actor or "",
            "action": self.action or "",
            "before": "" if before is None else str(before),
        }
        kept = {name: value for name, value in values.items() if value}
        return f"{PREFIX}/audit" + (f"?{urlencode(kept)}" if kept else "")


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of entries; ``next_before`` the next page's cursor (None: no more);
    ``stopped`` whether the scan for an action stopped at :data:`MAX_SCAN` entries."""

    entries: list[AuditEntry]
    next_before: int | None
    stopped: bool


def read_page(audit: AuditLog, query: AuditQuery, size: int = PAGE_SIZE) -> AuditPage:
    """The entries of ``query``'s page, newest first."""
    if query.action is None:
        found = audit.entries(limit=size + 1, actor=query.actor, before=query.before)
        shown = found[:size]
        return AuditPage(shown, shown[-1].entry_id if len(found) > size else None, False)
    kept: list[AuditEntry] = []
    cursor, scanned, exhausted = query.before, 0, False
    while len(kept) <= size and scanned < MAX_SCAN:
        chunk = audit.entries(limit=CHUNK, actor=query.actor, before=cursor)
        scanned += len(chunk)
        kept += [entry for entry in chunk if entry.action.startswith(query.action)]
        if len(chunk) < CHUNK:
            exhausted = True
            break
        cursor = chunk[-1].entry_id
    if len(kept) > size:
        return AuditPage(kept[:size], kept[size - 1].entry_id, False)
    if exhausted:
        return AuditPage(kept, None, False)
    return AuditPage(kept, cursor, True)


def entry_rows(
    entries: Sequence[AuditEntry], recommendations: Recommendations
) -> list[dict[str, Any]]:
    """Each entry: who, when (ISO 8601 UTC), what, its target (a recommendation's title and
    link when it is one), the change and the reason."""
    titles: dict[str, str | None] = {}
    rows = []
    for entry in entries:
        href = title = None
        if entry.target.startswith(RECOMMENDATION):
            key = entry.target.removeprefix(RECOMMENDATION)
            if key not in titles:
                found = recommendations.get(key)
                titles[key] = None if found is None else found.title
            title = titles[key]
            href = detail_path(key) if title is not None else None
        detail = entry.detail
        change = (
            f"{detail['from']} → {detail['to']}"
            if detail.get("from") is not None and detail.get("to") is not None
            else ""
        )
        rows.append(
            {
                "id": entry.entry_id,
                "at": when(entry.at),
                "actor": entry.actor,
                "action": entry.action,
                "target": title or entry.target,
                "href": href,
                "change": change,
                "reason": str(detail.get("reason") or ""),
            }
        )
    return rows


def add_audit_page(
    app: FastAPI,
    pages: Pages,
    auth: Authenticator,
    audit: AuditLog,
    recommendations: Recommendations,
) -> None:
    """``GET /audit`` on ``app``."""
    manager = Depends(auth.require("manager"))

    @app.get("/audit")
    def audit_log(request: Request, session: UiSession = manager) -> Response:
        query = AuditQuery.of(dict(request.query_params))
        page = read_page(audit, query)
        context = {
            "current": f"{PREFIX}/audit",
            "query": query,
            "rows": entry_rows(page.entries, recommendations),
            "next": None if page.next_before is None else query.link(page.next_before),
            "newest": query.link(None) if query.before is not None else None,
            "stopped": page.stopped,
            "scanned": MAX_SCAN,
            "filtered": query.actor is not None or query.action is not None,
        }
        return pages.render("audit.html", context, session=session)
