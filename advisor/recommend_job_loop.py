"""The loop of the recommendation run: approved changes seen in the inventory are rolled out,
rolled-out ones measured once their days have passed, verified or reopened.

The decisions are :mod:`advisor.recommend.rollout`'s and the measurement
:mod:`advisor.recommend.verify`'s (both pure); here the store is read and written:

1. every **approved** recommendation: its hosts' inventories now
   (advisor.store.inventory); when at least ``rollout_share`` of its enrolled hosts (of its
   pilot group, for a pilot) show the change, ``mark_rolled_out`` with which hosts did
   (the audit entry keeps them);
2. every **rolled-out** one whose days have passed since (the pilot's days, else
   ``verify_days``): the daily launch rows of its app (software), or of every app
   (hardware), from as many days before the earliest change up to now, a part of the store's
   rows at a time, each part read once for all the recommendations due; the changed hosts
   against the others over the same days; ``mark_verified`` with the measurement beside the
   prediction, or ``reopen`` with a reason when it made launches slower. Without a changed
   host with days enough on both sides yet, it waits for the next run.

A step refused because a person changed the recommendation in between (rejected it, say) is
left to the person: the run notes it and goes on.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from advisor.analysis.daily import daily_of
from advisor.analysis.frames import FleetData
from advisor.errors import TransitionRefused
from advisor.recommend.rollout import (
    DAY_SECONDS,
    HostState,
    Plan,
    check_rollout,
    day_of,
    verification_design,
)
from advisor.recommend.vendor import VendorCatalog
from advisor.recommend.verify import (
    Design,
    Measurement,
    Realised,
    VerifyParameters,
    measure,
    panel_of,
)
from advisor.recommend_job_settings import LoopSettings
from advisor.store.audit import AuditLog, recommendation_target
from advisor.store.inventory import HostInventory
from advisor.store.open import Stores
from advisor.store.recommendations import RecommendationFilter, StoredRecommendation

GIB = 2.0**30
MIN_MEASURE_DAYS = 7  # a weekly cycle: the least a measurement reads on either side
AUDIT_PAGE = 200
MAX_NAMED_HOSTS = 2000


@dataclass(frozen=True)
class LoopOutcome:
    """What one run of the loop did: keys rolled out, verified and reopened (with their
    measurement), approved ones still waiting for their hosts, rolled-out ones still waiting
    for their days or their data; ``notes`` for the summary."""

    rolled_out: tuple[str, ...] = ()
    verified: tuple[tuple[str, Realised], ...] = ()
    reopened: tuple[tuple[str, Realised], ...] = ()
    waiting: tuple[str, ...] = ()
    measuring: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def steps(self) -> int:
        return len(self.rolled_out) + len(self.verified) + len(self.reopened)


def plan_of(stored: StoredRecommendation) -> Plan:
    """The loop's view of a stored recommendation."""
    return Plan.of(
        key=stored.key,
        kind=stored.kind,
        app=stored.app,
        target=stored.target,
        hosts=stored.hosts,
        departments=stored.departments,
        document=stored.document,
    )


def run_loop(
    stores: Stores,
    catalog: VendorCatalog,
    *,
    now: float,
    settings: LoopSettings,
    hosts: Sequence[HostInventory],
    keep_alive: Callable[[], None] = lambda: None,
) -> LoopOutcome:
    """Roll out, verify and reopen as the module docstring says, as of ``now``."""
    recommendations = stores.recommendations
    approved = recommendations.list(RecommendationFilter(state="approved"))
    rolled = recommendations.list(RecommendationFilter(state="rolled_out"))
    if not approved and not rolled:
        return LoopOutcome()
    enrolled = {h.host_id: h for h in hosts if not h.revoked}
    plans = {r.key: plan_of(r) for r in [*approved, *rolled]}
    states = _states(stores, list(plans.values()), enrolled, now)
    rolled_out, waiting, measuring, notes = [], [], [], []
    verified: list[tuple[str, Realised]] = []
    reopened: list[tuple[str, Realised]] = []
    for stored in approved:
        plan = plans[stored.key]
        found = check_rollout(plan, states[plan.app], catalog, settings.params)
        if not found.changed or found.share < settings.rollout_share:
            waiting.append(stored.key)
            continue
        try:
            recommendations.mark_rolled_out(stored.key, now=now, detail=found.detail())
        except TransitionRefused as refused:
            notes.append(f"{stored.key}: not rolled out: {refused}")
            continue
        rolled_out.append(stored.key)
    due: list[_Due] = []
    for stored in rolled:
        plan = plans[stored.key]
        days = max(plan.days or settings.verify_days, MIN_MEASURE_DAYS)
        started = stored.rolled_out_at if stored.rolled_out_at is not None else now
        if now < started + days * DAY_SECONDS:
            measuring.append(stored.key)
            continue
        due.append(_due(stores, stored, plan, catalog, states[plan.app], now, days, settings))
    keep_alive()
    _measure(stores, due, enrolled, now, keep_alive)
    for job in due:
        stored, plan = job.stored, job.plan
        realised = job.result()
        if realised.seconds_per_launch is None:
            measuring.append(stored.key)
            notes.append(f"{stored.key}: not measured yet: {realised.note}")
            continue
        document = realised_document(realised, plan, now, sorted(job.changed))
        try:
            if realised.worse:
                recommendations.reopen(
                    stored.key, now=now, reason=worse_reason(realised, plan), realised=document
                )
                reopened.append((stored.key, realised))
            else:
                recommendations.mark_verified(stored.key, now=now, realised=document)
                verified.append((stored.key, realised))
        except TransitionRefused as refused:
            notes.append(f"{stored.key}: measured but not recorded: {refused}")
    return LoopOutcome(
        tuple(rolled_out),
        tuple(verified),
        tuple(reopened),
        tuple(waiting),
        tuple(measuring),
        tuple(notes),
    )


def realised_document(
    realised: Realised, plan: Plan, now: float, changed: Sequence[str]
) -> dict[str, Any]:
    """What ``mark_verified`` (or ``reopen``) stores: the measurement beside the prediction,
    and the changed hosts it was measured on."""
    document = realised.to_document()
    document["changed_hosts"] = sorted(changed)
    predicted = plan.predicted
    document["measured_at"] = now
    document["predicted"] = {
        "seconds_per_launch": None
        if predicted is None
        else {"estimate": predicted.estimate, "low": predicted.low, "high": predicted.high}
    }
    seconds = realised.seconds_per_launch
    ratio = None
    if seconds is not None and predicted is not None and predicted.estimate != 0:
        ratio = seconds.estimate / predicted.estimate
    document["realised_over_predicted"] = ratio
    document["pilot"] = plan.pilot
    return document


def worse_reason(realised: Realised, plan: Plan) -> str:
    """One sentence: how much slower, against how many hosts, where it was to save."""
    seconds = realised.seconds_per_launch
    assert seconds is not None
    text = (
        f"the rollout made launches slower: {-seconds.estimate:.2f} s a launch more "
        f"[{-seconds.high:.2f}, {-seconds.low:.2f}] on {realised.hosts} changed hosts, "
        f"against {realised.control_hosts} hosts not changed over the same days"
    )
    if plan.predicted is not None:
        text += f", where it was to save {plan.predicted.estimate:.2f} s"
    return text


def _states(
    stores: Stores, plans: Sequence[Plan], enrolled: Mapping[str, HostInventory], now: float
) -> dict[str, dict[str, HostState]]:
    """Per app of the plans (``*`` for hardware), the enrolled hosts' states at ``now``."""
    software = sorted({p.app for p in plans if p.software})
    wanted = sorted({h for p in plans for h in p.hosts if h in enrolled})
    versions: dict[tuple[str, str], list[tuple[str, float | None]]] = {}
    if software and wanted:
        # Named hosts are bound one by one: a fleet-wide change reads every host's instead.
        named = wanted if len(wanted) <= MAX_NAMED_HOSTS else None
        for found in stores.inventory.installed(software, at=now, hosts=named):
            versions.setdefault((found.app, found.host_id), []).append((found.version, found.since))
    states: dict[str, dict[str, HostState]] = {}
    for app in {p.app for p in plans}:
        states[app] = {
            host_id: HostState(
                host_id,
                host.ram_bytes / GIB,
                host.hdd,
                host.cores,
                tuple(versions.get((app, host_id), ())),
            )
            for host_id, host in enrolled.items()
        }
    return states


@dataclass
class _Due:
    """A rolled-out recommendation to measure: its plan, changed hosts (with when, None:
    unknown), those that changed later, the days to read, and its measurement once made."""

    stored: StoredRecommendation
    plan: Plan
    changed: dict[str, float | None]
    late: list[str]
    params: VerifyParameters
    read_days: int
    measurement: Measurement | None = None

    def result(self) -> Realised:
        if self.measurement is None:
            return measure([], Design.none(0), self.params)
        return self.measurement.result()

    def design(
        self, host_codes: Mapping[str, int], own_changes: Mapping[str, float] | None = None
    ) -> Design:
        stored = self.stored
        rolled_out_at = stored.rolled_out_at or 0.0
        return verification_design(
            self.plan,
            self.changed,
            host_codes=host_codes,
            decided_at=stored.decided_at if stored.decided_at is not None else rolled_out_at,
            rolled_out_at=rolled_out_at,
            late=self.late,
            own_changes=own_changes,
        )


def _due(
    stores: Stores,
    stored: StoredRecommendation,
    plan: Plan,
    catalog: VendorCatalog,
    states: Mapping[str, HostState],
    now: float,
    days: int,
    settings: LoopSettings,
) -> _Due:
    """What measuring ``stored`` needs (module docstring): its hosts changed now (for
    hardware, those the rollout step saw; the others changed later, at an unknown time)."""
    found = check_rollout(plan, states, catalog, settings.params)
    changed = dict(found.changed)
    late: list[str] = []
    if not plan.software:
        at_rollout = set(_changed_at_rollout(stores.audit, stored.key))
        late = [h for h in changed if h not in at_rollout]
        changed = {h: at for h, at in changed.items() if h in at_rollout}
    decided_at = stored.decided_at if stored.decided_at is not None else now
    first_day = min(
        [day_of(at) for at in changed.values() if at is not None] + [day_of(decided_at)]
    )
    read_days = max(1, math.ceil((now - (first_day - days) * DAY_SECONDS) / DAY_SECONDS))
    params = VerifyParameters(
        before_days=days, after_days=days, n_resamples=settings.resamples, seed=_seed(plan.key)
    )
    return _Due(stored, plan, changed, late, params, read_days)


def _measure(
    stores: Stores,
    due: Sequence[_Due],
    enrolled: Mapping[str, HostInventory],
    now: float,
    keep_alive: Callable[[], None],
) -> None:
    """Measure every ``due`` rollout, reading each part of the daily rows once for all of
    them (the days the one reaching furthest back needs): a software change on its app's
    rows, a hardware change on every app's."""
    if not due:
        return
    host_codes = {h: i for i, h in enumerate(sorted(enrolled))}
    strata: dict[tuple[str, bool], int] = {}
    read_days = max(job.read_days for job in due)
    every_app = any(not job.plan.software for job in due)
    wanted = {job.plan.app for job in due if job.plan.software}
    for job in due:
        if not job.plan.software:
            job.measurement = Measurement(job.design(host_codes), job.params)
    frames = stores.frames
    for apps in frames.parts(now=now, days=read_days).values():
        names = apps if every_app else [a for a in apps if a in wanted]
        if not names:
            continue
        data = frames.load(now=now, days=read_days, apps=names)
        panel = panel_of(daily_of(data), host_codes, strata)
        for job in due:
            plan = job.plan
            if not plan.software:
                assert job.measurement is not None
                job.measurement.add(panel)
            elif plan.app in names:
                design = job.design(host_codes, _first_changes(data, plan.app))
                job.measurement = Measurement(design, job.params)
                codes = [
                    strata[plan.app, cold] for cold in (False, True) if (plan.app, cold) in strata
                ]
                job.measurement.add(panel.only(codes))
        del data, panel
        keep_alive()


def _first_changes(data: FleetData, app: str) -> dict[str, float]:
    """Each host's first version change of ``app`` in the days read."""
    changes = data.changes
    hosts = data.launches.hosts.host_id
    apps = data.launches.apps
    first: dict[str, float] = {}
    for host, app_code, at in zip(
        changes.host.tolist(), changes.app.tolist(), changes.at.tolist(), strict=True
    ):
        if apps[app_code] != app:
            continue
        name = hosts[host]
        first[name] = min(at, first.get(name, math.inf))
    return first


def _changed_at_rollout(audit: AuditLog, key: str) -> list[str]:
    """The hosts the rollout step of ``key`` saw changed (its newest such audit entry)."""
    before = None
    target = recommendation_target(key)
    while True:
        entries = audit.entries(limit=AUDIT_PAGE, target=target, before=before)
        for entry in entries:
            if entry.action == "recommendation.rolled_out":
                rollout = entry.detail.get("rollout") or {}
                changed = rollout.get("changed") if isinstance(rollout, dict) else None
                return [str(h) for h in changed] if isinstance(changed, list) else []
        if len(entries) < AUDIT_PAGE:
            return []
        before = entries[-1].entry_id


def _seed(key: str) -> int:
    """A resampling seed of the key: a measurement repeats exactly."""
    return zlib.crc32(key.encode())
