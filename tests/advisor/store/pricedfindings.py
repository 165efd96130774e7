"""A finding on the small fleet (fleetbatches) with measured launches and imported wages, and
the figures its cost must come to, for the findings API and CLI tests.

``fin-1`` (finance) launched libreoffice 5 times on days 0 and 2 (its reporting span: 3 days),
``hr-1`` (hr) 60 times on day 1 after a firefox launch on day 0 (2 days): 5/3 and 30 launches a
day. The cost settings are the shipped ones (default wage 30.00, an estimate) with a finance
wage of 45.00. A run at ``RUN_AT`` finds libreoffice 25 % slower on both hosts (median 2.0 s
before: 0.5 s a launch, 0.4 to 0.6).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from advisor.analysis.findings import Finding
from advisor.catalog.costs import parse_costs
from advisor.recommend.impact import DAYS_PER_MONTH, DAYS_PER_YEAR
from advisor.store.analysis_data import SqlUpkeep
from advisor.store.catalog import SqlCatalogStore
from advisor.store.findings import SqlFindings
from advisor.store.sql import SqlStore
from tests.advisor.store.findingsdata import finding
from tests.advisor.store.fleetbatches import DAY, DAY0, HOUR, batch, launch, write_fleet

SHIPPED_COSTS = Path(__file__).resolve().parents[3] / "config" / "costs.toml"
FINANCE_WAGE = """
[wages.departments.finance]
amount = "45.00"
as_of = 2026-01-01
source = "HR pay scale 2026"
"""
RUN_AT = DAY0 + 3 * DAY
SLOWER = finding(hosts=("fin-1", "hr-1"), departments=("finance", "hr"), detected_at=RUN_AT)
FASTER = finding(
    "change_point",
    "libreoffice",
    {},
    cause="unknown",
    effect=-0.2,
    hosts=("fin-1", "hr-1"),
    departments=("finance", "hr"),
    detected_at=RUN_AT,
)
FIN_PER_DAY = 5 / 3
HR_PER_DAY = 30.0


def write_priced_fleet(
    store: SqlStore, *, found: tuple[Finding, ...] = (SLOWER,), costs: bool = True
) -> None:
    """The fleet of the module docstring, rolled up, its costs imported (unless ``costs`` is
    False) and ``found`` recorded by a run at ``RUN_AT``."""
    write_fleet(store)
    store.ingest(
        "hr-1",
        batch(
            "hr-1",
            2,
            launches=[launch(DAY0 + DAY + 60.0 * i, 1.0, None) for i in range(60)],
        ),
        received_at=DAY0 + DAY + 2 * HOUR,
        sent_at=None,
    )
    SqlUpkeep(store.engine).roll_up(now=RUN_AT)
    if costs:
        settings = parse_costs(SHIPPED_COSTS.read_text() + FINANCE_WAGE, "costs.toml")
        SqlCatalogStore(store.engine).import_costs(settings, source="costs.toml", now=RUN_AT)
    SqlFindings(store.engine).record_run(
        [replace(f, detected_at=RUN_AT) for f in found], now=RUN_AT
    )


def money(seconds_per_launch: float, launches_per_day: float, wage: str) -> Decimal:
    """What ``impact`` must make of a department's year: hours a year at ``wage``, to the cent
    (the floats multiplied in the order impact multiplies them)."""
    hours = seconds_per_launch * (launches_per_day * DAYS_PER_YEAR / 3600)
    return (Decimal(repr(hours)) * Decimal(wage)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_EVEN
    )


def hours_a_month(seconds_per_launch: float, launches_per_day: float) -> float:
    return seconds_per_launch * (launches_per_day * DAYS_PER_MONTH / 3600)
