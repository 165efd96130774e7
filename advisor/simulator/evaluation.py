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
   (one in common with the event's hosts'); a rollout also matches a finding whose scope
   ``version`` is the rollout's ``version_to``, and a hardware-tier gap a finding whose scope
   names the cohort (``hdd``, or ``low``/``low_cpu`` for the low CPU class);
3. *time*: ``since`` from 2 days before the event's start to 2 days after its end (a
   rollout: its last host's change; ramps and trends: the data's end) for expected events;
   within the window +-6 h for windowed must-not-flag events (an outage, a weekend, a
   delivery outage); any time for standing ones (hardware tiers, noisy hosts).

**Classification** of each finding, first rule that applies:

1. it matches an expected event whose cause is the finding's cause: a *true* finding with the
   cause right (``swap`` counts as ``memory``: memory pressure shows as swapping);
2. it matches a must-not-flag event: a *finding on a must-not-flag event* (also false);
3. it matches an expected event: a *true* finding with the cause wrong;
4. otherwise a *false positive*: it matches no true event.

Of several matching events, a finding is assigned the qualifying one with the largest host
overlap. Hardware-tier findings are true when the truth lists that tier gap; findings on
expected events below the 20 % / 30-launch bar are true too (real, just not in the recall
denominator).

**Figures**: precision = true / all findings; recall = qualifying events assigned at least
one true finding / qualifying events; attribution = true findings with the cause right /
true findings; detection delay of a qualifying event = the ``now`` of the first run that
assigns it a true finding minus :meth:`TruthEvent.shift_at` (in days, at least 0).
"""

from __future__ import annotations

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
RAMP_KINDS = frozenset({"memory_pressure", "disk_fill", "slow_trend"})
WINDOWED_QUIET_KINDS = frozenset({"outage", "weekend", "delivery_outage"})
_SAME_CAUSE = {"swap": "memory"}
_COHORT_NAMES = {"hdd": frozenset({"hdd"}), "low_cpu": frozenset({"low", "low_cpu"})}

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
    truth: Mapping[str, Any], launches_after: Mapping[EventKey, int] | None = None
) -> list[TruthEvent]:
    """The truth's events; ``launches_after`` (see :func:`count_launches_after`) per key."""
    department = {h["host_id"]: h["department"] for h in truth["hosts"]}
    counts = launches_after or {}
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
        if not event.expect_finding or event.app is None or event.app not in apps:
            continue
        if event.host_starts:
            since = np.array([event.host_starts.get(h, np.inf) for h in host_ids])
        else:
            since = np.where([h in event.hosts for h in host_ids], event.shift_at(), np.inf).astype(
                np.float64
            )
        selected = (app == apps.index(event.app)) & (true_time >= since[host])
        counts[event.key] = int(selected.sum())
    return counts


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


def median_delay(delays: Mapping[EventKey, float | None]) -> float | None:
    """The median of the delays of the events found (None if none was)."""
    found = [d for d in delays.values() if d is not None]
    return statistics.median(found) if found else None


def _best(finding: Finding, candidates: list[TruthEvent]) -> TruthEvent:
    hosts = set(finding.hosts)
    return max(candidates, key=lambda e: (e.qualifies, len(hosts & e.hosts)))


def _scope_matches(finding: Finding, event: TruthEvent) -> bool:
    if event.all_hosts:
        return True
    if event.kind == "version_rollout" and finding.scope.get("version") == event.version_to:
        return True
    if event.cohort is not None:
        names = _COHORT_NAMES.get(event.cohort, frozenset({event.cohort}))
        if names & set(finding.scope.values()):
            return True
    if finding.hosts:
        inside = sum(h in event.hosts for h in finding.hosts)
        return inside >= HOST_OVERLAP * len(finding.hosts)
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
