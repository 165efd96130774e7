"""What findings cost, read for the findings API and CLI: one read of the store per list of
findings, then :mod:`advisor.recommend.impact` (pure) does the arithmetic.

For a list of stored findings, :meth:`FindingCosts.of` reads, once each: the newest analysis
run's time (the window's end, ``as_of``; the newest ``last_detected_at`` of the list when no
run is recorded), the measured launch rates of the findings' apps and hosts over
``window_days`` days up to it (:meth:`~advisor.store.analysis_data.FleetFrames.launch_rates`:
one query for the whole list), the hosts (hostnames and departments) and the cost settings
imported by ``catalog import costs`` (:meth:`~advisor.store.catalog.CatalogStore.costs`).

The cost settings live in the database, as the catalog's outdated report reads them, so every
advisor on one database prices alike and the file is checked once, when it is imported (a
missing or bad file stops the import with one sentence naming the file and the key). Until
settings are imported, findings are shown in time without money, and ``note`` says how to
import them; nothing fails. A finding whose effect or median before is not a number has no
impact (None).

:func:`impact_document` is the JSON form both the API and ``findings list|show --format json``
give: figures exact, money as strings to the cent.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from advisor.analysis.findings import Effect
from advisor.catalog.costs import CostSettings, DatedPrice
from advisor.recommend.impact import (
    Affected,
    Impact,
    LaunchRate,
    Money,
    Span,
    TimeLost,
    priced,
    time_lost,
)
from advisor.store import HostRecord
from advisor.store.analysis_data import FleetFrames
from advisor.store.findings import Findings, StoredFinding

IMPORT_COSTS = "fleetsight-advisor catalog import costs config/costs.toml"
NO_COSTS = f"no cost settings imported: money is not shown until `{IMPORT_COSTS}`"
NO_RATES = "launch rates not available here: launches a day are counted as 0"


class HostList(Protocol):
    """Where hostnames and departments come from (:class:`advisor.store.Enrolments`)."""

    def list_hosts(self) -> list[HostRecord]: ...


class CostSource(Protocol):
    """Where the cost settings come from (:class:`advisor.store.catalog.CatalogStore`)."""

    def costs(self) -> CostSettings | None: ...


@dataclass(frozen=True, slots=True)
class FindingCost:
    """One finding's cost: its time, and its money when cost settings are imported."""

    time: TimeLost
    impact: Impact | None


@dataclass(frozen=True)
class CostedFindings:
    """What :meth:`FindingCosts.of` read and worked out for a list of findings."""

    as_of: float | None
    """The window's end (Unix seconds); None for an empty list."""
    window_days: int
    costs: CostSettings | None
    hosts: dict[str, HostRecord]
    by_key: dict[str, FindingCost | None]
    notes: tuple[str, ...] = ()

    def cost(self, found: StoredFinding) -> FindingCost | None:
        return self.by_key.get(found.key)

    def hostnames(self, found: StoredFinding) -> list[str]:
        """The hostnames of ``found``'s hosts, in its order; the id where none is known."""
        return [self._name(host) for host in found.hosts]

    def host_details(self, found: StoredFinding) -> list[dict[str, str | None]]:
        """Each host of ``found`` as ``{host_id, hostname, department}`` (None: unknown)."""
        details: list[dict[str, str | None]] = []
        for host_id in found.hosts:
            record = self.hosts.get(host_id)
            details.append(
                {
                    "host_id": host_id,
                    "hostname": record.hostname if record else None,
                    "department": record.department if record else None,
                }
            )
        return details

    def document(self, found: StoredFinding) -> dict[str, Any] | None:
        """``found``'s ``impact`` as JSON (:func:`impact_document`); None without one."""
        cost = self.cost(found)
        if cost is None or self.as_of is None:
            return None
        return impact_document(
            cost, as_of=self.as_of, window_days=self.window_days, notes=self.notes
        )

    def _name(self, host_id: str) -> str:
        record = self.hosts.get(host_id)
        return record.hostname if record else host_id


