"""The recommendation run: the engine's inputs read from the store, its recommendations
stored, and the loop after a decision (:mod:`advisor.recommend_job_loop`).

One run, as of ``now``:

1. **the catalog**: the cost settings imported with ``catalog import costs``, the product
   records, and which product each app is (its packages, as the inventories label them,
   matched to the catalog's identifiers and aliases): a :class:`RecordCatalog` on ``now``'s
   day, with Fleetsight's no-fee list (:mod:`advisor.catalog.no_fee`) for the products the
   catalog has no price for;
2. **the loop** first (rollouts, verifications, reopenings), so that a rollout measured
   worse this run already has its roll back proposed;
3. **the findings**: the open ones, and for every ``reopened`` software recommendation the
   regression its measurement amounts to (:func:`advisor.recommend.rollout.rollback_finding`);
4. **the facts**, a part at a time: the engine reads the last ``recent_days`` days
   (:class:`~advisor.recommend.parameters.RecommendParameters`), so each part of the store's
   daily rows (``FleetFrames.parts``: a PostgreSQL partition's apps) is loaded for those
   days alone, turned into facts and dropped before the next; the parts' facts are put
   together (:func:`advisor.recommend.facts.combine_facts`) with each host's reporting span
   over every part, so launches a day count the days a host launched any app. At 10,000
   hosts and 20 apps a part's 14 days are about 140,000 daily rows, the fleet's 90 days 14
   million;
5. **the engine** (:func:`advisor.recommend.engine.recommend`, pure);
6. **the store** (``Recommendations.propose``): every recommendation the engine made,
   except those whose key a person approved and the loop follows (approved, rolled out,
   verified, reopened): those keep the figures that were approved, which the loop measures
   against. Every other key gets the run's figures and keeps its state (a rejected or
   deferred one included); a proposed key the run no longer makes becomes obsolete. A
   pilot the loop verified with a saving (its interval above zero) is followed by the
   rollout to the rest: the engine proposes that remedy again under the key with
   ``|after-pilot`` (:data:`advisor.recommend.engine.AFTER_PILOT`), no pilot this time,
   the pilot's measurement in its explanation.

Without cost settings nothing is priced, so nothing is proposed (the loop still runs), and
the outcome says how to import them.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from advisor.analysis.findings import Effect, Evidence, Finding, Quantiles
from advisor.catalog.costs import CostSettings
from advisor.catalog.matching import Match, Matcher
from advisor.catalog.no_fee import shipped_no_fee
from advisor.recommend.engine import Recommendation, RecommendInputs, VerifiedPilot, recommend
from advisor.recommend.facts import (
    FleetFacts,
    MachineInfo,
    combine_facts,
    fleet_facts,
    reporting_days,
)
from advisor.recommend.impact import Span
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.rollout import rollback_finding
from advisor.recommend.vendor import RecordCatalog
from advisor.recommend_job_loop import LoopOutcome, plan_of, run_loop
from advisor.recommend_job_settings import RecommendSettings
from advisor.store.findings import FindingFilter, StoredFinding
from advisor.store.inventory import HostInventory
from advisor.store.open import Stores
from advisor.store.recommendations import Proposal, ProposeSummary, RecommendationFilter
from agent.shared.wire import InstalledPackage

IMPORT_COSTS = "fleetsight-advisor catalog import costs config/costs.toml"
NO_COSTS = f"no cost settings imported: nothing is priced or proposed until `{IMPORT_COSTS}`"
UNDER_REVIEW = ("approved", "rolled_out", "verified", "reopened")
"""States whose figures stay as approved: a run does not propose these keys again."""


@dataclass(frozen=True)
class RecommendOutcome:
    """One run: what it stored (``summary``; None when nothing was proposed for want of cost
    settings), the engine's recommendations it proposed, best first, the keys the engine
    made that stay as decided (``kept``), the loop, what it read and how long it took."""

    as_of: float
    summary: ProposeSummary | None
    recommendations: tuple[Recommendation, ...]
    kept: tuple[str, ...]
    loop: LoopOutcome
    hosts: int
    apps: int
    parts: int
    findings: int
    load_seconds: float
    engine_seconds: float
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> int:
        """Rows the run changed: new, changed and obsoleted recommendations, loop steps."""
        s = self.summary
        stored = (s.new + s.changed + s.obsoleted) if s is not None else 0
        return stored + self.loop.steps


def run_recommend(
    stores: Stores,
    *,
    now: float,
    settings: RecommendSettings | None = None,
    keep_alive: Callable[[], None] = lambda: None,
    progress: Callable[[str], None] = lambda text: None,
    monotonic: Callable[[], float] = time.monotonic,
) -> RecommendOutcome:
    """One run as of ``now`` (module docstring). ``keep_alive`` is called between steps and
    parts (the job runner renews its lease there); ``progress`` hears what the run is doing."""
    settings = settings or RecommendSettings()
    params = settings.params
    notes: list[str] = []
    progress("reading the catalog and the inventory")
    costs = stores.catalog.costs()
    hosts = stores.inventory.hosts()
    catalog = _catalog(stores, now, costs)
    progress("following approved recommendations")
    loop = run_loop(
        stores, catalog, now=now, settings=settings.loop, hosts=hosts, keep_alive=keep_alive
    )
    notes.extend(loop.notes)
    keep_alive()
    found = _findings(stores, now)
    if costs is None:
        notes.append(NO_COSTS)
        return RecommendOutcome(
            now, None, (), (), loop, len(hosts), 0, 0, len(found), 0.0, 0.0, tuple(notes)
        )
    began = monotonic()
    facts, parts = _facts(stores, hosts, now, params, keep_alive, progress)
    loaded = monotonic()
    progress(f"recommending for {len(found)} findings")
    pilots = _verified_pilots(stores)
    made = (
        recommend(
            RecommendInputs(facts, tuple(found), catalog, costs, pilots), now=now, params=params
        )
        if facts is not None
        else []
    )
    ranked = monotonic()
    keep_alive()
    held = {
        r.key
        for state in UNDER_REVIEW
        for r in stores.recommendations.list(RecommendationFilter(state=state))  # type: ignore[arg-type]
    }
    proposed = [r for r in made if r.key not in held]
    progress(f"storing {len(proposed)} recommendations")
    summary = stores.recommendations.propose([proposal(r) for r in proposed], now=now)
    return RecommendOutcome(
        as_of=now,
        summary=summary,
        recommendations=tuple(proposed),
        kept=tuple(r.key for r in made if r.key in held),
        loop=loop,
        hosts=len(facts.hosts) if facts is not None else len(hosts),
        apps=len(facts.apps) if facts is not None else 0,
        parts=parts,
        findings=len(found),
        load_seconds=loaded - began,
        engine_seconds=ranked - loaded,
        notes=tuple(notes),
    )


def proposal(r: Recommendation) -> Proposal:
    """What the store keeps of one of the engine's recommendations."""
    return Proposal(
        key=r.key,
        kind=r.kind,
        category=r.category,
        app=r.app,
        target=r.target,
        title=r.title,
        departments=r.departments,
        hosts=r.hosts,
        finding_keys=r.finding_keys,
        score=r.score,
        net_benefit_per_year=r.net_benefit_per_year,
        currency=r.currency,
        document=r.document,
    )


