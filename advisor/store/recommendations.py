"""Recommendations as stored: what the advisor proposes, what people decided, and the loop.

The recommendation engine (advisor.recommend, pure) computes a run's recommendations; the
analysis job hands them to :meth:`Recommendations.propose` as :class:`Proposal` values. The
store keeps each by its stable ``key`` with its review lifecycle, and every step of that
lifecycle leaves an entry in the audit log (advisor.store.audit) in the same transaction:

==============  ============================================  ================================
state           how it gets there                             who
==============  ============================================  ================================
``proposed``    a run proposes a key never seen; a run        the advisor
                proposes an ``obsolete`` key again; a run
                finds a deferral ended
``approved``    approve (from proposed, deferred, reopened)   a person
``rejected``    reject, with a reason (from proposed,         a person
                deferred, reopened, approved)
``deferred``    defer until a later time (from proposed,      a person
                deferred, reopened, approved)
``rolled_out``  the inventory shows the approved change       the advisor (mark_rolled_out)
``verified``    the rollout's saving was measured             the advisor (mark_verified)
``reopened``    the rollout made things worse (a rollback     the advisor (reopen)
                follows, as a recommendation of its own)
``obsolete``    a run no longer proposes a ``proposed`` key   the advisor
                (or a deferred one whose deferral ended)
==============  ============================================  ================================

A run never changes a decision: it updates the figures of every key it proposes, whatever
its state, and changes states only as the table says. Nothing is deleted: obsolete keys stay,
and come back as ``proposed`` when a run proposes them again. The rules are
advisor.store.recommendation_rules (pure); the SQL, advisor.store.recommendations_sql.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

RecommendationState = Literal[
    "proposed",
    "approved",
    "rejected",
    "deferred",
    "rolled_out",
    "verified",
    "reopened",
    "obsolete",
]
STATES: tuple[RecommendationState, ...] = (
    "proposed",
    "approved",
    "rejected",
    "deferred",
    "rolled_out",
    "verified",
    "reopened",
    "obsolete",
)
Verdict = Literal["approve", "reject", "defer"]
VERDICTS: tuple[Verdict, ...] = ("approve", "reject", "defer")
KINDS = ("upgrade", "rollback", "ram", "ssd", "ram_ssd", "replace", "end_of_life")
"""What a recommendation does (advisor.recommend.remedy.Kind: RAM and an SSD together is one)."""
CATEGORIES = ("regression", "right_sizing", "lifecycle")
ADVISOR = "advisor"
"""The actor of the steps the advisor takes on its own; refused as a person's name."""
COUNTED_STATES: tuple[RecommendationState, ...] = ("proposed", "approved")
"""The states :meth:`Recommendations.department_totals` counts by default: still to do."""
CURRENT_STATES: tuple[RecommendationState, ...] = tuple(s for s in STATES if s != "obsolete")
"""Every state but ``obsolete``: what is or was worth doing (the API's default list)."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """One recommendation of one run, as the engine computed it.

    ``key`` is stable across runs (``"upgrade|libreoffice|7.6.4|finance"``); ``score`` is the
    risk-adjusted rank key (higher first); ``net_benefit_per_year`` is money (None: not
    priced), in ``currency`` (ISO 4217); ``document`` holds every figure and the explanation
    as JSON, which the store keeps without reading it.

    Example: ``Proposal("ram|hr-ws-12|16GiB", "ram", "right_sizing", "firefox", "16 GiB",
    "Add 8 GiB of RAM to hr-ws-12", ("hr",), ("5f1c...",), ("pressure|firefox|...",), 41.5,
    Decimal("310.00"), "EUR", {"benefit": {...}, "cost": {...}, "explanation": "..."})``.
    """

    key: str
    kind: str
    category: str
    app: str
    target: str | None
    title: str
    departments: tuple[str, ...]
    hosts: tuple[str, ...]
    finding_keys: tuple[str, ...]
    score: float
    net_benefit_per_year: Decimal | None
    currency: str
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredRecommendation:
    """A recommendation as stored: the newest figures a run proposed, and its lifecycle.

    ``state_reason`` says why it is in its state (a person's reason, or the advisor's:
    ``"no longer proposed"``...); ``deferred_until`` is set while deferred; ``decided_by``
    and ``decided_at`` are the last person's decision (kept through the automatic steps);
    ``realised`` is what a rollout was measured to save (or cost), as JSON. ``updated_at``
    is when its figures or state last changed, ``last_proposed_at`` the newest run that
    proposed it.
    """

    key: str
    kind: str
    category: str
    app: str
    target: str | None
    title: str
    departments: tuple[str, ...]
    hosts: tuple[str, ...]
    finding_keys: tuple[str, ...]
    score: float
    net_benefit_per_year: Decimal | None
    currency: str
    document: dict[str, Any]
    state: RecommendationState
    state_reason: str | None
    deferred_until: float | None
    decided_by: str | None
    decided_at: float | None
    rolled_out_at: float | None
    verified_at: float | None
    created_at: float
    updated_at: float
    last_proposed_at: float
    realised: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values: money as its exact decimal text, tuples as lists."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("departments", "hosts", "finding_keys"):
            values[name] = list(values[name])
        money = self.net_benefit_per_year
        values["net_benefit_per_year"] = None if money is None else str(money)
        return values


@dataclass(frozen=True, slots=True)
class RecommendationFilter:
    """Which recommendations a list shows; None matches anything. ``department`` matches a
    recommendation that concerns that department; ``states`` one in any of them (with
    ``state`` too, both must hold). Example: ``RecommendationFilter(states=CURRENT_STATES,
    department="finance")``, what the API lists by default for finance."""

    state: RecommendationState | None = None
    category: str | None = None
    kind: str | None = None
    department: str | None = None
    app: str | None = None
    states: tuple[RecommendationState, ...] | None = None


@dataclass(frozen=True, slots=True)
class ProposeSummary:
    """What one :meth:`Recommendations.propose` did.

    ``new``: keys never stored; ``updated``: stored keys proposed again (their figures
    rewritten), of which ``changed`` had other figures than before, ``reproposed`` came back
    from ``obsolete`` and ``returned_from_deferral`` from a deferral that had ended;
    ``obsoleted``: keys the run no longer proposes that became ``obsolete``.
    """

    new: int
    updated: int
    changed: int
    obsoleted: int
    returned_from_deferral: int
    reproposed: int


@dataclass(frozen=True, slots=True)
class DepartmentTotal:
    """The recommendations of one department in some states, in one currency: how many, and
    the sum of their net benefit a year (``unpriced``: how many of them have none)."""

    department: str
    currency: str
    count: int
    net_benefit_per_year: Decimal
    unpriced: int


class Recommendations(Protocol):
    """The recommendations and their review lifecycle (the module docstring has the states).

    Contract: times are Unix seconds and ``now`` is always passed in. Every method that writes
    is one transaction, which also appends the audit entries of its steps
    (advisor.store.audit, target ``recommendation:KEY``, action ``recommendation.STATE`` for
    the state reached, detail ``{"from": ..., "to": ...}`` plus the reason and what the step
    was given); when a method raises, nothing is written.

    Errors (advisor.errors): an argument that cannot be stored raises
    InvalidRecommendationInput (a ValueError) naming it; a key no recommendation has,
    UnknownRecommendation (a LookupError); a step its state does not allow, TransitionRefused
    (with the key, the state and the step). A person's ``actor`` is one line of at most 200
    characters, not ``"advisor"`` (the advisor's own name in the log); a ``reason`` at most
    2000 characters.

    Concurrency: runs (from several advisors) are applied one after the other, never
    interleaved; a decision and a run touching one key are applied one after the other too,
    so neither is lost: a run after a decision keeps it, a decision after a run is taken on
    (or refused for) the state the run left.
    """

    def propose(self, proposals: Sequence[Proposal], *, now: float) -> ProposeSummary:
        """Store one run's recommendations as of ``now``.

        A key never stored is inserted ``proposed``. A stored key the run proposes gets the
        run's figures (everything :class:`Proposal` holds) and keeps its state and decisions;
        if ``obsolete`` it becomes ``proposed`` again, if ``deferred`` with ``deferred_until
        <= now`` it returns to ``proposed``. A stored key the run does not propose: a
        ``proposed`` one becomes ``obsolete``, and so does a deferred one whose deferral
        ended; any other is left as it is. Approved, rejected, rolled-out, verified and
        reopened keys change only their figures. Each state change is audited (actor
        ``advisor``). Refuses, before writing anything, a proposal that cannot be stored
        (a kind not in KINDS, a category not in CATEGORIES, a title of several lines, a
        score that is not finite, money that is not a finite Decimal, a currency that is not
        three capital letters, a document that is not a JSON object...) and two proposals
        with one key.
        """
        ...

    def decide(
        self,
        key: str,
        *,
        verdict: Verdict,
        actor: str,
        reason: str | None = None,
        until: float | None = None,
        now: float,
    ) -> StoredRecommendation:
        """A person's decision: ``approve``, ``reject`` (``reason`` required) or ``defer``
        (``until`` required, later than ``now``; only for defer), from ``proposed``,
        ``deferred`` or ``reopened``; an ``approved`` key may still be rejected or
        deferred (a change of mind). Sets ``decided_by``/``decided_at`` and
        ``state_reason``; returns the recommendation as it now is."""
        ...

    def mark_rolled_out(
        self, key: str, *, now: float, detail: dict[str, Any] | None = None
    ) -> StoredRecommendation:
        """The advisor saw the approved change in the inventory: ``approved`` ->
        ``rolled_out`` at ``now``; ``detail`` (a JSON object: which hosts, since when) goes
        to the audit entry."""
        ...

    def mark_verified(
        self, key: str, *, now: float, realised: dict[str, Any]
    ) -> StoredRecommendation:
        """The rollout's effect was measured: ``rolled_out`` -> ``verified`` at ``now``,
        ``realised`` (a JSON object) stored."""
        ...

    def reopen(
        self, key: str, *, now: float, reason: str, realised: dict[str, Any]
    ) -> StoredRecommendation:
        """The rollout made things worse: ``rolled_out`` or ``verified`` -> ``reopened``, with
        ``reason`` (required) and the ``realised`` measurement stored. A person decides on it
        again; the rollback is a recommendation of its own."""
        ...

    def get(self, key: str) -> StoredRecommendation | None:
        """The recommendation of ``key`` in whatever state, or None."""
        ...

    def list(
        self,
        where: RecommendationFilter = RecommendationFilter(),
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredRecommendation]:
        """The recommendations matching ``where``, highest ``score`` first, then by key (a
        total order: pages follow each other without gaps or repeats while nothing is
        written), from the ``offset``-th (0: the first; not negative), at most ``limit``
        (None: all; else at least 1). Filters, order and page are applied in the database:
        only the page's rows are read."""
        ...

    def state_counts(self) -> dict[RecommendationState, int]:
        """How many recommendations are in each state (every state, 0 where none)."""
        ...

    def department_totals(
        self, *, states: Sequence[RecommendationState] = COUNTED_STATES
    ) -> builtins.list[DepartmentTotal]:
        """Per department and currency, the recommendations in ``states`` (proposed and
        approved by default): how many, and their net benefit a year summed exactly; by
        department, then currency. A recommendation that concerns several departments
        counts, with its whole net benefit, in each of them: the totals of departments do
        not add up to the fleet's."""
        ...
