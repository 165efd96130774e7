"""The recommendation engine: findings, fleet facts, the catalog and costs in, ranked and
costed recommendations out.

:func:`recommend` is pure: ``now`` is passed in, nothing is read or written. Its steps, one
module each:

1. **facts** (:mod:`~advisor.recommend.facts`, built by :func:`build_inputs`): per host and
   app the current version, the recent level of cold and warm starts and launches a day;
   per host its hardware and recent pressure;
2. **remedies** (:mod:`~advisor.recommend.remedies`): what could fix each finding's problem
   (upgrade, roll back, RAM, SSD, RAM and SSD, replace, end-of-life upgrades), alternatives
   in one group;
3. **benefit** (:mod:`~advisor.recommend.benefit`, :mod:`~advisor.recommend.evidence`): the
   seconds saved per launch with an interval, from hosts that already have the change (a
   scikit-learn model per app and start kind, bootstrap over hosts), or a finding's effect
   where that is logically the saving, or nothing; launches a day, hours and money;
4. **cost** (:mod:`~advisor.recommend.pricing`): licence, hardware, labour and downtime,
   one-off and yearly; net benefit, payback and ROI;
5. **risk and rank** (:mod:`~advisor.recommend.ranking`): the score, the risk-adjusted net
   benefit a year;
6. **pilot** (:mod:`~advisor.recommend.pilot`) where the evidence is weak;
7. **explanation and document** (:mod:`~advisor.recommend.explain`).

A recommendation's ``key`` is ``kind|app|target|scope`` (``upgrade|libreoffice|7.6.5|
from=7.6.4``, ``ram|*|16GiB|finance``): recomputed on every analysis run, the same problem
and remedy give the same key, so the store updates the recommendation and keeps its review.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from advisor.analysis.findings import Finding
from advisor.analysis.frames import FleetData
from advisor.catalog.costs import CostSettings
from advisor.recommend.benefit import Basis, Benefit, benefit
from advisor.recommend.budget import BudgetItem
from advisor.recommend.evidence import Evidence
from advisor.recommend.explain import document, explanation
from advisor.recommend.facts import FleetFacts, MachineInfo, fleet_facts
from advisor.recommend.impact import LaunchRate, Span, finding_impact
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.pilot import Pilot, pilot_reason, plan_pilot
from advisor.recommend.pricing import Cost, Economics, cost, economics
from advisor.recommend.ranking import Risk, assess, budget_item
from advisor.recommend.remedies import remedies
from advisor.recommend.remedy import Category, Kind
from advisor.recommend.vendor import VendorCatalog

__all__ = [
    "AFTER_PILOT",
    "RecommendInputs",
    "Recommendation",
    "VerifiedPilot",
    "build_inputs",
    "recommend",
]

AFTER_PILOT = "|after-pilot"
"""Appended to a remedy's key for the rollout to the rest once its pilot was verified: the
pilot keeps its own record (and its figures, as approved); the rollout is a new decision."""


@dataclass(frozen=True)
class VerifiedPilot:
    """What a verified pilot measured: a saving a launch whose interval is above zero, on
    ``hosts`` changed hosts against ``control_hosts`` not changed."""

    saving: Span
    hosts: int
    control_hosts: int


@dataclass(frozen=True)
class RecommendInputs:
    """What one run reads: the fleet's facts, the findings (open ones, as the store keeps
    them), the catalog's answers and the cost settings; and, by remedy key, the pilots the
    loop verified (a remedy with one is the rollout to the rest: no pilot again)."""

    facts: FleetFacts
    findings: tuple[Finding, ...]
    catalog: VendorCatalog
    costs: CostSettings
    verified_pilots: Mapping[str, VerifiedPilot] = field(default_factory=dict)


def build_inputs(
    data: FleetData,
    findings: Sequence[Finding],
    catalog: VendorCatalog,
    costs: CostSettings,
    *,
    now: float,
    hostnames: Mapping[str, str] | None = None,
    rates: Mapping[tuple[str, str], LaunchRate] | None = None,
    machines: Mapping[str, MachineInfo] | None = None,
    params: RecommendParameters | None = None,
) -> RecommendInputs:
    """The inputs of :func:`recommend` from what the store gives: the analysis' data, its
    findings, a catalog (e.g. :class:`~advisor.recommend.vendor.RecordCatalog`), the costs;
    hostnames by host id, the store's launch rates and inventory extras when it has them."""
    facts = fleet_facts(
        data, now=now, hostnames=hostnames, rates=rates, machines=machines, params=params
    )
    return RecommendInputs(facts, tuple(findings), catalog, costs)


@dataclass(frozen=True)
class Recommendation:
    """One ranked, costed recommendation.

    ``hosts`` are host ids, ``hostnames`` their names (same order), ``departments`` sorted;
    ``group`` names the problem: a budget takes at most one recommendation of a group.
    ``score`` is the risk-adjusted net benefit a year (:mod:`advisor.recommend.ranking`) and
    ``rank`` its place (1 first). ``pilot`` is set where the evidence is weak. ``document``
    holds every figure and its evidence, JSON-ready (:mod:`advisor.recommend.explain`).
    """

    key: str
    kind: Kind
    category: Category
    app: str
    target: str
    title: str
    group: str
    hosts: tuple[str, ...]
    hostnames: tuple[str, ...]
    departments: tuple[str, ...]
    finding_keys: tuple[str, ...]
    flags: tuple[str, ...]
    benefit: Benefit
    cost: Cost
    economics: Economics
    risk: Risk
    pilot: Pilot | None
    pilot_cost: Cost | None
    score: float
    rank: int
    explanation: str
    document: dict[str, Any]

    @property
    def basis(self) -> Basis:
        """Where the saving comes from: ``model``, ``finding`` or ``none``."""
        return self.benefit.basis

    @property
    def currency(self) -> str:
        return self.cost.currency

    @property
    def net_benefit_per_year(self) -> Decimal | None:
        return self.economics.net_benefit_per_year

    def budget_item(self) -> BudgetItem:
        """What the budget planner reads (:func:`advisor.recommend.ranking.budget_item`)."""
        return budget_item(
            self.key, self.cost, self.risk, departments=self.departments, group=self.group
        )


