"""The outdated report as JSON-ready data: what ``catalog outdated --format json|csv`` prints
and the API's /catalog/outdated answers, so both say the same thing the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from advisor.catalog.fleet import OutdatedReport, OutdatedRow

OUTDATED_COLUMNS = (
    "department",
    "host_id",
    "hostname",
    "product",
    "package",
    "package_version",
    "installed",
    "cycle",
    "latest",
    "newest_in_cycle",
    "newest_supported",
    "offered",
    "offered_security",
    "status",
    "end_of_life_on",
    "cost_per_seat",
    "currency",
)


def outdated_dict(row: OutdatedRow) -> dict[str, Any]:
    """``row`` as JSON-ready values (dates ISO, money as decimal text)."""
    values: dict[str, Any] = {name: getattr(row, name) for name in OUTDATED_COLUMNS}
    if row.end_of_life_on is not None:
        values["end_of_life_on"] = row.end_of_life_on.isoformat()
    if row.cost_per_seat is not None:
        values["cost_per_seat"] = str(row.cost_per_seat)
    return values


def outdated_document(report: OutdatedReport) -> dict[str, Any]:
    """``report`` grouped by department, JSON-ready (beside the caller's own ``at``)."""
    return {
        "departments": [
            {
                "department": department,
                "hosts": len({row.host_id for row in rows}),
                "rows": [outdated_dict(row) for row in rows],
            }
            for department, rows in by_department(report.rows).items()
        ],
        "unordered": [
            {
                "host_id": u.host_id,
                "product": u.product,
                "package": u.package,
                "version": u.version,
                "reason": u.reason,
            }
            for u in report.unordered
        ],
    }


def by_department(rows: Sequence[OutdatedRow]) -> dict[str, list[OutdatedRow]]:
    """``rows`` grouped by department, in the order the departments first appear."""
    groups: dict[str, list[OutdatedRow]] = {}
    for row in rows:
        groups.setdefault(row.department, []).append(row)
    return groups
