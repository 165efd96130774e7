"""Scoring an analysis run's findings against the simulator's ground truth. Pure functions.

Truth events come from :func:`advisor.simulator.truth.ground_truth` (one entry per event and
app). The rules, as bench/detection_eval.py reports them:

**Qualifying event** (the recall denominator): an event with ``expect_finding`` that is a
load-time *shift* (not a standing ``hardware_tier`` gap) of at least 20 % at full strength
(``|effect| >= 0.2``), with at least 30 successful launches of its app on its hosts after it
(after each host's own change for a rollout; after :meth:`TruthEvent.shift_at` otherwise).

**A finding matches an event** when all three hold:

1. *app*: the same app (events about every app, ``app: null``, match any);
2. *scope*: the event covers every host (``all_hosts``), or at least half of the finding's
   hosts are the event's hosts; a finding that lists no hosts matches on its departments
   (one in common with the event's hosts'; not a reinstall, which is about one machine); a
   rollout also matches a finding whose scope ``version`` is the rollout's ``version_to``,
   and a hardware-tier gap a finding whose scope names the cohort or one of its
   ``aliases`` (``hdd``; ``low``, ``low_cpu`` or ``cores<=2`` for the low CPU class,
   ``cores>8`` for the high one; ``ram<=4gb`` for 4 GB, ``ram>16gb`` for 32 GB; a combined
   tier such as ``ram>16gb+cores>8`` by any of its parts);
3. *time*: ``since`` from 2 days before the event's start to 2 days after its end (a
   rollout: its last host's change; ramps and trends: the data's end) for expected events
   and reinstalls; within the window +-6 h for windowed must-not-flag events (an outage, a
   weekend, a holiday, a daylight-saving change, a delivery outage); any time for standing
   ones (hardware tiers, noisy hosts).

**Classification** of each finding, first rule that applies:

1. it matches an expected event whose cause is the finding's cause: a *true* finding with the
   cause right (``swap`` counts as ``memory``: memory pressure shows as swapping);
2. it matches a must-not-flag event: a *finding on a must-not-flag event* (also false);
3. it matches an expected event: a *true* finding with the cause wrong;
4. otherwise a *false positive*: it matches no true event.

Of several matching events, a finding is assigned the qualifying one, then the one whose
cohort names cover most of the tiers its scope names, then the one with the largest host
overlap. Hardware-tier findings are true when the truth lists that tier gap; findings on
expected events below the 20 % / 30-launch bar are true too (real, just not in the recall
denominator).

**Figures**: precision = true / all findings; recall = qualifying events assigned at least
one true finding / qualifying events; attribution = true findings with the cause right /
true findings; detection delay of a qualifying event = the ``now`` of the first run that
assigns it a true finding minus :meth:`TruthEvent.shift_at` (in days, at least 0).

**Effect sizes.** Every true finding whose event has a known true effect
(:func:`true_effect`: for the finding's start kind, ``finding.scope["start"]`` ``"cold"`` or
``"warm"``, absent for both pooled, at the finding's ``detected_at``) is an
:class:`EffectCheck`: its 95 % interval *covers* the truth when ``low <= true <= high``, and
its *error* is ``|estimate - true| / |true|`` (none when the truth is 0). Targets:
coverage of at least 90 % (:data:`COVERAGE_TARGET`), every error within 25 %
(:data:`ERROR_LIMIT`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from advisor.analysis.findings import Finding
from advisor.simulator.calendar import DAY, HOUR

SHIFT_THRESHOLD = 0.2
MIN_LAUNCHES_AFTER = 30
SINCE_SLACK_SECONDS = 2 * DAY
QUIET_SLACK_SECONDS = 6 * HOUR
HOST_OVERLAP = 0.5
COVERAGE_TARGET = 0.9
ERROR_LIMIT = 0.25
RAMP_KINDS = frozenset({"memory_pressure", "disk_fill", "slow_trend"})
WINDOWED_QUIET_KINDS = frozenset({"outage", "weekend", "holiday", "dst_change", "delivery_outage"})
_SAME_CAUSE = {"swap": "memory"}
# The names a finding's scope may give a cohort: the truth's, and the analysis's tier terms
# (the simulator's CPU classes have 2, 6 and 12 cores).
_COHORT_NAMES = {
    "low_cpu": frozenset({"low", "low_cpu", "cores<=2"}),
    "mid_cpu": frozenset({"mid", "mid_cpu", "cores<=8"}),
    "high_cpu": frozenset({"high", "high_cpu", "cores>8"}),
    "low_ram": frozenset({"low_ram", "ram<=4gb"}),
}

Status = Literal["true", "must_not_flag", "false"]
EventKey = tuple[str, str | None]


@dataclass(frozen=True)
class TruthEvent:
    """One truth entry (an event and one app), with what matching needs."""

    id: str
    kind: str
    app: str | None
    cause: str | None
    expect_finding: bool
    start: float
    end: float | None
    effect: float | None
    hosts: frozenset[str]
    departments: frozenset[str]
    all_hosts: bool = False
    version_to: str | None = None
    full_at: float | None = None
    cohort: str | None = None
    host_starts: Mapping[str, float] = field(default_factory=dict)
    launches_after: int = 0
    cold_effect: float | None = None
    warm_effect: float | None = None
    cold_share: float | None = None  # of the launches after it on its hosts (None: unknown)
    aliases: frozenset[str] = frozenset()

    @property
    def key(self) -> EventKey:
        """Unique per truth entry: the event and its app."""
        return (self.id, self.app)

    def shift_at(self) -> float:
        """When the load-time shift reached 20 %: a rollout's first change; for a ramp, the
        point of its ramp where ``effect x progress`` crosses 20 % (its end if it never does)."""
        if self.kind in RAMP_KINDS and self.full_at is not None and self.effect:
            share = min(1.0, SHIFT_THRESHOLD / abs(self.effect))
            return self.start + share * (self.full_at - self.start)
        return self.start

    @property
    def qualifies(self) -> bool:
        """In the recall denominator (see the module docstring)."""
        return (
            self.expect_finding
            and self.kind != "hardware_tier"
            and self.effect is not None
            and abs(self.effect) >= SHIFT_THRESHOLD - 1e-9
            and self.launches_after >= MIN_LAUNCHES_AFTER
        )


@dataclass(frozen=True)
class Verdict:
    """How one finding was classified, and the event it was assigned (None: false)."""

    finding: Finding
    status: Status
    event: TruthEvent | None
    cause_right: bool


@dataclass(frozen=True)
class Score:
    """The figures of one or more runs' findings (see the module docstring)."""

    true_findings: int
    cause_right: int
    false_findings: int
    must_not_flag: int
    qualifying: int
    found: int
    missed: tuple[EventKey, ...]

    @property
    def precision(self) -> float:
        """True findings over all findings (1.0 when there are none)."""
        total = self.true_findings + self.false_findings
        return self.true_findings / total if total else 1.0

    @property
    def recall(self) -> float:
        """Qualifying events found over qualifying events (1.0 when there are none)."""
        return self.found / self.qualifying if self.qualifying else 1.0

    @property
    def attribution(self) -> float:
        """True findings with the right cause over true findings (1.0 when there are none)."""
        return self.cause_right / self.true_findings if self.true_findings else 1.0

    def __add__(self, other: Score) -> Score:
        return Score(
            self.true_findings + other.true_findings,
            self.cause_right + other.cause_right,
            self.false_findings + other.false_findings,
            self.must_not_flag + other.must_not_flag,
            self.qualifying + other.qualifying,
            self.found + other.found,
            self.missed + other.missed,
        )


