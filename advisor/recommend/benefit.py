"""What a remedy saves: seconds per launch with an interval, launches a day, hours, money.

Per usage row the remedy touches (a host, an app, a start kind), the seconds one launch
would save are the host's current median load time times the share the change removes:
``exp(level) * (1 - exp(-saving))``, ``saving`` on the log scale. Summed over rows weighted
by their launches a day they give the seconds saved a day, per department; divided by the
launches a day, the seconds per launch. Hours and money follow :mod:`advisor.recommend.impact`
(each department's hours at its wage, to the cent; the year's money their sum, bounds too).

Where the saving comes from, the **basis**:

- ``model``: the fleet's hosts that already have the change, against those that do not
  (:mod:`advisor.recommend.evidence`), on every app and start kind whose model has at least
  ``min_evidence_hosts`` hosts with it and can tell (rows it cannot tell save nothing, and
  are listed). The interval: the percentiles of the bootstrap over hosts of the whole sum
  (one resample redraws the fleet for every app's model), widened for few hosts on either
  side as the analysis widens (:func:`advisor.analysis.host_effects.few_hosts_widened`).
- ``finding``: the fleet cannot tell, but a finding's effect is logically the saving (a
  roll-back undoes the version's regression on every host running it; RAM undoes the memory
  pressure it names; an SSD an HDD tier). Its effect and interval, the interval
  ``fallback_widen`` times as wide about the estimate: the finding measured what happened,
  not what the remedy will do. Several findings on one row: the largest counts, not the sum.
- ``none``: neither. No figure is made up: seconds, hours and money are None; the launches a
  day the change would touch are still counted, and the recommendation becomes a pilot.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

from advisor.analysis.findings import Finding
from advisor.analysis.host_effects import few_hosts_widened
from advisor.analysis.start_kinds import KIND_NAMES
from advisor.catalog.costs import CostSettings
from advisor.recommend.evidence import Evidence
from advisor.recommend.facts import FleetFacts
from advisor.recommend.impact import (
    DAYS_PER_MONTH,
    DepartmentImpact,
    DepartmentTime,
    Money,
    Span,
    TimeLost,
    priced,
)
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.remedy import Remedy

__all__ = ["Basis", "Benefit", "EvidenceItem", "benefit"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Basis = Literal["model", "finding", "none"]


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """The evidence behind one app and start kind of a remedy's saving.

    ``hosts``: the remedy's hosts measured on it; ``model_hosts``, ``target_hosts`` (already
    changed) and ``compared_hosts`` describe the model (0 without one); ``share`` is the
    share of these launches' time saved and ``seconds_per_launch`` the seconds (None where
    nothing could tell); ``note`` says why not.
    """

    app: str
    start: str
    basis: Basis
    hosts: int
    model_hosts: int
    target_hosts: int
    compared_hosts: int
    launches_per_day: float
    share: Span | None
    seconds_per_launch: Span | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Benefit:
    """A remedy's saving (module docstring). ``share`` is the share of the touched launches'
    time saved; ``target_hosts``/``compared_hosts`` those of the model carrying most of the
    saving (0 without a model)."""

    basis: Basis
    seconds_per_launch: Span | None
    launches_per_day: float
    hours_per_month: Span | None
    money_per_year: Money | None
    share: Span | None
    by_department: tuple[DepartmentImpact, ...]
    evidence: tuple[EvidenceItem, ...]
    target_hosts: int
    compared_hosts: int


@dataclass
class _Sums:
    """Seconds saved a day and the time the touched launches take a day, per department,
    as estimate and bounds (or bootstrap draws)."""

    saved: defaultdict[str, float]
    time: defaultdict[str, float]
    launches: defaultdict[str, float]
    hosts: defaultdict[str, set[int]]
    draws: dict[str, FloatArray]
    low: defaultdict[str, float]
    high: defaultdict[str, float]

    @classmethod
    def empty(cls) -> _Sums:
        return cls(
            defaultdict(float),
            defaultdict(float),
            defaultdict(float),
            defaultdict(set),
            {},
            defaultdict(float),
            defaultdict(float),
        )


def benefit(
    remedy: Remedy,
    facts: FleetFacts,
    evidence: Evidence,
    costs: CostSettings,
    params: RecommendParameters,
) -> Benefit:
    """What ``remedy`` saves (module docstring)."""
    usage = facts.usage
    rows = np.flatnonzero(
        np.isin(usage.host, np.asarray(remedy.hosts, dtype=np.int64))
        & np.isin(usage.app, np.asarray(remedy.apps, dtype=np.int64))
    )
    touched = float(usage.launches_per_day[rows].sum())
    items, sums, main = _from_model(remedy, facts, evidence, rows, params)
    basis: Basis = "model"
    if not sums.saved:
        fallback_items, sums = _from_findings(remedy, facts, rows, params)
        basis = "finding" if sums.saved else "none"
        items = items if basis == "none" else fallback_items + items
    if basis == "none":
        return Benefit("none", None, touched, None, None, None, (), tuple(items), 0, 0)
    departments = sorted(sums.saved)
    total_saved = sum(sums.saved.values())
    total_launches = sum(sums.launches[d] for d in departments)
    total_time = sum(sums.time[d] for d in departments)
    if basis == "model":
        draws = np.sum([sums.draws[d] for d in departments], axis=0)
        low, high = _percentiles(draws, params.confidence, total_saved)
        hosts_either_side = min(main[0], main[1]) if main else 0
        low, high = few_hosts_widened(total_saved, low, high, hosts_either_side, params.confidence)
        per_dept = {}
        for d in departments:
            lo, hi = _percentiles(sums.draws[d], params.confidence, sums.saved[d])
            per_dept[d] = few_hosts_widened(
                sums.saved[d], lo, hi, hosts_either_side, params.confidence
            )
    else:
        low = sum(sums.low[d] for d in departments)
        high = sum(sums.high[d] for d in departments)
        per_dept = {d: (sums.low[d], sums.high[d]) for d in departments}
    by_department = tuple(
        department_impact(
            d,
            len(sums.hosts[d]),
            sums.launches[d],
            _per_launch(sums.saved[d], *per_dept[d], sums.launches[d]),
            costs,
        )
        for d in departments
        if sums.launches[d] > 0
    )
    saved = Span(total_saved, low, high)
    per_launch = _per_launch(total_saved, low, high, total_launches)
    return Benefit(
        basis=basis,
        seconds_per_launch=per_launch,
        launches_per_day=total_launches,
        hours_per_month=saved.times(DAYS_PER_MONTH / 3600),
        money_per_year=sum_money([d.money_per_year for d in by_department], costs.currency),
        share=saved.times(1 / total_time) if total_time > 0 else None,
        by_department=by_department,
        evidence=tuple(items),
        target_hosts=main[0] if main else 0,
        compared_hosts=main[1] if main else 0,
    )


def department_impact(
    department: str, hosts: int, launches_per_day: float, per_launch: Span, costs: CostSettings
) -> DepartmentImpact:
    """One department's saving in time and money, as :func:`advisor.recommend.impact.priced`
    counts a finding's cost (its hours at the department's wage, to the cent)."""
    hours = per_launch.times(launches_per_day * DAYS_PER_MONTH / 3600)
    time = TimeLost(
        seconds_per_launch=per_launch,
        launches_per_day=launches_per_day,
        hours_per_month=hours,
        by_department=(DepartmentTime(department, hosts, launches_per_day, hours),),
        hosts_without_launches=0,
    )
    return priced(time, costs).by_department[0]


def sum_money(amounts: list[Money], currency: str) -> Money:
    """The departments' money added up, bound by bound (as impact adds them)."""
    zero = Decimal("0.00")
    return Money(
        sum((m.estimate for m in amounts), zero),
        sum((m.low for m in amounts), zero),
        sum((m.high for m in amounts), zero),
        currency,
    )


def _per_launch(saved: float, low: float, high: float, launches: float) -> Span:
    if launches <= 0:
        return Span(0.0, 0.0, 0.0)
    return Span(saved / launches, low / launches, high / launches)


def _percentiles(draws: FloatArray, confidence: float, estimate: float) -> tuple[float, float]:
    """The percentile interval of ``draws``, stretched to hold ``estimate``."""
    finite = draws[np.isfinite(draws)]
    if finite.size < 2:
        return estimate, estimate
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return min(float(low), estimate), max(float(high), estimate)


def _from_model(
    remedy: Remedy,
    facts: FleetFacts,
    evidence: Evidence,
    rows: IntArray,
    params: RecommendParameters,
) -> tuple[list[EvidenceItem], _Sums, tuple[int, int] | None]:
    """The model's saving on every app and start kind of ``rows``; with the (target,
    compared) hosts of the model carrying the largest part of it."""
    usage, hosts = facts.usage, facts.hosts
    sums = _Sums.empty()
    items: list[EvidenceItem] = []
    largest: tuple[float, tuple[int, int]] | None = None
    rng = np.random.default_rng([params.seed, zlib.crc32(remedy.key.encode())])
    pairs = sorted(set(zip(usage.app[rows].tolist(), usage.cold[rows].tolist(), strict=True)))
    for app, cold in pairs:
        mine = rows[(usage.app[rows] == app) & (usage.cold[rows] == cold)]
        launches = usage.launches_per_day[mine]
        name, start = facts.apps[app], KIND_NAMES[int(cold)]
        model = evidence.model(app, cold)
        n_hosts = int(np.unique(usage.host[mine]).size)
        if model is None:
            items.append(
                EvidenceItem(
                    name,
                    start,
                    "none",
                    n_hosts,
                    0,
                    0,
                    0,
                    float(launches.sum()),
                    None,
                    None,
                    "too few hosts with a level for a model",
                )
            )
            continue
        contrast = model.contrast(evidence.profile(mine), remedy.change)
        ok = contrast.estimable & np.isfinite(usage.level[mine])
        described = (n_hosts, contrast.model_hosts, contrast.target_hosts, contrast.compared_hosts)
        if contrast.target_hosts < params.min_evidence_hosts or not ok.any():
            note = (
                f"{contrast.target_hosts} of the model's hosts have the change already"
                if contrast.target_hosts < params.min_evidence_hosts
                else "the fleet cannot tell this change apart from others it comes with"
            )
            items.append(
                EvidenceItem(
                    name, start, "none", *described, float(launches.sum()), None, None, note
                )
            )
            continue
        rows_ok = mine[ok]
        seconds = np.exp(usage.level[rows_ok])
        weight = usage.launches_per_day[rows_ok]
        saved = seconds * -np.expm1(-contrast.saving[ok])
        # Each resample also redraws every host's current level within its own error (the
        # day-to-day noise of its medians over the days measured): what a launch takes now
        # is measured, not known.
        spread = np.sqrt(_level_variance(facts, rows_ok))
        jitter = rng.standard_normal((rows_ok.size, contrast.draws.shape[1])) * spread[:, None]
        drawn = seconds[:, None] * np.exp(jitter) * -np.expm1(-contrast.draws[ok])
        department = hosts.department_array[usage.host[rows_ok]]
        item_draws = weight @ drawn
        for d in np.unique(department).tolist():
            at = department == d
            sums.saved[d] += float(weight[at] @ saved[at])
            sums.time[d] += float(weight[at] @ seconds[at])
            sums.launches[d] += float(weight[at].sum())
            sums.hosts[d].update(usage.host[rows_ok][at].tolist())
            part = weight[at] @ drawn[at]
            sums.draws[d] = sums.draws[d] + part if d in sums.draws else part
        item_saved = float(weight @ saved)
        time = float(weight @ seconds)
        lo, hi = _percentiles(item_draws, params.confidence, item_saved)
        span = Span(item_saved, lo, hi)
        unmeasured = int((~ok).sum())
        items.append(
            EvidenceItem(
                name,
                start,
                "model",
                *described,
                float(weight.sum()),
                span.times(1 / time) if time > 0 else None,
                span.times(1 / weight.sum()) if weight.sum() > 0 else None,
                f"{unmeasured} hosts without a level or a contrast the fleet can tell"
                if unmeasured
                else "",
            )
        )
        if largest is None or item_saved > largest[0]:
            largest = (item_saved, (contrast.target_hosts, contrast.compared_hosts))
    return items, sums, largest[1] if largest else None


def _level_variance(facts: FleetFacts, rows: IntArray) -> FloatArray:
    """The variance of each usage row's level, a median of its days' medians: pi/2 times
    their noise over their number, as for the median of normal values (the median noise of
    the rows asked about where a row's own is unknown)."""
    usage = facts.usage
    noise = usage.noise[rows]
    finite = noise[np.isfinite(noise)]
    fill = float(np.median(finite)) if finite.size else 0.0
    noise = np.where(np.isfinite(noise), noise, fill)
    return np.asarray(math.pi / 2 * noise / np.maximum(usage.days[rows], 1), dtype=np.float64)


def _from_findings(
    remedy: Remedy, facts: FleetFacts, rows: IntArray, params: RecommendParameters
) -> tuple[list[EvidenceItem], _Sums]:
    """The findings' effects as the saving (module docstring)."""
    usage, hosts = facts.usage, facts.hosts
    sums = _Sums.empty()
    if not remedy.fallback:
        return [], sums
    code = {host_id: i for i, host_id in enumerate(hosts.host_id)}
    app_code = {name: i for i, name in enumerate(facts.apps)}
    best: dict[tuple[int, int, bool], tuple[float, float, float, Finding]] = {}
    mine = set(remedy.hosts)
    for f in remedy.fallback:
        app = app_code.get(f.app)
        if app is None or f.effect.estimate <= 0:
            continue
        kinds = [f.scope["start"] == "cold"] if "start" in f.scope else [False, True]
        estimate = math.log1p(f.effect.estimate)
        low = estimate - params.fallback_widen * (estimate - math.log1p(max(f.effect.low, -0.99)))
        high = estimate + params.fallback_widen * (math.log1p(f.effect.high) - estimate)
        # A version's regression is the version's: every host running it; other findings
        # speak for the hosts they name.
        named = (
            remedy.hosts
            if f.kind == "version_change"
            else [code[h] for h in f.hosts if h in code and code[h] in mine]
        )
        for h in named:
            for cold in kinds:
                key = (h, app, cold)
                if key not in best or best[key][0] < estimate:
                    best[key] = (estimate, low, high, f)
    items: dict[tuple[int, bool], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0])
    counted: defaultdict[tuple[int, bool], set[int]] = defaultdict(set)
    for r in rows.tolist():
        key = (int(usage.host[r]), int(usage.app[r]), bool(usage.cold[r]))
        if key not in best or not math.isfinite(usage.level[r]):
            continue
        estimate, low, high, _ = best[key]
        seconds = math.exp(usage.level[r])
        weight = float(usage.launches_per_day[r])
        department = hosts.department[key[0]]
        values = [seconds * -math.expm1(-x) * weight for x in (estimate, low, high)]
        sums.saved[department] += values[0]
        sums.low[department] += values[1]
        sums.high[department] += values[2]
        sums.time[department] += seconds * weight
        sums.launches[department] += weight
        sums.hosts[department].add(key[0])
        total = items[key[1], key[2]]
        for i, v in enumerate([*values, seconds * weight, weight]):
            total[i] += v
        counted[key[1], key[2]].add(key[0])
    result = []
    for (app, cold), (saved, low, high, time, weight) in sorted(items.items()):
        span = Span(saved, low, high)
        result.append(
            EvidenceItem(
                facts.apps[app],
                KIND_NAMES[int(cold)],
                "finding",
                len(counted[app, cold]),
                0,
                0,
                0,
                weight,
                span.times(1 / time) if time > 0 else None,
                span.times(1 / weight) if weight > 0 else None,
                "the finding's effect undone, its interval "
                f"{params.fallback_widen:g} times as wide",
            )
        )
    return result, sums
