"""A recommendation in words, and the evidence behind every figure as a JSON-ready document.

:func:`explanation` writes the plain-language paragraph a manager reads: the problem (the
findings), the change, what it saves and how sure the fleet is, what it costs, what is left,
the risk and, when the evidence is weak, the pilot. :func:`document` holds every figure with
its evidence (which hosts, how many, which model, what interval) for the store to keep and
the UI to show: JSON types only, money as exact decimal strings, dates as ISO strings.

Document keys (version 1): ``key``, ``kind``, ``category``, ``app``, ``target``, ``title``,
``group``, ``scope``, ``flags``, ``explanation``, ``findings`` (keys), ``from_version``,
``target_version``, ``hosts`` (``count``, ``hostnames``, ``by_department``), ``benefit``
(``basis``, ``seconds_per_launch``, ``launches_per_day``, ``hours_per_month``,
``money_per_year``, ``share``, ``by_department``, ``evidence``, ``target_hosts``,
``compared_hosts``, ``method``, ``confidence``, ``resamples``), ``cost`` (``currency``,
``one_off``, ``recurring_per_year``, ``complete``, ``parts``), ``economics``
(``annual_benefit``, ``net_benefit_per_year``, ``payback_months``, ``roi``,
``horizon_years``), ``risk`` (``p_evidence``, ``p_version``, ``version_age_days``,
``interval_share``, ``risk_adjusted_benefit``, ``risk_aversion``, ``score``, ``formula``),
``pilot`` (None, or ``reason``, ``hostnames``, ``by_department``, ``app``, ``start``,
``effect``, ``effect_basis``, ``days``, ``comparison_hosts``, ``noise_sd``,
``launch_day_share``, ``baseline_days``, ``powered``, ``measurement``, ``cost``) and
``at_stake`` (per finding: what it costs now, by :mod:`advisor.recommend.impact`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from advisor.recommend.benefit import Benefit, EvidenceItem
from advisor.recommend.facts import FleetFacts
from advisor.recommend.impact import DepartmentImpact, Impact, Money, Span
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.pilot import Pilot
from advisor.recommend.pricing import Cost, CostPart, Economics
from advisor.recommend.ranking import Risk
from advisor.recommend.remedy import Remedy

__all__ = ["DOCUMENT_VERSION", "MODEL_METHOD", "SCORE_FORMULA", "document", "explanation"]

DOCUMENT_VERSION = 1
MODEL_METHOD = (
    "linear model (scikit-learn) of each host's median log load time over its recent days, "
    "per app and start kind, on version, disk, RAM and core levels, department and recent "
    "pressure; the change as a counterfactual row; bootstrap over hosts"
)
SCORE_FORMULA = (
    "score = p_evidence * p_version * (B - risk_aversion * (B - B_low)) - recurring - "
    "one_off / horizon_years"
)


def explanation(
    remedy: Remedy,
    benefit: Benefit,
    price: Cost,
    money: Economics,
    risk: Risk,
    pilot: Pilot | None,
    facts: FleetFacts,
    params: RecommendParameters,
) -> str:
    """The plain-language paragraph (module docstring)."""
    sentences = [_problem(remedy)]
    sentences.append(f"Recommended: {_lower_first(remedy.title)} ({_departments(remedy, facts)}).")
    sentences.append(_benefit_sentence(remedy, benefit))
    sentences.append(_cost_sentence(price))
    if money.net_benefit_per_year is not None:
        payback = (
            f"paid back in {money.payback_months:g} months"
            if money.payback_months is not None
            else "never paid back"
        )
        sentences.append(
            f"Net {_money(money.net_benefit_per_year, price.currency)} a year over "
            f"{money.horizon_years} years, {payback}"
            + (f", ROI {money.roi:.0%}." if money.roi is not None else ".")
        )
    if risk.p_version < 1 and remedy.target_version is not None:
        age = (
            f"was released {risk.version_age_days} days ago"
            if risk.version_age_days is not None
            else "has no known release date"
        )
        sentences.append(
            f"Version {remedy.target_version} {age}: its benefit counts {risk.p_version:.0%}."
        )
    sentences.append(
        "Ranked by the risk-adjusted net benefit a year: "
        f"{_money(Decimal(repr(round(risk.score, 2))), price.currency)}."
    )
    if "end_of_life" in remedy.flags and remedy.kind != "end_of_life":
        sentences.append(f"{remedy.from_version} is at its end of life: the upgrade is due anyway.")
    if pilot is not None:
        sentences.append(_pilot_sentence(pilot, facts))
    return " ".join(s for s in sentences if s)


def _problem(remedy: Remedy) -> str:
    if not remedy.findings:
        if remedy.kind == "end_of_life":
            return (
                f"{remedy.app} {remedy.from_version} has reached its end of life: it gets no "
                "more security fixes."
            )
        return ""
    parts = []
    for f in remedy.findings[:3]:
        start = f" ({f.scope['start']} starts)" if "start" in f.scope else ""
        pct = f"{abs(f.effect.estimate):.0%}"
        if f.kind == "hardware_tier":
            parts.append(
                f"{f.app} is {pct} {f.direction}{start} on {f.scope.get('tier', '')} hosts "
                f"than on the others, all along ({len(f.hosts)} hosts)"
            )
        else:
            since = dt.datetime.fromtimestamp(f.since, dt.UTC).date().isoformat()
            cause = {
                "version": f"after version {f.scope.get('version', '?')}",
                "memory": "with memory pressure",
                "swap": "with swapping",
                "disk_io": "with disk io pressure",
                "cpu": "with cpu pressure",
            }.get(f.cause, "")
            parts.append(
                f"{f.app} got {pct} {f.direction}{start} on {len(f.hosts)} hosts since "
                f"{since} {cause}".rstrip()
            )
    more = len(remedy.findings) - 3
    tail = f" (and {more} more findings)" if more > 0 else ""
    return "Found: " + "; ".join(parts) + tail + "."


def _benefit_sentence(remedy: Remedy, benefit: Benefit) -> str:
    saving = benefit.seconds_per_launch
    money = benefit.money_per_year
    if benefit.basis == "none" or saving is None or money is None:
        reasons = sorted({item.note for item in benefit.evidence if item.note})
        why = f" ({reasons[0]})" if reasons else ""
        return (
            "The fleet has no evidence of what this saves yet" + why + ", so no saving is "
            f"claimed; it touches {benefit.launches_per_day:,.0f} launches a day."
        )
    hours = benefit.hours_per_month
    assert hours is not None
    verb = "saves" if saving.estimate >= 0 else "costs"
    shown = saving if saving.estimate >= 0 else saving.times(-1)
    figures = (
        f"it {verb} {_seconds(shown)} per launch ({_seconds_range(shown)}) on "
        f"{benefit.launches_per_day:,.0f} launches a day: {hours.estimate:,.1f} hours a month, "
        f"{_money(money.estimate, money.currency)} a year ({_money(money.low, money.currency)} "
        f"to {_money(money.high, money.currency)})"
    )
    if benefit.basis == "model":
        apps = sorted({i.app for i in benefit.evidence if i.basis == "model"})
        return (
            f"{benefit.target_hosts} hosts already have this change; compared with "
            f"{benefit.compared_hosts} that do not by a model of {', '.join(apps)} that "
            f"controls for version, hardware, department and pressure, {figures}."
        )
    return (
        "No host has this change that the fleet can read; the finding's effect undone "
        f"stands in (interval widened): {figures}."
    )


def _cost_sentence(price: Cost) -> str:
    known = [p for p in price.parts if p.amount is not None and p.amount > 0]
    items: Counter[str] = Counter()
    for part in known:
        assert part.amount is not None
        items[part.item] += 1
    totals = {
        item: sum((p.amount for p in known if p.item == item and p.amount), Decimal(0))
        for item in items
    }
    detail = ", ".join(
        f"{name} {_money(totals[item], price.currency)}"
        for item, name in (
            ("licence", "licences"),
            ("hardware", "hardware"),
            ("labour", "IT labour"),
            ("downtime", "users' time"),
        )
        if item in totals
    )
    text = f"It costs {_money(price.one_off, price.currency)} once"
    if price.recurring_per_year > 0:
        text += f" and {_money(price.recurring_per_year, price.currency)} a year"
    if detail:
        text += f" ({detail})"
    if not price.complete:
        unknown = [p.what for p in price.parts if p.amount is None]
        text += f"; not priced: {', '.join(unknown)}"
    return text + "."


def _pilot_sentence(pilot: Pilot, facts: FleetFacts) -> str:
    counts = Counter(facts.hosts.department[h] for h in pilot.hosts)
    where = ", ".join(f"{d or 'no department'} {n}" for d, n in sorted(counts.items()))
    powered = (
        ""
        if pilot.powered
        else " (even so the effect may be too small to see: take it as a first look)"
    )
    return (
        f"The evidence is weak ({pilot.reason}): pilot it on {len(pilot.hosts)} hosts "
        f"({where}) for {pilot.days} days, measuring the {pilot.measurement}; sized to see a "
        f"{pilot.effect:.0%} saving ({pilot.effect_basis}){powered}."
    )


def _departments(remedy: Remedy, facts: FleetFacts) -> str:
    counts = Counter(facts.hosts.department[h] for h in remedy.hosts)
    return ", ".join(f"{d or 'no department'} {n}" for d, n in sorted(counts.items()))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _seconds(span: Span) -> str:
    return f"{span.estimate:.2f} s"


def _seconds_range(span: Span) -> str:
    return f"{span.low:.2f} to {span.high:.2f} s, 95 %"


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


# --- the document ---------------------------------------------------------------------------


def document(
    remedy: Remedy,
    benefit: Benefit,
    price: Cost,
    money: Economics,
    risk: Risk,
    pilot: Pilot | None,
    pilot_cost: Cost | None,
    stakes: Sequence[tuple[str, Impact]],
    text: str,
    facts: FleetFacts,
    params: RecommendParameters,
) -> dict[str, Any]:
    """The JSON-ready document (module docstring)."""
    hosts = facts.hosts
    return {
        "version": DOCUMENT_VERSION,
        "key": remedy.key,
        "kind": remedy.kind,
        "category": remedy.category,
        "app": remedy.app,
        "target": remedy.target,
        "title": remedy.title,
        "group": remedy.group,
        "scope": remedy.scope,
        "flags": list(remedy.flags),
        "explanation": text,
        "findings": [f.key for f in remedy.findings],
        "from_version": remedy.from_version,
        "target_version": remedy.target_version,
        "hosts": {
            "count": len(remedy.hosts),
            "hostnames": [hosts.hostname[h] for h in remedy.hosts],
            "by_department": dict(
                sorted(Counter(hosts.department[h] for h in remedy.hosts).items())
            ),
        },
        "benefit": _benefit_document(benefit, params),
        "cost": _cost_document(price),
        "economics": {
            "annual_benefit": _decimal(money.annual_benefit),
            "net_benefit_per_year": _decimal(money.net_benefit_per_year),
            "payback_months": money.payback_months,
            "roi": money.roi,
            "horizon_years": money.horizon_years,
        },
        "risk": {
            "p_evidence": risk.p_evidence,
            "p_version": risk.p_version,
            "version_age_days": risk.version_age_days,
            "interval_share": risk.interval_share,
            "risk_adjusted_benefit": str(risk.risk_adjusted_benefit),
            "risk_aversion": params.risk_aversion,
            "score": round(risk.score, 2),
            "formula": SCORE_FORMULA,
        },
        "pilot": None if pilot is None else _pilot_document(pilot, pilot_cost, facts),
        "at_stake": [
            {
                "finding": key,
                "launches_per_day": _float(impact.launches_per_day),
                "hours_per_month": _span(impact.hours_per_month),
                "money_per_year": _money_document(impact.money_per_year),
                "hosts_without_launches": impact.hosts_without_launches,
            }
            for key, impact in stakes
        ],
    }


def _benefit_document(benefit: Benefit, params: RecommendParameters) -> dict[str, Any]:
    return {
        "basis": benefit.basis,
        "seconds_per_launch": _span(benefit.seconds_per_launch),
        "launches_per_day": _float(benefit.launches_per_day),
        "hours_per_month": _span(benefit.hours_per_month),
        "money_per_year": _money_document(benefit.money_per_year),
        "share": _span(benefit.share),
        "by_department": [_department_document(d) for d in benefit.by_department],
        "evidence": [_evidence_document(item) for item in benefit.evidence],
        "target_hosts": benefit.target_hosts,
        "compared_hosts": benefit.compared_hosts,
        "method": MODEL_METHOD,
        "confidence": params.confidence,
        "resamples": params.n_resamples,
    }


def _evidence_document(item: EvidenceItem) -> dict[str, Any]:
    return {
        "app": item.app,
        "start": item.start,
        "basis": item.basis,
        "hosts": item.hosts,
        "model_hosts": item.model_hosts,
        "target_hosts": item.target_hosts,
        "compared_hosts": item.compared_hosts,
        "launches_per_day": _float(item.launches_per_day),
        "share": _span(item.share),
        "seconds_per_launch": _span(item.seconds_per_launch),
        "note": item.note,
    }


def _department_document(d: DepartmentImpact) -> dict[str, Any]:
    return {
        "department": d.department,
        "hosts": d.hosts,
        "launches_per_day": _float(d.launches_per_day),
        "hours_per_month": _span(d.hours_per_month),
        "money_per_year": _money_document(d.money_per_year),
        "wage": {
            "amount": str(d.wage.amount),
            "as_of": d.wage.as_of.isoformat(),
            "source": d.wage.source,
            "estimate": d.wage.estimate,
        },
    }


def _cost_document(price: Cost) -> dict[str, Any]:
    return {
        "currency": price.currency,
        "one_off": str(price.one_off),
        "recurring_per_year": str(price.recurring_per_year),
        "complete": price.complete,
        "parts": [_part_document(p) for p in price.parts],
    }


def _part_document(part: CostPart) -> dict[str, Any]:
    return {
        "item": part.item,
        "what": part.what,
        "seats": part.seats,
        "amount": _decimal(part.amount),
        "recurring": part.recurring,
        "as_of": part.as_of.isoformat() if part.as_of else None,
        "source": part.source,
        "estimate": part.estimate,
    }


def _pilot_document(pilot: Pilot, price: Cost | None, facts: FleetFacts) -> dict[str, Any]:
    hosts = facts.hosts
    return {
        "reason": pilot.reason,
        "hostnames": [hosts.hostname[h] for h in pilot.hosts],
        "by_department": dict(sorted(Counter(hosts.department[h] for h in pilot.hosts).items())),
        "app": pilot.app,
        "start": pilot.start,
        "effect": pilot.effect,
        "effect_basis": pilot.effect_basis,
        "days": pilot.days,
        "comparison_hosts": pilot.comparison_hosts,
        "noise_sd": pilot.noise_sd,
        "launch_day_share": pilot.launch_day_share,
        "baseline_days": pilot.baseline_days,
        "powered": pilot.powered,
        "measurement": pilot.measurement,
        "cost": None if price is None else _cost_document(price),
    }


def _span(span: Span | None) -> dict[str, float | None] | None:
    if span is None:
        return None
    return {
        "estimate": _float(span.estimate),
        "low": _float(span.low),
        "high": _float(span.high),
    }


def _money_document(money: Money | None) -> dict[str, str] | None:
    if money is None:
        return None
    return {
        "estimate": str(money.estimate),
        "low": str(money.low),
        "high": str(money.high),
        "currency": money.currency,
    }


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _float(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None