class FindingCosts:
    """Prices findings from the stores: see the module docstring. ``frames`` None (an API
    without the analysis data) counts every host as without launches; ``catalog`` None as
    no cost settings imported.

    The launch rates of the last list priced are kept, keyed by the window's end, its days,
    the apps and the hosts: asked for the same list again (a dashboard polling the API), no
    launch rates are read until a new analysis run moves the window's end. At 10,000 hosts a
    list of findings of every app reads most of the daily rows of the window (seconds).
    """

    def __init__(
        self,
        *,
        findings: Findings,
        hosts: HostList,
        frames: FleetFrames | None,
        catalog: CostSource | None,
        window_days: int,
    ) -> None:
        self._findings = findings
        self._hosts = hosts
        self._frames = frames
        self._catalog = catalog
        self._window_days = window_days
        self._kept: tuple[Hashable, dict[tuple[str, str], LaunchRate]] | None = None
        self._lock = threading.Lock()

    def of(self, found: Sequence[StoredFinding]) -> CostedFindings:
        hosts = {h.host_id: h for h in self._hosts.list_hosts()}
        costs = self._catalog.costs() if self._catalog is not None else None
        notes = [] if costs is not None else [NO_COSTS]
        if not found:
            return CostedFindings(None, self._window_days, costs, hosts, {}, tuple(notes))
        newest = self._findings.last_runs(1)
        as_of = newest[0].analysed_at if newest else max(f.last_detected_at for f in found)
        affected = {f.key: affected_of(f) for f in found}
        if self._frames is None:
            notes.append(NO_RATES)
            rates = {}
        else:
            rates = self._rates(
                self._frames,
                as_of,
                frozenset(a.app for a in affected.values() if a is not None),
                frozenset(h for a in affected.values() if a is not None for h in a.hosts),
            )
        departments = {host_id: record.department for host_id, record in hosts.items()}
        by_key: dict[str, FindingCost | None] = {}
        for key, subject in affected.items():
            if subject is None:
                by_key[key] = None
                continue
            time = time_lost(subject, rates, departments)
            by_key[key] = FindingCost(time, priced(time, costs) if costs is not None else None)
        return CostedFindings(as_of, self._window_days, costs, hosts, by_key, tuple(notes))

    def _rates(
        self, frames: FleetFrames, as_of: float, apps: frozenset[str], hosts: frozenset[str]
    ) -> dict[tuple[str, str], LaunchRate]:
        key = (as_of, self._window_days, apps, hosts)
        with self._lock:
            kept = self._kept
        if kept is not None and kept[0] == key:
            return kept[1]
        rates = frames.launch_rates(now=as_of, days=self._window_days, apps=apps, hosts=hosts)
        with self._lock:
            self._kept = (key, rates)
        return rates


def affected_of(found: StoredFinding) -> Affected | None:
    """What ``found``'s cost is counted from; None when its effect or its median before is
    not a number (nothing to multiply)."""
    before = found.evidence.get("before")
    median = before.get("p50") if isinstance(before, dict) else None
    effect = found.effect
    figures = (median, effect.estimate, effect.low, effect.high)
    if not all(isinstance(x, int | float) and math.isfinite(x) for x in figures):
        return None
    assert isinstance(median, int | float)
    return Affected(
        found.app,
        found.hosts,
        found.departments,
        Effect(effect.estimate, effect.low, effect.high),
        float(median),
    )


def impact_document(
    cost: FindingCost, *, as_of: float, window_days: int, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """A finding's cost as JSON. Seconds, launches and hours are numbers (negative: saved,
    for a finding that got faster); money is ``{estimate, low, high, currency}`` with
    strings to the cent, or None without cost settings (``notes`` says why).

    ``by_department`` has each department's hosts, launches a day, hours a month, money a
    year and the wage it was priced at (``{amount, currency, as_of, source, estimate}``);
    ``department`` is None for hosts of no known department (paid the default wage).
    """
    time, impact = cost.time, cost.impact
    priced_parts = impact.by_department if impact is not None else (None,) * len(time.by_department)
    departments = []
    for part, money in zip(time.by_department, priced_parts, strict=True):
        departments.append(
            {
                "department": part.department or None,
                "hosts": part.hosts,
                "launches_per_day": part.launches_per_day,
                "hours_per_month": span_document(part.hours_per_month),
                "money_per_year": None if money is None else money_document(money.money_per_year),
                "wage": None
                if money is None
                else wage_document(money.wage, money.money_per_year.currency),
            }
        )
    return {
        "as_of": as_of,
        "window_days": window_days,
        "seconds_per_launch": span_document(time.seconds_per_launch),
        "launches_per_day": time.launches_per_day,
        "hosts_without_launches": time.hosts_without_launches,
        "hours_per_month": span_document(time.hours_per_month),
        "money_per_year": None if impact is None else money_document(impact.money_per_year),
        "by_department": departments,
        "notes": list(notes),
    }


def span_document(span: Span) -> dict[str, float]:
    return {"estimate": span.estimate, "low": span.low, "high": span.high}


def money_document(money: Money) -> dict[str, str]:
    return {
        "estimate": cents(money.estimate),
        "low": cents(money.low),
        "high": cents(money.high),
        "currency": money.currency,
    }


def wage_document(wage: DatedPrice, currency: str) -> dict[str, Any]:
    return {
        "amount": cents(wage.amount),
        "currency": currency,
        "as_of": wage.as_of.isoformat(),
        "source": wage.source,
        "estimate": wage.estimate,
    }


def cents(amount: Decimal) -> str:
    """An amount as a plain decimal string to the cent (never an exponent).

    >>> cents(Decimal("1234.5")), cents(Decimal("-0.004")), cents(Decimal("3E+2"))
    ('1234.50', '0.00', '300.00')
    """
    rounded = amount.quantize(Decimal("0.01"))
    return f"{rounded + 0:f}"  # + 0 turns -0.00 into 0.00