def events_from_truth(
    truth: Mapping[str, Any],
    launches_after: Mapping[EventKey, int] | None = None,
    cold_shares: Mapping[EventKey, float] | None = None,
) -> list[TruthEvent]:
    """The truth's events; ``launches_after`` (see :func:`count_launches_after`) and
    ``cold_shares`` (:func:`cold_shares`) per key."""
    department = {h["host_id"]: h["department"] for h in truth["hosts"]}
    counts = launches_after or {}
    shares = cold_shares or {}
    events = []
    for e in truth["events"]:
        hosts = frozenset(e["hosts"])
        events.append(
            TruthEvent(
                id=e["id"],
                kind=e["kind"],
                app=e["app"],
                cause=e["cause"],
                expect_finding=bool(e["expect_finding"]),
                start=float(e["start"]),
                end=None if e["end"] is None else float(e["end"]),
                effect=e["effect"],
                hosts=hosts,
                departments=frozenset(department[h] for h in hosts if h in department),
                all_hosts=bool(e.get("all_hosts", False)),
                version_to=e.get("version_to"),
                full_at=e.get("full_at"),
                cohort=e.get("cohort"),
                host_starts=dict(e.get("host_starts", {})),
                launches_after=counts.get((e["id"], e["app"]), 0),
                cold_effect=e.get("cold_effect"),
                warm_effect=e.get("warm_effect"),
                cold_share=shares.get((e["id"], e["app"])),
                aliases=frozenset(e.get("aliases", ())),
            )
        )
    return events


def count_launches_after(
    events: Sequence[TruthEvent],
    *,
    host_ids: Sequence[str],
    apps: Sequence[str],
    host: npt.NDArray[np.int32],
    app: npt.NDArray[np.int32],
    true_time: npt.NDArray[np.float64],
) -> dict[EventKey, int]:
    """Successful launches of each expected event's app on its hosts after it began (each
    host's own change for a rollout), from launch columns (codes into ``host_ids``/``apps``)."""
    counts: dict[EventKey, int] = {}
    for event in events:
        selected = _after(event, host_ids, apps, host, app, true_time)
        if selected is not None:
            counts[event.key] = int(selected.sum())
    return counts


def cold_shares(
    events: Sequence[TruthEvent],
    *,
    host_ids: Sequence[str],
    apps: Sequence[str],
    host: npt.NDArray[np.int32],
    app: npt.NDArray[np.int32],
    true_time: npt.NDArray[np.float64],
    cold: npt.NDArray[np.bool_],
) -> dict[EventKey, float]:
    """The share of cold starts among the launches :func:`count_launches_after` counts: the
    weight of the cold effect in an event's pooled effect (events without launches left out)."""
    shares: dict[EventKey, float] = {}
    for event in events:
        selected = _after(event, host_ids, apps, host, app, true_time)
        if selected is not None and selected.any():
            shares[event.key] = float(cold[selected].mean())
    return shares


def _after(
    event: TruthEvent,
    host_ids: Sequence[str],
    apps: Sequence[str],
    host: npt.NDArray[np.int32],
    app: npt.NDArray[np.int32],
    true_time: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_] | None:
    if not event.expect_finding or event.app is None or event.app not in apps:
        return None
    if event.host_starts:
        since = np.array([event.host_starts.get(h, np.inf) for h in host_ids])
    else:
        since = np.where([h in event.hosts for h in host_ids], event.shift_at(), np.inf).astype(
            np.float64
        )
    selected: npt.NDArray[np.bool_] = (app == apps.index(event.app)) & (true_time >= since[host])
    return selected


def true_effect(event: TruthEvent, at: float, start: str | None) -> float | None:
    """The relative load-time change a finding about ``event`` should report at time ``at``,
    for cold or warm starts (``start``) or both pooled (None); None when there is none to
    report (a must-not-flag event) or it cannot be known.

    A rollout's is its effect on that start kind; a ramp's (memory, disk, trend) that effect
    times the ramp's progress at ``at``; a hardware tier's its effect on that start kind
    against the reference level. Pooled: when both kinds have the same effect, that effect,
    else the mix of the two on the log scale weighted by the event's share of cold starts
    (None when it is unknown).

    >>> ramp = TruthEvent("m", "memory_pressure", "gimp", "memory", True, start=0.0, end=None,
    ...     effect=0.5, hosts=frozenset(), departments=frozenset(), full_at=10.0)
    >>> true_effect(ramp, 5.0, "warm")
    0.25
    """
    if not event.expect_finding or event.effect is None:
        return None
    cold = event.cold_effect if event.cold_effect is not None else event.effect
    warm = event.warm_effect if event.warm_effect is not None else event.effect
    scale = 1.0
    if event.kind in RAMP_KINDS and event.full_at is not None:
        span = event.full_at - event.start
        scale = 1.0 if span <= 0 else min(1.0, max(0.0, (at - event.start) / span))
    cold, warm = cold * scale, warm * scale
    if start == "cold":
        return cold
    if start == "warm":
        return warm
    if start is not None:
        return None
    if cold == warm:
        return cold
    if event.cold_share is None:
        return None
    w = event.cold_share
    return math.exp(w * math.log1p(cold) + (1 - w) * math.log1p(warm)) - 1


@dataclass(frozen=True)
class EffectCheck:
    """One true finding's effect against the truth (see the module docstring)."""

    event: EventKey
    finding: str  # the finding's key
    start: str | None
    true: float
    estimate: float
    low: float
    high: float

    @property
    def covered(self) -> bool:
        """Whether the 95 % interval holds the true effect."""
        return self.low <= self.true <= self.high

    @property
    def error(self) -> float | None:
        """``|estimate - true| / |true|``; None when the true effect is 0."""
        if abs(self.true) < 1e-9:
            return None
        return abs(self.estimate - self.true) / abs(self.true)


@dataclass(frozen=True)
class EffectScore:
    """Coverage and error over some effect checks."""

    checks: int
    covered: int
    with_error: int  # checks with a relative error (true effect not 0)
    within: int  # of those, how many within ERROR_LIMIT

    @property
    def coverage(self) -> float | None:
        """Share of intervals that hold the truth (None without checks)."""
        return self.covered / self.checks if self.checks else None

    @property
    def within_share(self) -> float | None:
        """Share of estimates within :data:`ERROR_LIMIT` of the truth (None without any)."""
        return self.within / self.with_error if self.with_error else None

    def __add__(self, other: EffectScore) -> EffectScore:
        return EffectScore(
            self.checks + other.checks,
            self.covered + other.covered,
            self.with_error + other.with_error,
            self.within + other.within,
        )


def effect_checks(verdicts: Sequence[Verdict], *, data_end: float) -> list[EffectCheck]:
    """The effect check of every true finding with a known true effect."""
    checks = []
    for verdict in verdicts:
        event, finding = verdict.event, verdict.finding
        if verdict.status != "true" or event is None:
            continue
        start = finding.scope.get("start")
        truth = true_effect(event, min(finding.detected_at, data_end), start)
        if truth is None:
            continue
        effect = finding.effect
        checks.append(
            EffectCheck(
                event.key, finding.key, start, truth, effect.estimate, effect.low, effect.high
            )
        )
    return checks


def effect_score(checks: Sequence[EffectCheck]) -> EffectScore:
    """Coverage and error over ``checks``."""
    errors = [c.error for c in checks if c.error is not None]
    return EffectScore(
        checks=len(checks),
        covered=sum(c.covered for c in checks),
        with_error=len(errors),
        within=sum(e <= ERROR_LIMIT for e in errors),
    )


def effect_scores_by_event(checks: Sequence[EffectCheck]) -> dict[EventKey, EffectScore]:
    """:func:`effect_score` per event, in order of first appearance."""
    grouped: dict[EventKey, list[EffectCheck]] = {}
    for check in checks:
        grouped.setdefault(check.event, []).append(check)
    return {key: effect_score(group) for key, group in grouped.items()}


def matches(finding: Finding, event: TruthEvent, *, data_end: float) -> bool:
    """Whether ``finding`` is about ``event`` (app, scope and time; module docstring)."""
    if event.app is not None and event.app != finding.app:
        return False
    return _scope_matches(finding, event) and _time_matches(finding, event, data_end)


def classify(
    findings: Sequence[Finding], events: Sequence[TruthEvent], *, data_end: float
) -> list[Verdict]:
    """Each finding's verdict (the classification rules of the module docstring)."""
    verdicts = []
    for finding in findings:
        matched = [e for e in events if matches(finding, e, data_end=data_end)]
        expected = [e for e in matched if e.expect_finding]
        right = [e for e in expected if e.cause == _SAME_CAUSE.get(finding.cause, finding.cause)]
        if right:
            verdicts.append(Verdict(finding, "true", _best(finding, right), True))
        elif any(not e.expect_finding for e in matched):
            quiet = next(e for e in matched if not e.expect_finding)
            verdicts.append(Verdict(finding, "must_not_flag", quiet, False))
        elif expected:
            verdicts.append(Verdict(finding, "true", _best(finding, expected), False))
        else:
            verdicts.append(Verdict(finding, "false", None, False))
    return verdicts


