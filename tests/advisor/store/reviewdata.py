"""Recommendations with the figures the engine writes (advisor.recommend.explain's document),
for the tests of the recommendations CLI and API and the budget planner.

:func:`priced` is a :class:`~advisor.store.recommendations.Proposal` whose document holds a
benefit with its interval and evidence, a cost in parts, the economics, the risk and, for a
pilot, the pilot plan, in the shapes and types the engine uses (money as exact text).
:data:`KNAPSACK` is a fleet's worth of them where the ratio ranking misses the optimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from advisor.store import Store
from advisor.store.recommendations import Proposal, RecommendationState, StoredRecommendation
from tests.advisor.store.recommendationsdata import DAY, T0, proposal

HORIZON_YEARS = 3


def priced(
    key: str,
    *,
    kind: str = "upgrade",
    category: str = "regression",
    app: str = "libreoffice",
    target: str = "7.6.4",
    title: str | None = None,
    departments: Sequence[str] = ("finance",),
    hosts: Sequence[str] = ("fin-1", "fin-2"),
    hostnames: Sequence[str] | None = None,
    one_off: str = "1000.00",
    recurring: str = "0",
    benefit: str | None = "2000.00",
    risk_adjusted: str | None = None,
    seconds: tuple[float, float, float] | None = (0.4, 0.3, 0.5),
    basis: str = "model",
    group: str | None = None,
    pilot: bool = False,
    currency: str = "EUR",
    explanation: str | None = None,
) -> Proposal:
    """A recommendation priced as the engine prices one: ``benefit`` is its expected money a
    year (None: no evidence, no saving claimed), ``risk_adjusted`` what the rank and the
    budget count (default: the benefit); the score and the net benefit follow the engine's
    formulas over a 3-year horizon."""
    cost, yearly = Decimal(one_off), Decimal(recurring)
    money = None if benefit is None else Decimal(benefit)
    adjusted = Decimal(risk_adjusted) if risk_adjusted is not None else (money or Decimal(0))
    score = float(adjusted - yearly - cost / HORIZON_YEARS)
    net = (
        None if money is None else (money - yearly - cost / HORIZON_YEARS).quantize(Decimal("0.01"))
    )
    names = list(hostnames) if hostnames is not None else [f"{h}.example" for h in hosts]
    title = title or f"{kind} {app} to {target} on {len(hosts)} hosts"
    document = _document(
        key,
        kind=kind,
        category=category,
        app=app,
        target=target,
        title=title,
        group=group or key,
        departments=departments,
        hostnames=names,
        cost=cost,
        yearly=yearly,
        money=money,
        adjusted=adjusted,
        seconds=None if money is None else seconds,
        basis="none" if money is None else basis,
        pilot=pilot or money is None,
        currency=currency,
        explanation=explanation or f"Recommended: {title}.",
        score=score,
        net=net,
    )
    return proposal(
        key,
        kind=kind,
        category=category,
        app=app,
        target=target,
        title=title,
        departments=tuple(departments),
        hosts=tuple(hosts),
        finding_keys=(f"version_change|{app}|from_version=1|version=2",),
        score=score,
        net_benefit=net,
        currency=currency,
        document=document,
    )


def _document(
    key: str,
    *,
    kind: str,
    category: str,
    app: str,
    target: str,
    title: str,
    group: str,
    departments: Sequence[str],
    hostnames: Sequence[str],
    cost: Decimal,
    yearly: Decimal,
    money: Decimal | None,
    adjusted: Decimal,
    seconds: tuple[float, float, float] | None,
    basis: str,
    pilot: bool,
    currency: str,
    explanation: str,
    score: float,
    net: Decimal | None,
) -> dict[str, Any]:
    span = None if seconds is None else dict(zip(("estimate", "low", "high"), seconds, strict=True))
    money_doc = (
        None
        if money is None
        else {
            "estimate": str(money),
            "low": str((money * Decimal("0.8")).quantize(Decimal("0.01"))),
            "high": str((money * Decimal("1.2")).quantize(Decimal("0.01"))),
            "currency": currency,
        }
    )
    labour = (cost * Decimal("0.6")).quantize(Decimal("0.0001"))
    payback = (
        None
        if net is None or money is None or money <= yearly
        else round(float(cost / (money - yearly) * 12), 1)
    )
    return {
        "version": 1,
        "key": key,
        "kind": kind,
        "category": category,
        "app": app,
        "target": target,
        "title": title,
        "group": group,
        "scope": "",
        "flags": ["pilot"] if pilot else [],
        "explanation": explanation,
        "findings": [f"version_change|{app}|from_version=1|version=2"],
        "from_version": "1",
        "target_version": target,
        "hosts": {
            "count": len(hostnames),
            "hostnames": list(hostnames),
            "by_department": dict.fromkeys(departments, 1),
        },
        "benefit": {
            "basis": basis,
            "seconds_per_launch": span,
            "launches_per_day": 150.5,
            "hours_per_month": None
            if span is None
            else {"estimate": 12.5, "low": 9.0, "high": 16.0},
            "money_per_year": money_doc,
            "share": None,
            "by_department": [],
            "evidence": [
                {
                    "app": app,
                    "start": "cold",
                    "basis": basis,
                    "hosts": len(hostnames),
                    "model_hosts": 60,
                    "target_hosts": 11 if basis == "model" else 0,
                    "compared_hosts": 49,
                    "launches_per_day": 150.5,
                    "share": None,
                    "seconds_per_launch": span,
                    "note": "" if span is not None else "0 of the model's hosts have the change",
                }
            ],
            "target_hosts": 11 if basis == "model" else 0,
            "compared_hosts": 49,
            "method": "linear model (scikit-learn)",
            "confidence": 0.95,
            "resamples": 200,
        },
        "cost": {
            "currency": currency,
            "one_off": str(cost),
            "recurring_per_year": str(yearly),
            "complete": True,
            "parts": [
                {
                    "item": "labour",
                    "what": "IT labour (package_manager, 0.1 h a seat)",
                    "seats": len(hostnames),
                    "amount": str(labour),
                    "recurring": False,
                    "as_of": "2024-05-01",
                    "source": "US BLS",
                    "estimate": False,
                },
                {
                    "item": "downtime",
                    "what": "users' time (package_manager, 0.05 h a seat)",
                    "seats": len(hostnames),
                    "amount": str(cost - labour),
                    "recurring": False,
                    "as_of": "2026-01-01",
                    "source": "HR pay scale 2026",
                    "estimate": True,
                },
            ],
        },
        "economics": {
            "annual_benefit": None if money is None else str(money),
            "net_benefit_per_year": None if net is None else str(net),
            "payback_months": payback,
            "roi": None if net is None or cost == 0 else round(float(net * 3 / cost), 3),
            "horizon_years": HORIZON_YEARS,
        },
        "risk": {
            "p_evidence": 1.0 if basis == "model" else 0.0,
            "p_version": 1.0,
            "version_age_days": None,
            "interval_share": 0.2,
            "risk_adjusted_benefit": str(adjusted),
            "risk_aversion": 0.5,
            "score": round(score, 2),
            "formula": "score = ...",
        },
        "pilot": None
        if not pilot
        else {
            "reason": "no evidence: no host has this change yet",
            "hostnames": list(hostnames[:1]),
            "by_department": {departments[0]: 1} if departments else {},
            "app": app,
            "start": "cold",
            "effect": 0.2,
            "effect_basis": "the finding's slowdown undone",
            "days": 14,
            "comparison_hosts": 40,
            "noise_sd": 0.09,
            "launch_day_share": 0.6,
            "baseline_days": 9.0,
            "powered": True,
            "measurement": f"median cold start of {app} on the pilot hosts against the others",
            "cost": {
                "currency": currency,
                "one_off": "29.0040",
                "recurring_per_year": "0",
                "complete": True,
                "parts": [],
            },
        },
        "at_stake": [],
        "rank": 1,
    }


# A budget of 10,000 (EUR): the ratio ranking takes SPREADSHEET (7,000 a year for 6,000: the
# best ratio), then nothing else fits; the optimum is LEFT + RIGHT (10,000 a year).
SPREADSHEET = "upgrade|office|9.0|finance"
LEFT = "ssd|*|512GB|finance"
RIGHT = "ram|*|16GiB|finance"
# Alternatives for one problem (a group): RAM, or a new machine.
HR_RAM = "ram|*|16GiB|hr"
HR_REPLACE = "replace|*|-|hr"
PILOT = "upgrade|gimp|3.0|sales"
"""No evidence yet: no saving claimed, a pilot first."""

KNAPSACK: tuple[Proposal, ...] = (
    priced(SPREADSHEET, app="office", target="9.0", one_off="6000.00", benefit="7000.00"),
    priced(
        LEFT, kind="ssd", category="right_sizing", app="*", target="512GB", one_off="5000.00",
        benefit="5000.00",
    ),
    priced(
        RIGHT, kind="ram", category="right_sizing", app="*", target="16GiB", one_off="5000.00",
        benefit="5000.00",
    ),
    priced(
        HR_RAM, kind="ram", category="right_sizing", app="*", target="16GiB",
        departments=("hr",), hosts=("hr-1",), one_off="100.00", benefit="300.00",
        group="slow|hr-1",
    ),
    priced(
        HR_REPLACE, kind="replace", category="right_sizing", app="*", target="-",
        departments=("hr",), hosts=("hr-1",), one_off="900.00", benefit="950.00",
        group="slow|hr-1",
    ),
    priced(
        PILOT, app="gimp", target="3.0", departments=("sales",), hosts=("sales-1",),
        one_off="200.00", benefit=None,
    ),
)  # fmt: skip


def enrol(store: Store, hosts: dict[str, tuple[str, str]], *, now: float = T0) -> None:
    """Enrol each host id of ``hosts`` with its (hostname, department)."""
    tokens: dict[str, str] = {}
    for host_id, (hostname, department) in hosts.items():
        if department not in tokens:
            tokens[department], _ = store.create_token(
                department=department, expires_at=now + DAY, now=now
            )
        store.enrol(
            token=tokens[department],
            host_id=host_id,
            hostname=hostname,
            agent_version="0.1.0",
            now=now,
        )


def stored_of(
    proposed: Proposal,
    *,
    state: RecommendationState = "proposed",
    deferred_until: float | None = None,
    now: float = T0,
) -> StoredRecommendation:
    """``proposed`` as the store returns it in ``state``, without a database (for the pure
    code's tests)."""
    return StoredRecommendation(
        **{name: getattr(proposed, name) for name in Proposal.__slots__},
        state=state,
        state_reason=None,
        deferred_until=deferred_until,
        decided_by=None if state == "proposed" else "alice",
        decided_at=None if state == "proposed" else now,
        rolled_out_at=None,
        verified_at=None,
        created_at=now,
        updated_at=now,
        last_proposed_at=now,
        realised=None,
    )