def finding_of(found: StoredFinding) -> Finding:
    """A stored finding as the analysis made it (its evidence from its JSON form)."""
    evidence = found.evidence
    return Finding(
        key=found.key,
        kind=found.kind,  # type: ignore[arg-type]
        app=found.app,
        scope=dict(found.scope),
        direction=found.direction,  # type: ignore[arg-type]
        effect=Effect(found.effect.estimate, found.effect.low, found.effect.high),
        cause=found.cause,  # type: ignore[arg-type]
        confidence=found.confidence,
        since=found.since,
        detected_at=found.last_detected_at,
        hosts=found.hosts,
        departments=found.departments,
        evidence=Evidence(
            before=_quantiles(evidence.get("before")),
            after=_quantiles(evidence.get("after")),
            p_value=_number(evidence.get("p_value")),
            q_value=_number(evidence.get("q_value")),
            method=str(evidence.get("method") or ""),
            detail={
                str(k): float(v)
                for k, v in (evidence.get("detail") or {}).items()
                if isinstance(v, int | float)
            },
        ),
    )


def app_products(
    packages: Mapping[str, Sequence[tuple[str, str]]], matcher: Matcher
) -> dict[str, str]:
    """Each app's catalog product: the one most of its packages match (ties: the first by
    slug); apps none of whose packages match are left out (the catalog then looks for a
    product named as the app)."""
    found: dict[str, str] = {}
    for app, names in packages.items():
        votes: Counter[str] = Counter()
        for source, package in names:
            outcome = matcher.match_one(InstalledPackage(package, "", source, None, app))  # type: ignore[arg-type]
            if isinstance(outcome, Match):
                votes[outcome.product] += 1
        if votes:
            found[app] = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return found


