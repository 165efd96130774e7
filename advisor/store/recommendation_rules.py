"""The rules of the recommendations' lifecycle, without SQL: which step goes from which state
to which, what a run does to each stored key, and what may be stored.

advisor.store.recommendations_sql applies them in transactions; the table of states is in
advisor.store.recommendations.

>>> next_state("k", "proposed", "approve")
'approved'
>>> next_state("k", "obsolete", "approve")
Traceback (most recent call last):
...
advisor.errors.TransitionRefused: cannot approve 'k': it is obsolete; only a proposed, \
deferred or reopened recommendation can be approved
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from advisor.errors import InvalidRecommendationInput, TransitionRefused
from advisor.store.fields import (
    finite,
    free_text,
    json_object,
    names,
    one_line,
    optional_one_line,
)
from advisor.store.recommendations import (
    ADVISOR,
    CATEGORIES,
    KINDS,
    VERDICTS,
    Proposal,
    RecommendationState,
    Verdict,
)

MAX_KEY = 500
MAX_NAME = 200
MAX_TITLE = 300
MAX_FINDING_KEY = 1000
MAX_REASON = 2000
MAX_DOCUMENT_BYTES = 1 << 20
_CURRENCY = re.compile(r"[A-Z]{3}")
_ERROR = InvalidRecommendationInput

_PEOPLE_CAN_DECIDE: frozenset[RecommendationState] = frozenset({"proposed", "deferred", "reopened"})
STEPS: dict[str, tuple[RecommendationState, frozenset[RecommendationState]]] = {
    "approve": ("approved", _PEOPLE_CAN_DECIDE),
    "reject": ("rejected", _PEOPLE_CAN_DECIDE | {"approved"}),
    "defer": ("deferred", _PEOPLE_CAN_DECIDE | {"approved"}),
    "roll out": ("rolled_out", frozenset({"approved"})),
    "verify": ("verified", frozenset({"rolled_out"})),
    "reopen": ("reopened", frozenset({"rolled_out", "verified"})),
}
"""Each step: the state it reaches, and the states it may start from."""
_DONE = {
    "approve": "approved",
    "reject": "rejected",
    "defer": "deferred",
    "roll out": "rolled out",
    "verify": "verified",
    "reopen": "reopened",
}
_ORDER: tuple[RecommendationState, ...] = (
    "proposed",
    "deferred",
    "reopened",
    "approved",
    "rolled_out",
    "verified",
)

PROPOSED_AGAIN = "proposed again by the analysis"
DEFERRAL_ENDED = "the deferral ended"
NO_LONGER_PROPOSED = "no longer proposed by the analysis"
DEFERRAL_ENDED_NOT_PROPOSED = "the deferral ended and the analysis no longer proposes it"


def next_state(key: str, state: str, step: str) -> RecommendationState:
    """The state ``step`` takes the recommendation ``key`` in ``state`` to; TransitionRefused
    when its state does not allow the step."""
    reached, allowed = STEPS[step]
    if state in allowed:
        return reached
    starts = sorted(allowed, key=_ORDER.index)
    listed = starts[0] if len(starts) == 1 else f"{', '.join(starts[:-1])} or {starts[-1]}"
    raise TransitionRefused(
        key,
        state,
        step,
        f"cannot {step} {key!r}: it is {state.replace('_', ' ')}; only a "
        f"{listed.replace('_', ' ')} recommendation can be {_DONE[step]}",
    )


@dataclass(frozen=True, slots=True)
class Change:
    """A state change a run makes: to ``state``, for ``reason``."""

    state: RecommendationState
    reason: str


def plan_run(
    stored: Mapping[str, tuple[str, float | None]], proposed: Iterable[str], now: float
) -> dict[str, Change]:
    """The state changes a run proposing the keys ``proposed`` makes to the ``stored`` keys
    (key -> state, ``deferred_until``), as of ``now``; keys it leaves alone are not in it.

    >>> plan_run({"a": ("proposed", None), "b": ("deferred", 10.0), "c": ("obsolete", None),
    ...           "d": ("approved", None)}, ["b", "c"], now=10.0)
    ... # doctest: +NORMALIZE_WHITESPACE
    {'a': Change(state='obsolete', reason='no longer proposed by the analysis'),
     'b': Change(state='proposed', reason='the deferral ended'),
     'c': Change(state='proposed', reason='proposed again by the analysis')}
    """
    again = set(proposed)
    changes: dict[str, Change] = {}
    for key, (state, deferred_until) in sorted(stored.items()):
        deferral_ended = (
            state == "deferred" and deferred_until is not None and deferred_until <= now
        )
        if key in again:
            if state == "obsolete":
                changes[key] = Change("proposed", PROPOSED_AGAIN)
            elif deferral_ended:
                changes[key] = Change("proposed", DEFERRAL_ENDED)
        elif state == "proposed":
            changes[key] = Change("obsolete", NO_LONGER_PROPOSED)
        elif deferral_ended:
            changes[key] = Change("obsolete", DEFERRAL_ENDED_NOT_PROPOSED)
    return changes


@dataclass(frozen=True, slots=True)
class Decision:
    """A person's decision, checked: the step, who, why, and until when (defer)."""

    verdict: Verdict
    actor: str
    reason: str | None
    until: float | None
    now: float