def score(findings: Sequence[Finding], events: Sequence[TruthEvent], *, data_end: float) -> Score:
    """Precision, recall and attribution of one run's findings."""
    verdicts = classify(findings, events, data_end=data_end)
    true = [v for v in verdicts if v.status == "true"]
    found = {v.event.key for v in true if v.event is not None}
    qualifying = [e.key for e in events if e.qualifies]
    return Score(
        true_findings=len(true),
        cause_right=sum(v.cause_right for v in true),
        false_findings=len(verdicts) - len(true),
        must_not_flag=sum(v.status == "must_not_flag" for v in verdicts),
        qualifying=len(qualifying),
        found=sum(key in found for key in qualifying),
        missed=tuple(key for key in qualifying if key not in found),
    )


def detection_delays(
    runs: Sequence[tuple[float, Sequence[Finding]]],
    events: Sequence[TruthEvent],
    *,
    data_end: float,
) -> dict[EventKey, float | None]:
    """Per qualifying event, days from :meth:`TruthEvent.shift_at` to the first run (``now``,
    findings) that assigns it a true finding; None when no run does."""
    delays: dict[EventKey, float | None] = {e.key: None for e in events if e.qualifies}
    by_key = {e.key: e for e in events}
    for now, findings in sorted(runs, key=lambda run: run[0]):
        for verdict in classify(findings, events, data_end=data_end):
            event = verdict.event
            if verdict.status != "true" or event is None or event.key not in delays:
                continue
            if delays[event.key] is None:
                delays[event.key] = max(0.0, (now - by_key[event.key].shift_at()) / DAY)
    return delays


def median_delay(delays: Mapping[Any, float | None]) -> float | None:
    """The median of the delays of the events found (None if none was)."""
    found = [d for d in delays.values() if d is not None]
    return statistics.median(found) if found else None


def _best(finding: Finding, candidates: list[TruthEvent]) -> TruthEvent:
    """The qualifying event first, then the one whose names cover most of the cohorts the
    finding's scope names (a ``cores<=2`` finding is about the low CPU class, not about the
    HDD machines that happen to hold all of it), then the largest host overlap."""
    hosts = set(finding.hosts)
    parts = _scope_parts(finding)
    return max(
        candidates,
        key=lambda e: (e.qualifies, len(parts & _names_of(e)), len(hosts & e.hosts)),
    )


def _scope_parts(finding: Finding) -> set[str]:
    """The scope's values, a combined tier (``ram>16gb+cores>8``) split into its parts."""
    return {part for value in finding.scope.values() for part in value.split("+")}


def _names_of(event: TruthEvent) -> frozenset[str]:
    """Every name a finding's scope may give the event's cohort (empty: no cohort)."""
    if event.cohort is None:
        return frozenset()
    return frozenset(
        name for cohort in (event.cohort, *event.aliases) for name in _cohort_names(cohort)
    )


def _cohort_names(cohort: str) -> frozenset[str]:
    if cohort in _COHORT_NAMES:
        return _COHORT_NAMES[cohort]
    if cohort.startswith("ram_") and cohort.endswith("gb") and cohort[4:-2].isdigit():
        size = int(cohort[4:-2])
        label = next((f"ram<={b}gb" for b in (4, 8, 16) if size <= b), "ram>16gb")
        return frozenset({cohort, label})
    return frozenset({cohort})


def _scope_matches(finding: Finding, event: TruthEvent) -> bool:
    if event.all_hosts:
        return True
    if event.kind == "version_rollout" and finding.scope.get("version") == event.version_to:
        return True
    if event.cohort is not None and _names_of(event) & _scope_parts(finding):
        return True
    if finding.hosts:
        inside = sum(h in event.hosts for h in finding.hosts)
        return inside >= HOST_OVERLAP * len(finding.hosts)
    if event.kind == "reinstall":  # one machine: a department's finding is not about it
        return False
    return bool(set(finding.departments) & event.departments)


def _time_matches(finding: Finding, event: TruthEvent, data_end: float) -> bool:
    if event.kind == "hardware_tier" or event.kind == "noisy_host":
        return True
    if event.kind in WINDOWED_QUIET_KINDS:
        end = event.end if event.end is not None else event.start
        return event.start - QUIET_SLACK_SECONDS <= finding.since <= end + QUIET_SLACK_SECONDS
    if event.kind == "version_rollout" and event.host_starts:
        end = max(event.host_starts.values())
    else:
        end = event.end if event.end is not None else data_end
    return event.start - SINCE_SLACK_SECONDS <= finding.since <= end + SINCE_SLACK_SECONDS