def _catalog(stores: Stores, now: float, costs: CostSettings | None) -> RecordCatalog:
    stored = stores.catalog.load()
    packages = stores.inventory.app_packages()
    products = app_products(packages, stored.matcher())
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    return RecordCatalog(
        stored.records,
        today=today,
        costs=costs,
        products=products,
        no_fee=shipped_no_fee(),
        packages=packages,
    )


def _verified_pilots(stores: Stores) -> dict[str, VerifiedPilot]:
    """By remedy key, the verified pilots that measured a saving (its interval above zero):
    the engine then proposes the rollout to the rest. A pilot that saved nothing the
    fleet could tell stays as it is, verified with its figures, for a person to read."""
    found = {}
    for stored in stores.recommendations.list(RecommendationFilter(state="verified")):
        realised = stored.realised or {}
        span = realised.get("seconds_per_launch")
        if not realised.get("pilot") or realised.get("worse") or not isinstance(span, dict):
            continue
        saving = Span(float(span["estimate"]), float(span["low"]), float(span["high"]))
        if saving.low > 0:
            hosts, controls = realised.get("hosts", 0), realised.get("control_hosts", 0)
            found[stored.key] = VerifiedPilot(saving, int(hosts), int(controls))
    return found


def _findings(stores: Stores, now: float) -> list[Finding]:
    """The open findings, and the regressions of reopened rollouts (module docstring)."""
    found = {f.key: finding_of(f) for f in stores.findings.find(FindingFilter(status="open"))}
    for stored in stores.recommendations.list(RecommendationFilter(state="reopened")):
        realised = stored.realised or {}
        plan = plan_of(stored)
        changed = realised.get("changed_hosts")
        hosts = [str(h) for h in changed] if isinstance(changed, list) else list(plan.hosts)
        extra = rollback_finding(
            plan,
            realised,
            hosts=hosts,
            departments=plan.departments,
            since=stored.rolled_out_at or now,
            detected_at=now,
        )
        if extra is not None:
            # The analysis' own finding of that regression, when it has one, is the better.
            found.setdefault(extra.key, extra)
    return list(found.values())


def _facts(
    stores: Stores,
    hosts: Sequence[HostInventory],
    now: float,
    params: RecommendParameters,
    keep_alive: Callable[[], None],
    progress: Callable[[str], None],
) -> tuple[FleetFacts | None, int]:
    """The fleet's facts, a part at a time (module docstring); None without launches."""
    frames = stores.frames
    parts = frames.parts(now=now, days=params.recent_days)
    if not parts:
        return None, 0
    hostnames = {h.host_id: h.hostname for h in hosts}
    machines = {h.host_id: MachineInfo(disk_gb=h.disk_gb) for h in hosts if h.disk_gb is not None}
    found = []
    spans: dict[str, tuple[int, int]] = {}
    for i, names in enumerate(parts.values(), start=1):
        progress(f"reading the recent days of part {i} of {len(parts)}")
        data = frames.load(now=now, days=params.recent_days, apps=names)
        found.append(
            fleet_facts(data, now=now, hostnames=hostnames, machines=machines, params=params)
        )
        for host, (first, last) in reporting_days(data, now=now, params=params).items():
            seen = spans.get(host)
            spans[host] = (
                (first, last) if seen is None else (min(seen[0], first), max(seen[1], last))
            )
        del data
        keep_alive()
    return combine_facts(found, spans), len(parts)


def _quantiles(value: object) -> Quantiles:
    if not isinstance(value, dict):
        return Quantiles(0, math.nan, math.nan, math.nan)
    count = value.get("count")
    return Quantiles(
        int(count) if isinstance(count, int | float) else 0,
        _number(value.get("p10")),
        _number(value.get("p50")),
        _number(value.get("p90")),
    )


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan
