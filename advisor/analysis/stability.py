"""When a finding opens and when it is resolved: hysteresis with evidence accumulation.

One analysis run is one look at the fleet. A finding whose q-value sits near the analysis'
alpha is found by one run and missed by the next (measured on a fleet analysed every two
days: ``.###.###..#.##.#####.``). Stored as such, it would open, resolve and reopen with the
noise, and whatever multiplies its effect (recommendations: launches x wages) would flicker
with it. So the stored status follows the runs with hysteresis:

==============  ==============================================  ==============================
status before   this run finds the key                          this run does not
==============  ==============================================  ==============================
(never seen)    ``open`` if *confirmed* (event ``opened``),     -
                else ``candidate``
``candidate``   ``open`` if *confirmed* (event ``opened``)      stays ``candidate``
``open``        stays ``open``                                  ``resolved`` once *gone*
                                                                (event ``resolved``), else
                                                                stays ``open``
``resolved``    ``open`` if *confirmed* (event ``reopened``),   stays ``resolved``
                else stays ``resolved``
==============  ==============================================  ==============================

- *confirmed*: this run's evidence is strong (q-value at most ``strong_q``, well under the
  analysis' alpha), or the key was found in ``confirm_runs`` of the last ``confirm_window``
  runs, this one included (two of three by default: one run may miss in between);
- *gone*: missed by ``resolve_runs`` runs in a row **and** last found ``resolve_days`` days
  ago or more. Run counts alone resolve in 18 h at the default 6 h interval, on nearly the
  same 90 days of data (misses that close together are one miss, not three); days alone
  would resolve on a single missed run after an advisor outage, or after two misses at a
  2-day interval. Both together: at least three independent looks spread over days.

A real resolution (the degradation gone for good) is therefore resolved
``max(resolve_runs x interval, resolve_days)`` after the last run that found it, rounded up
to the next run: 4 days at a 6 h or daily interval, 6 days at a 2-day interval.

Pure: the store reads each key's :class:`Tracked` state, asks :func:`decide`, and writes the
result (advisor.store.findings). :func:`replay` runs the policy over one key's runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from advisor.analysis.finding_status import (
    CANDIDATE,
    OPEN,
    OPENED,
    REOPENED,
    RESOLVED,
    RESOLVED_EVENT,
    Event,
    Status,
)
from advisor.analysis.findings import Finding

__all__ = ["Decision", "Sighting", "StabilityPolicy", "Tracked", "decide", "replay", "sighting"]

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class StabilityPolicy:
    """When a finding opens, stays open and is resolved; the defaults, and why.

    >>> StabilityPolicy().resolve_delay(interval=2 * DAY) / DAY
    6.0
    >>> StabilityPolicy().resolve_delay(interval=6 * 3600) / DAY
    4.0

    ``StabilityPolicy(confirm_runs=1, resolve_runs=1, resolve_days=0)`` is the behaviour
    before hysteresis: open on any finding, resolved by the first run that misses it.
    """

    # A tenth of the analysis' false discovery rate (alpha 0.05): a finding this far under
    # alpha does not drop over it with a few more days of data, so one run is enough. The
    # findings that flap are the ones between this and alpha: they must be seen twice.
    strong_q: float = 0.005
    # Found in 2 of the last 3 runs: a real but borderline finding confirms on its second
    # sighting even with a miss between; a one-off false discovery has to recur.
    confirm_runs: int = 2
    confirm_window: int = 3
    # Resolved after 3 missed runs in a row and 4 days without it (see the module docstring:
    # the runs for independent looks, the days for runs that are hours apart). The flapping
    # fleet above never misses more than 2 runs of 2 days in a row while the degradation lasts.
    resolve_runs: int = 3
    resolve_days: float = 4.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.strong_q < 1.0:
            raise ValueError(f"strong_q must be at least 0 and under 1, not {self.strong_q}")
        if not 1 <= self.confirm_runs <= self.confirm_window:
            raise ValueError(
                f"confirm_runs must be 1 to confirm_window ({self.confirm_window}), "
                f"not {self.confirm_runs}"
            )
        if self.resolve_runs < 1:
            raise ValueError(f"resolve_runs must be at least 1, not {self.resolve_runs}")
        if not self.resolve_days >= 0.0:
            raise ValueError(f"resolve_days must be 0 or more, not {self.resolve_days}")

    @property
    def recent_runs(self) -> int:
        """How many runs before this one :attr:`Tracked.recent` needs."""
        return self.confirm_window - 1

    def resolve_delay(self, *, interval: float) -> float:
        """Seconds from the last run that found a finding to the run that resolves it, for
        runs every ``interval`` seconds."""
        runs = max(self.resolve_runs, math.ceil(self.resolve_days * DAY / interval - 1e-9))
        return runs * interval


@dataclass(frozen=True, slots=True)
class Sighting:
    """This run found the key, with this evidence: ``q_value`` None is unknown (weak)."""

    q_value: float | None


@dataclass(frozen=True, slots=True)
class Tracked:
    """A key's stored state before this run.

    ``missed_runs``: runs since the last that found it (0: the previous run did);
    ``recent``: whether each run before this one found it, oldest first, at most
    :attr:`StabilityPolicy.recent_runs` of them (fewer when there were fewer runs).
    """

    status: Status
    last_detected_at: float
    missed_runs: int = 0
    recent: tuple[bool, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The key's stored status after this run, the event when it changed, and its missed
    runs (0 when this run found it)."""

    status: Status
    event: Event | None
    missed_runs: int