def recommend(
    inputs: RecommendInputs, *, now: float, params: RecommendParameters | None = None
) -> list[Recommendation]:
    """Every recommendation of the run, best first (module docstring).

    BLAS runs on one thread here: the engine's linear algebra is many small matrices (a
    few thousand rows by a few dozen columns), which threads only slow down, by 20 times
    on a loaded 2-core machine (a 2,000-row least-squares fit: 130 ms against 6 ms).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _recommend(inputs, now=now, params=params or RecommendParameters())


def _recommend(
    inputs: RecommendInputs, *, now: float, params: RecommendParameters
) -> list[Recommendation]:
    facts, catalog, costs = inputs.facts, inputs.catalog, inputs.costs
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    labels, row_label = _version_labels(facts, catalog)
    evidence = Evidence(facts, row_label, list(labels), params)
    departments = facts.departments()
    stakes: dict[str, Any] = {}
    built: list[Recommendation] = []
    for remedy in remedies(facts, inputs.findings, evidence, catalog, costs, params):
        saving = benefit(remedy, facts, evidence, costs, params)
        price = cost(remedy, facts, catalog, costs, params)
        money = saving.money_per_year
        figures = economics(
            money.estimate if money is not None else None, price, params.horizon_years
        )
        risk = assess(remedy, saving, price, catalog, today=today, params=params)
        piloted = inputs.verified_pilots.get(remedy.key)
        if piloted is not None:
            remedy = replace(
                remedy, key=remedy.key + AFTER_PILOT, flags=(*remedy.flags, "after_pilot")
            )
        reason = pilot_reason(saving, params) if piloted is None else None
        pilot = plan_pilot(remedy, saving, facts, reason, params) if reason else None
        pilot_price = (
            cost(remedy, facts, catalog, costs, params, only=set(pilot.hosts)) if pilot else None
        )
        for f in remedy.findings:
            if f.key not in stakes:
                stakes[f.key] = finding_impact(f, facts.rates, departments, costs)
        flags = remedy.flags + (("pilot",) if pilot else ()) + _cost_flags(price)
        remedy = replace(remedy, flags=flags)
        text = explanation(remedy, saving, price, figures, risk, pilot, facts, params)
        if piloted is not None:
            text += _after_pilot(piloted)
        doc = document(
            remedy,
            saving,
            price,
            figures,
            risk,
            pilot,
            pilot_price,
            [(f.key, stakes[f.key]) for f in remedy.findings],
            text,
            facts,
            params,
        )
        if piloted is not None:
            measured = piloted.saving
            doc["after_pilot"] = {
                "saving": {
                    "estimate": measured.estimate,
                    "low": measured.low,
                    "high": measured.high,
                },
                "hosts": piloted.hosts,
                "control_hosts": piloted.control_hosts,
            }
        hosts = facts.hosts
        built.append(
            Recommendation(
                key=remedy.key,
                kind=remedy.kind,
                category=remedy.category,
                app=remedy.app,
                target=remedy.target,
                title=remedy.title,
                group=remedy.group,
                hosts=tuple(hosts.host_id[h] for h in remedy.hosts),
                hostnames=tuple(hosts.hostname[h] for h in remedy.hosts),
                departments=tuple(sorted({hosts.department[h] for h in remedy.hosts})),
                finding_keys=tuple(f.key for f in remedy.findings),
                flags=flags,
                benefit=saving,
                cost=price,
                economics=figures,
                risk=risk,
                pilot=pilot,
                pilot_cost=pilot_price,
                score=risk.score,
                rank=0,
                explanation=text,
                document=doc,
            )
        )
    built.sort(key=lambda r: (-r.score, r.key))
    result = []
    for place, item in enumerate(built, start=1):
        item.document["rank"] = place
        result.append(replace(item, rank=place))
    return result


def _after_pilot(pilot: VerifiedPilot) -> str:
    s = pilot.saving
    return (
        f" A pilot on {pilot.hosts} hosts saved {s.estimate:.2f} s a launch ({s.low:.2f} to"
        f" {s.high:.2f} s) against {pilot.control_hosts} hosts not changed: this is the"
        " rollout to the rest."
    )


def _cost_flags(price: Cost) -> tuple[str, ...]:
    flags = []
    if not price.complete:
        flags.append("cost_incomplete")
    if any(p.estimate for p in price.parts if p.amount):
        flags.append("estimated_prices")
    return tuple(flags)


def _version_labels(
    facts: FleetFacts, catalog: VendorCatalog
) -> tuple[tuple[str, ...], np.ndarray]:
    """Per usage row its version's label: the vendor version where the catalog can order
    it, else the fleet's own name (-1 for the unknown version)."""
    usage = facts.usage
    names: dict[str, int] = {}
    width = max(len(facts.versions), 1)
    pairs, inverse = np.unique(usage.app * width + usage.version, return_inverse=True)
    codes = np.full(len(pairs), -1, dtype=np.int64)
    for i, pair in enumerate(pairs.tolist()):
        app, version = divmod(pair, width)
        raw = facts.versions[version] if version >= 0 else ""
        if not raw:
            continue
        label = catalog.vendor_version(facts.apps[app], raw) or raw
        codes[i] = names.setdefault(label, len(names))
    return tuple(names), codes[inverse.reshape(-1)]