def checked_decision(
    *, verdict: object, actor: object, reason: object, until: object, now: object
) -> Decision:
    """A decision that can be stored, or InvalidRecommendationInput naming what is wrong."""
    if verdict not in VERDICTS:
        raise _ERROR(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    checked_now = finite(now, field="now", error=_ERROR)
    checked_reason = checked_reason_text(reason)
    if verdict == "reject" and checked_reason is None:
        raise _ERROR("a rejection needs a reason: say why, for whoever reads it later")
    checked_until: float | None = None
    if verdict == "defer":
        if until is None:
            raise _ERROR("a deferral needs until: the time to propose it again")
        checked_until = finite(until, field="until", error=_ERROR)
        if checked_until <= checked_now:
            raise _ERROR(f"until ({checked_until}) must be later than now ({checked_now})")
    elif until is not None:
        raise _ERROR(f"until is for a deferral only, not for {verdict}")
    return Decision(verdict, checked_person(actor), checked_reason, checked_until, checked_now)


def checked_person(actor: object) -> str:
    """A person's name for the audit log: one line, at most 200 characters, not the
    advisor's own."""
    name = one_line(actor, field="actor", limit=MAX_NAME, error=_ERROR)
    if name == ADVISOR:
        raise _ERROR(f"actor {ADVISOR!r} is the advisor's own name in the audit log")
    return name


def checked_reason_text(reason: object) -> str | None:
    """A reason: free text of at most 2000 characters (None when blank)."""
    return free_text(reason, field="reason", limit=MAX_REASON, error=_ERROR)


def checked_json(value: object, *, field: str) -> dict[str, Any]:
    """A JSON object of finite numbers, at most 1 MiB."""
    return json_object(value, field=field, limit_bytes=MAX_DOCUMENT_BYTES, error=_ERROR)


def checked_proposals(proposals: Sequence[Proposal]) -> list[dict[str, Any]]:
    """The figure columns of each proposal, as stored, or InvalidRecommendationInput naming
    the first that cannot be (and two proposals with one key)."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, proposal in enumerate(proposals):
        if not isinstance(proposal, Proposal):
            raise _ERROR(f"proposals[{index}] must be a Proposal, not {type(proposal).__name__}")
        row = _figures(proposal)
        if row["key"] in seen:
            raise _ERROR(f"two proposals have the key {row['key']!r}")
        seen.add(row["key"])
        rows.append(row)
    return rows


def _figures(proposal: Proposal) -> dict[str, Any]:
    key = one_line(proposal.key, field="key", limit=MAX_KEY, error=_ERROR)

    def field(name: str) -> str:
        return f"recommendation {key!r}: {name}"

    if proposal.kind not in KINDS:
        raise _ERROR(f"{field('kind')} must be one of {', '.join(KINDS)}, not {proposal.kind!r}")
    if proposal.category not in CATEGORIES:
        raise _ERROR(
            f"{field('category')} must be one of {', '.join(CATEGORIES)}, not {proposal.category!r}"
        )
    if not isinstance(proposal.currency, str) or not _CURRENCY.fullmatch(proposal.currency):
        raise _ERROR(
            f"{field('currency')} must be three capital letters (ISO 4217), "
            f"not {proposal.currency!r}"
        )
    return {
        "key": key,
        "kind": proposal.kind,
        "category": proposal.category,
        "app": one_line(proposal.app, field=field("app"), limit=MAX_NAME, error=_ERROR),
        "target": optional_one_line(
            proposal.target, field=field("target"), limit=MAX_NAME, error=_ERROR
        ),
        "title": one_line(proposal.title, field=field("title"), limit=MAX_TITLE, error=_ERROR),
        # Each once: they key the department rows.
        "departments": list(
            dict.fromkeys(
                names(
                    proposal.departments, field=field("departments"), limit=MAX_NAME, error=_ERROR
                )
            )
        ),
        "hosts": list(names(proposal.hosts, field=field("hosts"), limit=MAX_NAME, error=_ERROR)),
        "finding_keys": list(
            names(
                proposal.finding_keys,
                field=field("finding_keys"),
                limit=MAX_FINDING_KEY,
                error=_ERROR,
            )
        ),
        "score": finite(proposal.score, field=field("score"), error=_ERROR),
        "net_benefit_per_year": _money(proposal.net_benefit_per_year, field("net_benefit")),
        "currency": proposal.currency,
        "document": checked_json(proposal.document, field=field("document")),
    }


def _money(value: object, field: str) -> str | None:
    """Decimal text, exact; None for None. A float would be inexact already: refused."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise _ERROR(f"{field} must be a Decimal (or None), not {type(value).__name__}")
    if not value.is_finite():
        raise _ERROR(f"{field} must be a finite amount, not {value}")
    return str(value)