def sighting(finding: Finding) -> Sighting:
    """This run's evidence for ``finding``: its q-value; a method that gives none (NaN) is
    judged on its p-value, and one with neither is weak.

    >>> from advisor.analysis.findings import Effect, Evidence, Quantiles
    >>> q = Quantiles(50, 1.0, 2.0, 3.0)
    >>> def found(p, q_value):
    ...     evidence = Evidence(q, q, p_value=p, q_value=q_value)
    ...     return Finding("k", "trend", "app", {}, "slower", Effect(0.2, 0.1, 0.3),
    ...                    "unknown", 0.5, 0.0, 0.0, (), (), evidence)
    >>> sighting(found(0.001, 0.04)), sighting(found(1e-6, float("nan")))
    (Sighting(q_value=0.04), Sighting(q_value=1e-06))
    """
    evidence = finding.evidence
    for value in (evidence.q_value, evidence.p_value):
        if value is not None and math.isfinite(value):
            return Sighting(float(value))
    return Sighting(None)


def decide(
    before: Tracked | None,
    found: Sighting | None,
    *,
    now: float,
    policy: StabilityPolicy = StabilityPolicy(),
) -> Decision:
    """The status of a key after a run at ``now`` (the table in the module docstring).

    ``before`` is None for a key never stored, ``found`` None when this run did not find it.

    >>> weak, strong = Sighting(0.03), Sighting(1e-5)
    >>> decide(None, strong, now=0.0)
    Decision(status='open', event='opened', missed_runs=0)
    >>> decide(None, weak, now=0.0).status
    'candidate'
    >>> decide(Tracked("candidate", 0.0, 1, (True, False)), weak, now=2 * DAY).event
    'opened'
    >>> decide(Tracked("open", 0.0, 1, (True, False)), None, now=2 * DAY)
    Decision(status='open', event=None, missed_runs=2)
    >>> decide(Tracked("open", 0.0, 2, (False, False)), None, now=6 * DAY).status
    'resolved'
    """
    if found is not None:
        confirmed = _strong(found, policy) or _hits(before, policy) + 1 >= policy.confirm_runs
        if before is None:
            return Decision(OPEN, OPENED, 0) if confirmed else Decision(CANDIDATE, None, 0)
        if before.status == OPEN or not confirmed:
            return Decision(before.status, None, 0)
        return Decision(OPEN, REOPENED if before.status == RESOLVED else OPENED, 0)
    if before is None:
        raise ValueError("a key never stored and not found has no status")
    missed = before.missed_runs + 1
    gone = (
        missed >= policy.resolve_runs and now - before.last_detected_at >= policy.resolve_days * DAY
    )
    if before.status == OPEN and gone:
        return Decision(RESOLVED, RESOLVED_EVENT, missed)
    return Decision(before.status, None, missed)


def replay(
    runs: Iterable[tuple[float, Sighting | None]], policy: StabilityPolicy = StabilityPolicy()
) -> list[Decision | None]:
    """What :func:`decide` makes of one key over ``runs`` (each: its ``now`` and what it
    found), run by run; None before the first run that finds it.

    >>> runs = [(i * 2 * DAY, Sighting(0.03) if c == "#" else None)
    ...         for i, c in enumerate(".##.#..#...")]
    >>> "".join("-" if d is None else d.status[0] for d in replay(runs))
    '-coooooooor'
    """
    decisions: list[Decision | None] = []
    state: Tracked | None = None
    seen: list[bool] = []
    for now, found in runs:
        if state is None and found is None:
            decisions.append(None)
            seen.append(False)
            continue
        if state is not None:
            state = Tracked(
                state.status,
                state.last_detected_at,
                state.missed_runs,
                tuple(seen[-policy.recent_runs :]) if policy.recent_runs else (),
            )
        decision = decide(state, found, now=now, policy=policy)
        decisions.append(decision)
        seen.append(found is not None)
        last = now if found is not None or state is None else state.last_detected_at
        state = Tracked(decision.status, last, decision.missed_runs)
    return decisions


def _strong(found: Sighting, policy: StabilityPolicy) -> bool:
    return found.q_value is not None and found.q_value <= policy.strong_q


def _hits(before: Tracked | None, policy: StabilityPolicy) -> int:
    if before is None or policy.recent_runs == 0:
        return 0
    return sum(before.recent[-policy.recent_runs :])
