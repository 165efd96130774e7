"""The Recommendations contract on SQLite and PostgreSQL: runs, decisions, the loop, reads."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from advisor.errors import InvalidRecommendationInput, TransitionRefused, UnknownRecommendation
from advisor.store.audit import AuditEntry, AuditLog, recommendation_target
from advisor.store.recommendations import (
    CURRENT_STATES,
    STATES,
    VERDICTS,
    DepartmentTotal,
    Proposal,
    RecommendationFilter,
    Recommendations,
    RecommendationState,
    StoredRecommendation,
)
from tests.advisor.store.recommendationsdata import (
    DAY,
    LOST,
    RAM_KEY,
    SAVED,
    T0,
    UPGRADE_KEY,
    drive,
    proposal,
    ram,
)

DECISIONS: dict[str, dict[str, RecommendationState]] = {
    "approve": {"proposed": "approved", "deferred": "approved", "reopened": "approved"},
    "reject": {
        "proposed": "rejected",
        "deferred": "rejected",
        "reopened": "rejected",
        "approved": "rejected",
    },
    "defer": {
        "proposed": "deferred",
        "deferred": "deferred",
        "reopened": "deferred",
        "approved": "deferred",
    },
}
"""The contract's decisions: from which states each verdict goes, and where."""


def got(recommendations: Recommendations, key: str) -> StoredRecommendation:
    stored = recommendations.get(key)
    assert stored is not None
    return stored


def history(audit_log: AuditLog, key: str) -> list[tuple[str, str, Any, Any]]:
    """A recommendation's audit entries, oldest first: (actor, action, from, to)."""
    entries = audit_log.entries(target=recommendation_target(key), limit=1000)
    return [(e.actor, e.action, e.detail.get("from"), e.detail.get("to")) for e in entries[::-1]]


def decide_as(recommendations: Recommendations, key: str, verdict: str, now: float) -> None:
    """``verdict`` on ``key`` with what it needs (a reason, a time)."""
    if verdict == "approve":
        recommendations.decide(key, verdict="approve", actor="bob", now=now)
    elif verdict == "reject":
        recommendations.decide(key, verdict="reject", actor="bob", reason="too dear", now=now)
    else:
        recommendations.decide(key, verdict="defer", actor="bob", until=now + DAY, now=now)


# -- runs ------------------------------------------------------------------------------------


def test_a_first_run_stores_its_recommendations_proposed_with_every_figure(
    recommendations: Recommendations, audit_log: AuditLog
) -> None:
    summary = recommendations.propose([proposal(), ram()], now=T0)

    assert (summary.new, summary.updated, summary.obsoleted) == (2, 0, 0)
    stored = got(recommendations, UPGRADE_KEY)
    assert stored == StoredRecommendation(
        key=UPGRADE_KEY,
        kind="upgrade",
        category="regression",
        app="libreoffice",
        target="7.6.4",
        title="Upgrade LibreOffice to 7.6.4 in finance",
        departments=("finance",),
        hosts=("fin-1", "fin-2"),
        finding_keys=("version_change|libreoffice|7.5.9|7.6.4",),
        score=10.0,
        net_benefit_per_year=Decimal("1234.56"),
        currency="EUR",
        document={"seconds_saved": [0.4, 0.2, 0.6], "explanation": "7.6.4 is 25 % slower"},
        state="proposed",
        state_reason=None,
        deferred_until=None,
        decided_by=None,
        decided_at=None,
        rolled_out_at=None,
        verified_at=None,
        created_at=T0,
        updated_at=T0,
        last_proposed_at=T0,
        realised=None,
    )
    assert history(audit_log, UPGRADE_KEY) == [
        ("advisor", "recommendation.proposed", None, "proposed")
    ]


def test_money_is_stored_exactly_and_read_back_as_decimal(recommendations: Recommendations) -> None:
    exact = Decimal("12345678901234567.891234567")
    recommendations.propose([proposal(net_benefit=exact), ram(net_benefit=None)], now=T0)

    assert got(recommendations, UPGRADE_KEY).net_benefit_per_year == exact
    assert got(recommendations, RAM_KEY).net_benefit_per_year is None
    assert got(recommendations, UPGRADE_KEY).to_dict()["net_benefit_per_year"] == str(exact)


def test_a_key_proposed_again_gets_the_runs_figures_and_keeps_its_state_and_decision(
    recommendations: Recommendations,
) -> None:
    recommendations.propose([proposal()], now=T0)
    recommendations.decide(UPGRADE_KEY, verdict="approve", actor="alice", reason="ok", now=T0 + 1)

    summary = recommendations.propose(
        [
            proposal(
                hosts=("fin-1", "fin-2", "fin-3"),
                departments=("finance", "hr"),
                score=12.5,
                net_benefit=Decimal("2000.00"),
                title="Upgrade LibreOffice to 7.6.4 in finance and hr",
                document={"explanation": "more hosts"},
            )
        ],
        now=T0 + DAY,
    )

    assert (summary.new, summary.updated, summary.changed) == (0, 1, 1)
    stored = got(recommendations, UPGRADE_KEY)
    assert (stored.state, stored.state_reason, stored.decided_by, stored.decided_at) == (
        "approved",
        "ok",
        "alice",
        T0 + 1,
    )
    assert stored.hosts == ("fin-1", "fin-2", "fin-3")
    assert stored.departments == ("finance", "hr")
    assert (stored.score, stored.net_benefit_per_year) == (12.5, Decimal("2000.00"))
    assert stored.title == "Upgrade LibreOffice to 7.6.4 in finance and hr"
    assert stored.document == {"explanation": "more hosts"}
    assert (stored.created_at, stored.updated_at, stored.last_proposed_at) == (
        T0,
        T0 + DAY,
        T0 + DAY,
    )
    assert [r.key for r in recommendations.list(RecommendationFilter(department="hr"))] == [
        UPGRADE_KEY
    ]


def test_a_run_with_the_same_figures_changes_only_when_it_was_last_proposed(
    recommendations: Recommendations,
) -> None:
    recommendations.propose([proposal()], now=T0)

    summary = recommendations.propose([proposal()], now=T0 + DAY)

    assert (summary.updated, summary.changed) == (1, 0)
    stored = got(recommendations, UPGRADE_KEY)
    assert (stored.updated_at, stored.last_proposed_at) == (T0, T0 + DAY)


@pytest.mark.parametrize(
    "state", ["approved", "rejected", "deferred", "rolled_out", "verified", "reopened"]
)
def test_a_run_changes_only_the_figures_of_a_decided_key(
    recommendations: Recommendations, audit_log: AuditLog, state: RecommendationState
) -> None:
    drive(recommendations, {UPGRADE_KEY: state})
    before = got(recommendations, UPGRADE_KEY)
    entries = len(audit_log.entries(limit=1000))

    recommendations.propose([proposal(score=99.0)], now=T0 + DAY)

    after = got(recommendations, UPGRADE_KEY)
    assert after.score == 99.0
    lifecycle = (
        "state",
        "state_reason",
        "deferred_until",
        "decided_by",
        "decided_at",
        "rolled_out_at",
        "verified_at",
        "realised",
        "created_at",
    )
    assert [getattr(after, f) for f in lifecycle] == [getattr(before, f) for f in lifecycle]
    assert len(audit_log.entries(limit=1000)) == entries


@pytest.mark.parametrize(
    "state", ["approved", "rejected", "deferred", "rolled_out", "verified", "reopened"]
)
def test_a_decided_key_the_run_no_longer_proposes_is_left_as_it_is(
    recommendations: Recommendations, state: RecommendationState
) -> None:
    drive(recommendations, {UPGRADE_KEY: state})
    before = got(recommendations, UPGRADE_KEY)

    summary = recommendations.propose([], now=T0 + DAY)

    assert summary.obsoleted == 0
    assert got(recommendations, UPGRADE_KEY) == before


def test_a_proposed_key_the_run_no_longer_proposes_is_obsolete_until_proposed_again(
    recommendations: Recommendations, audit_log: AuditLog
) -> None:
    recommendations.propose([proposal(), ram()], now=T0)

    gone = recommendations.propose([ram()], now=T0 + DAY)

    assert (gone.obsoleted, gone.updated) == (1, 1)
    stored = got(recommendations, UPGRADE_KEY)
    assert (stored.state, stored.state_reason, stored.updated_at) == (
        "obsolete",
        "no longer proposed by the analysis",
        T0 + DAY,
    )
    assert stored.last_proposed_at == T0

    back = recommendations.propose([proposal(), ram()], now=T0 + 2 * DAY)

    assert (back.new, back.reproposed, back.updated) == (0, 1, 2)
    stored = got(recommendations, UPGRADE_KEY)
    assert (stored.state, stored.created_at) == ("proposed", T0)
    assert history(audit_log, UPGRADE_KEY) == [
        ("advisor", "recommendation.proposed", None, "proposed"),
        ("advisor", "recommendation.obsolete", "proposed", "obsolete"),
        ("advisor", "recommendation.proposed", "obsolete", "proposed"),
    ]


def test_a_deferral_that_ended_returns_the_key_to_proposed_at_the_next_run(
    recommendations: Recommendations, audit_log: AuditLog
) -> None:
    recommendations.propose([proposal()], now=T0)
    recommendations.decide(
        UPGRADE_KEY,
        verdict="defer",
        actor="alice",
        reason="after the audit",
        until=T0 + DAY,
        now=T0,
    )

    early = recommendations.propose([proposal()], now=T0 + DAY - 1)

    assert early.returned_from_deferral == 0
    assert got(recommendations, UPGRADE_KEY).state == "deferred"

    ended = recommendations.propose([proposal()], now=T0 + DAY)

    assert ended.returned_from_deferral == 1
    stored = got(recommendations, UPGRADE_KEY)
    assert (stored.state, stored.deferred_until, stored.state_reason) == (
        "proposed",
        None,
        "the deferral ended",
    )
    assert (stored.decided_by, stored.decided_at) == ("alice", T0)
    last = audit_log.entries(target=recommendation_target(UPGRADE_KEY), limit=1)[0]
    assert (last.actor, last.action, last.at) == ("advisor", "recommendation.proposed", T0 + DAY)
    assert last.detail == {"from": "deferred", "to": "proposed", "reason": "the deferral ended"}


def test_a_deferred_key_no_longer_proposed_becomes_obsolete_once_its_deferral_ended(
    recommendations: Recommendations,
) -> None:
    recommendations.propose([proposal()], now=T0)
    recommendations.decide(UPGRADE_KEY, verdict="defer", actor="alice", until=T0 + DAY, now=T0)

    recommendations.propose([], now=T0 + DAY - 1)

    assert got(recommendations, UPGRADE_KEY).state == "deferred"

    summary = recommendations.propose([], now=T0 + DAY)

    assert (summary.obsoleted, summary.returned_from_deferral) == (1, 0)
    stored = got(recommendations, UPGRADE_KEY)
    assert (stored.state, stored.deferred_until) == ("obsolete", None)


def test_a_department_named_twice_is_one_department(recommendations: Recommendations) -> None:
    recommendations.propose([proposal(departments=("finance", "hr", "finance"))], now=T0)

    assert got(recommendations, UPGRADE_KEY).departments == ("finance", "hr")
    totals = recommendations.department_totals()
    assert [(t.department, t.count) for t in totals] == [("finance", 1), ("hr", 1)]


def _bad(**figures: Any) -> Proposal:
    return proposal(**figures)


@pytest.mark.parametrize(
    ("proposals", "named"),
    [
        ([_bad(key="")], "key must not be empty"),
        ([_bad(key="x" * 501)], "key must be at most 500"),
        ([_bad(kind="upgrad")], "kind must be one of"),
        ([_bad(category="speed")], "category must be one of"),
        ([_bad(title="Upgrade\nnow")], "title must be one line"),
        ([_bad(title="x" * 301)], "title must be at most 300"),
        ([_bad(app="")], "app must not be empty"),
        ([_bad(score=math.nan)], "score must be a finite number"),
        ([_bad(net_benefit=1234.56)], "net_benefit must be a Decimal"),
        ([_bad(net_benefit=Decimal("NaN"))], "net_benefit must be a finite amount"),
        ([_bad(currency="eur")], "currency must be three capital letters"),
        ([_bad(document={"x": math.inf})], "document is not JSON with finite numbers"),
        ([_bad(document={"x": object()})], "document is not JSON"),
        ([_bad(hosts="fin-1")], "hosts must be a tuple of names"),
        ([_bad(hosts=("fin-1", ""))], "hosts[1] must not be empty"),
        ([proposal(), ram(), proposal()], f"two proposals have the key {UPGRADE_KEY!r}"),
    ],
)
def test_a_run_that_cannot_be_stored_is_refused_naming_the_problem_and_writes_nothing(
    recommendations: Recommendations, audit_log: AuditLog, proposals: list[Proposal], named: str
) -> None:
    recommendations.propose([ram(key="kept")], now=T0)

    with pytest.raises(InvalidRecommendationInput) as refused:
        recommendations.propose(proposals, now=T0 + DAY)

    assert named in str(refused.value)
    assert isinstance(refused.value, ValueError)
    assert [(r.key, r.state, r.last_proposed_at) for r in recommendations.list()] == [
        ("kept", "proposed", T0)
    ]
    assert len(audit_log.entries()) == 1


# -- decisions -------------------------------------------------------------------------------


def test_an_approval_sets_who_when_and_why_and_is_audited_in_the_same_step(
    recommendations: Recommendations, audit_log: AuditLog
) -> None:
    recommendations.propose([proposal()], now=T0)

    approved = recommendations.decide(
        UPGRADE_KEY, verdict="approve", actor=" alice ", reason="budget Q3", now=T0 + 60
    )

    assert approved == got(recommendations, UPGRADE_KEY)
    assert (approved.state, approved.state_reason, approved.decided_by, approved.decided_at) == (
        "approved",
        "budget Q3",
        "alice",
        T0 + 60,
    )
    assert approved.updated_at == T0 + 60
    assert audit_log.entries(limit=1) == [
        AuditEntry(
            entry_id=audit_log.entries(limit=1)[0].entry_id,
            at=T0 + 60,
            actor="alice",
            action="recommendation.approved",
            target=recommendation_target(UPGRADE_KEY),
            detail={"from": "proposed", "to": "approved", "reason": "budget Q3"},
        )
    ]


def test_a_deferral_keeps_its_time_and_reason(
    recommendations: Recommendations, audit_log: AuditLog
) -> None:
    recommendations.propose([proposal()], now=T0)

    deferred = recommendations.decide(
        UPGRADE_KEY,
        verdict="defer",
        actor="alice",
        reason="after closing",
        until=T0 + 9 * DAY,
        now=T0,
    )

    assert (deferred.state, deferred.deferred_until, deferred.state_reason) == (
        "deferred",
        T0 + 9 * DAY,
        "after closing",
    )
    assert audit_log.entries(limit=1)[0].detail == {
        "from": "proposed",
        "to": "deferred",
        "reason": "after closing",
        "until": T0 + 9 * DAY,
    }


def test_each_decision_goes_from_the_states_the_contract_names_and_no_other(
    recommendations: Recommendations,
) -> None:
    cases = [(verdict, state) for verdict in VERDICTS for state in STATES]
    drive(recommendations, {f"{verdict}|{state}": state for verdict, state in cases})

    outcomes: dict[str, tuple[str, ...]] = {}
    expected: dict[str, tuple[str, ...]] = {}
    for verdict, state in cases:
        key = f"{verdict}|{state}"
        reached = DECISIONS[verdict].get(state)
        expected[key] = ("refused", key, state, verdict) if reached is None else (reached,)
        try:
            decide_as(recommendations, key, verdict, T0 + DAY)
        except TransitionRefused as refused:
            outcomes[key] = ("refused", refused.key, refused.state, refused.action)
            outcomes[key] += (got(recommendations, key).state,)
            expected[key] += (state,)  # a refused step leaves the state as it was
        else:
            outcomes[key] = (got(recommendations, key).state,)

    assert outcomes == expected


def test_an_approval_may_still_be_rejected_or_deferred_and_both_are_audited(
    recommendations: Recommendations, audit_log: AuditLog
) -> None:
    recommendations.propose([proposal()], now=T0)
    recommendations.decide(UPGRADE_KEY, verdict="approve", actor="alice", now=T0 + 1)
    recommendations.decide(
        UPGRADE_KEY, verdict="defer", actor="bob", until=T0 + DAY, reason="freeze", now=T0 + 2
    )
    recommendations.decide(
        UPGRADE_KEY, verdict="reject", actor="carol", reason="dropped", now=T0 + 3
    )

    stored = got(recommendations, UPGRADE_KEY)
    assert (stored.state, stored.decided_by, stored.deferred_until) == ("rejected", "carol", None)
    assert history(audit_log, UPGRADE_KEY)[1:] == [
        ("alice", "recommendation.approved", "proposed", "approved"),
        ("bob", "recommendation.deferred", "approved", "deferred"),
        ("carol", "recommendation.rejected", "deferred", "rejected"),
    ]


def test_a_refused_step_names_the_state_and_what_would_allow_it(
    recommendations: Recommendations,
) -> None:
    drive(recommendations, {UPGRADE_KEY: "obsolete"})

    with pytest.raises(TransitionRefused) as refused:
        recommendations.decide(UPGRADE_KEY, verdict="approve", actor="alice", now=T0 + DAY)

    assert str(refused.value) == (
        f"cannot approve {UPGRADE_KEY!r}: it is obsolete; only a proposed, deferred or "
        "reopened recommendation can be approved"
    )


@pytest.mark.parametrize(
    ("decision", "named"),
    [
        ({"verdict": "reject"}, "a rejection needs a reason"),
        ({"verdict": "reject", "reason": "   "}, "a rejection needs a reason"),
        ({"verdict": "defer"}, "a deferral needs until"),
        ({"verdict": "defer", "until": T0}, "until (1764000000.0) must be later than now"),
        ({"verdict": "defer", "until": math.inf}, "until must be a finite number"),
        ({"verdict": "approve", "until": T0 + DAY}, "until is for a deferral only"),
        ({"verdict": "accept"}, "verdict must be one of approve, reject, defer"),
        ({"verdict": "approve", "actor": ""}, "actor must not be empty"),
        ({"verdict": "approve", "actor": "advisor"}, "the advisor's own name"),
        ({"verdict": "approve", "actor": "alice\nbob"}, "actor must be one line"),
        ({"verdict": "approve", "actor": "a" * 201}, "actor must be at most 200 characters"),
        ({"verdict": "approve", "reason": "x" * 2001}, "reason must be at most 2000 characters"),
        ({"verdict": "approve", "reason": "ok\x1b[2J"}, "reason must not hold control characters"),
        ({"verdict": "approve", "now": math.nan}, "now must be a finite number"),
    ],
)
def test_a_decision_that_cannot_be_stored_is_refused_naming_the_problem_and_writes_nothing(
    recommendations: Recommendations,
    audit_log: AuditLog,
    decision: dict[str, Any],
    named: str,
) -> None:
    recommendations.propose([proposal()], now=T0)
    before = got(recommendations, UPGRADE_KEY)
    arguments: dict[str, Any] = {"actor": "alice", "now": T0, **decision}

    with pytest.raises(InvalidRecommendationInput) as refused:
        recommendations.decide(UPGRADE_KEY, **arguments)

    assert named in str(refused.value)
    assert isinstance(refused.value, ValueError)
    assert got(recommendations, UPGRADE_KEY) == before
    assert len(audit_log.entries()) == 1


def test_a_reason_of_2000_characters_with_line_breaks_is_kept(
    recommendations: Recommendations,
) -> None:
    recommendations.propose([proposal()], now=T0)
    reason = ("The vendor's fix is due.\r\n\tWait for it. " * 60)[:2000]

    rejected = recommendations.decide(
        UPGRADE_KEY, verdict="reject", actor="alice", reason=reason, now=T0
    )

    assert rejected.state_reason == reason.strip()


def test_every_step_on_an_unknown_key_raises_lookup_error_and_writes_nothing(
    recommendations: Recommendations, audit_log: AuditLog
) -> None:
    steps: list[Callable[[], object]] = [
        lambda: recommendations.decide("nope", verdict="approve", actor="alice", now=T0),
        lambda: recommendations.mark_rolled_out("nope", now=T0),
        lambda: recommendations.mark_verified("nope", now=T0, realised=SAVED),
        lambda: recommendations.reopen("nope", now=T0, reason="worse", realised=LOST),
    ]
    for step in steps:
        with pytest.raises(UnknownRecommendation, match="no recommendation has the key 'nope'"):
            step()

    assert isinstance(UnknownRecommendation("nope"), LookupError)
    assert recommendations.list() == []
    assert audit_log.entries() == []


# -- the loop --------------------------------------------------------------------------------


def test_an_approved_change_is_rolled_out_then_verified_with_what_it_saved(
    recommendations: Recommendations, audit_log: AuditLog
) -> None:
    recommendations.propose([proposal()], now=T0)
    recommendations.decide(UPGRADE_KEY, verdict="approve", actor="alice", now=T0 + 1)

    rolled_out = recommendations.mark_rolled_out(
        UPGRADE_KEY, now=T0 + DAY, detail={"hosts": ["fin-1", "fin-2"], "since": T0 + DAY / 2}
    )
    verified = recommendations.mark_verified(UPGRADE_KEY, now=T0 + 15 * DAY, realised=SAVED)

    assert (rolled_out.state, rolled_out.rolled_out_at) == ("rolled_out", T0 + DAY)
    assert (verified.state, verified.verified_at, verified.realised) == (
        "verified",
        T0 + 15 * DAY,
        SAVED,
    )
    assert (verified.decided_by, verified.rolled_out_at) == ("alice", T0 + DAY)
    entries = audit_log.entries(limit=2)
    assert [(e.actor, e.action, e.detail) for e in entries] == [
        (
            "advisor",
            "recommendation.verified",
            {"from": "rolled_out", "to": "verified", "realised": SAVED},
        ),
        (
            "advisor",
            "recommendation.rolled_out",
            {
                "from": "approved",
                "to": "rolled_out",
                "rollout": {"hosts": ["fin-1", "fin-2"], "since": T0 + DAY / 2},
            },
        ),
    ]


@pytest.mark.parametrize("after", ["rolled_out", "verified"])
def test_a_rollout_that_made_things_worse_is_reopened_for_people_to_decide_again(
    recommendations: Recommendations, after: RecommendationState
) -> None:
    drive(recommendations, {UPGRADE_KEY: after})

    reopened = recommendations.reopen(
        UPGRADE_KEY, now=T0 + DAY, reason="0.5 s slower a launch since", realised=LOST
    )

    assert (reopened.state, reopened.state_reason, reopened.realised) == (
        "reopened",
        "0.5 s slower a launch since",
        LOST,
    )
    rejected = recommendations.decide(
        UPGRADE_KEY, verdict="reject", actor="alice", reason="rolling back", now=T0 + 2 * DAY
    )
    assert rejected.state == "rejected"


def test_each_loop_step_goes_from_the_states_the_contract_names_and_no_other(
    recommendations: Recommendations,
) -> None:
    cases = [(step, state) for step in ("roll out", "verify", "reopen") for state in STATES]
    drive(recommendations, {f"{step}|{state}": state for step, state in cases})
    allowed = {
        ("roll out", "approved"): "rolled_out",
        ("verify", "rolled_out"): "verified",
        ("reopen", "rolled_out"): "reopened",
        ("reopen", "verified"): "reopened",
    }

    outcomes: dict[str, tuple[str, ...]] = {}
    expected: dict[str, tuple[str, ...]] = {}
    for step, state in cases:
        key = f"{step}|{state}"
        reached = allowed.get((step, state))
        expected[key] = ("refused", state, step) if reached is None else (reached,)
        try:
            if step == "roll out":
                recommendations.mark_rolled_out(key, now=T0 + DAY)
            elif step == "verify":
                recommendations.mark_verified(key, now=T0 + DAY, realised=SAVED)
            else:
                recommendations.reopen(key, now=T0 + DAY, reason="worse", realised=LOST)
        except TransitionRefused as refused:
            outcomes[key] = ("refused", refused.state, refused.action)
        else:
            outcomes[key] = (got(recommendations, key).state,)

    assert outcomes == expected


@pytest.mark.parametrize(
    ("reason", "realised", "named"),
    [
        ("", LOST, "reopening needs a reason"),
        ("worse", {"seconds": math.nan}, "realised is not JSON with finite numbers"),
        ("worse", ["not", "an", "object"], "realised must be a JSON object"),
    ],
)
def test_a_reopening_needs_a_reason_and_a_json_measurement(
    recommendations: Recommendations, reason: str, realised: Any, named: str
) -> None:
    drive(recommendations, {UPGRADE_KEY: "rolled_out"})

    with pytest.raises(InvalidRecommendationInput, match=named):
        recommendations.reopen(UPGRADE_KEY, now=T0 + DAY, reason=reason, realised=realised)

    assert got(recommendations, UPGRADE_KEY).state == "rolled_out"


# -- reads -----------------------------------------------------------------------------------


def test_lists_are_by_score_then_key_and_filter_by_state_category_kind_department_and_app(
    recommendations: Recommendations,
) -> None:
    recommendations.propose(
        [
            proposal("b", score=5.0),
            proposal("a", score=5.0),
            proposal("top", score=50.0, departments=("hr",)),
            ram("ram", score=7.0),
            proposal("eol", kind="end_of_life", category="lifecycle", app="python", score=1.0),
        ],
        now=T0,
    )
    recommendations.decide("a", verdict="approve", actor="alice", now=T0 + 1)

    def keys(where: RecommendationFilter | None = None, **kw: Any) -> list[str]:
        return [r.key for r in recommendations.list(where or RecommendationFilter(), **kw)]

    assert keys() == ["top", "ram", "a", "b", "eol"]
    assert keys(limit=2) == ["top", "ram"]
    assert keys(RecommendationFilter(state="approved")) == ["a"]
    assert keys(RecommendationFilter(state="proposed", category="regression")) == ["top", "b"]
    assert keys(RecommendationFilter(kind="end_of_life")) == ["eol"]
    assert keys(RecommendationFilter(department="hr")) == ["top", "ram"]
    assert keys(RecommendationFilter(department="finance", app="libreoffice")) == ["a", "b"]
    assert keys(RecommendationFilter(department="sales")) == []


def test_pages_follow_each_other_in_the_order_of_the_whole_list_ties_by_key(
    recommendations: Recommendations,
) -> None:
    # 23 recommendations on 5 scores (ties of up to 5), two departments, every third obsolete.
    def made(i: int) -> Proposal:
        departments = ("hr",) if i % 2 else ("finance", "hr")
        return proposal(f"k{i:02d}", score=float(i % 5), departments=departments)

    recommendations.propose([made(i) for i in range(23)], now=T0)
    recommendations.propose([made(i) for i in range(23) if i % 3], now=T0 + 1)
    for where in (
        RecommendationFilter(),
        RecommendationFilter(department="finance"),
        RecommendationFilter(states=CURRENT_STATES),
        RecommendationFilter(states=CURRENT_STATES, department="finance"),
        RecommendationFilter(state="obsolete", department="hr"),
    ):
        whole = [r.key for r in recommendations.list(where)]
        for size in (1, 4, 7):
            paged = [
                r.key
                for start in range(0, len(whole) + size, size)
                for r in recommendations.list(where, limit=size, offset=start)
            ]
            assert paged == whole, (where, size)
        scores = [r.score for r in recommendations.list(where)]
        assert scores == sorted(scores, reverse=True)
        assert recommendations.list(where, offset=len(whole)) == []
    current = recommendations.list(RecommendationFilter(states=CURRENT_STATES))
    assert len(current) == 15
    assert "obsolete" not in {r.state for r in current}
    finance = [r.key for r in recommendations.list(RecommendationFilter(department="finance"))]
    assert finance == [
        *("k04", "k14"),
        *("k08", "k18"),
        *("k02", "k12", "k22"),
        *("k06", "k16"),
        *("k00", "k10", "k20"),
    ]


def test_get_of_an_unknown_key_is_none_and_bad_list_arguments_are_refused(
    recommendations: Recommendations,
) -> None:
    assert recommendations.get("nope") is None
    with pytest.raises(InvalidRecommendationInput, match="limit must be at least 1"):
        recommendations.list(limit=0)
    with pytest.raises(InvalidRecommendationInput, match="offset must be 0 or more"):
        recommendations.list(offset=-1)
    with pytest.raises(InvalidRecommendationInput, match="states must be among"):
        recommendations.list(RecommendationFilter(states=("proposed", "done")))  # type: ignore[arg-type]
    with pytest.raises(InvalidRecommendationInput, match="states must be among"):
        recommendations.list(RecommendationFilter(state="accepted"))  # type: ignore[arg-type]
    with pytest.raises(InvalidRecommendationInput, match="states must be among"):
        recommendations.department_totals(states=("proposed", "done"))  # type: ignore[arg-type]


def test_department_totals_count_and_sum_what_is_still_to_do_by_currency_exactly(
    recommendations: Recommendations,
) -> None:
    recommendations.propose(
        [
            proposal("f1", net_benefit=Decimal("0.10")),
            proposal("f2", net_benefit=Decimal("0.20"), departments=("finance", "hr")),
            proposal("f3", net_benefit=None),
            proposal("f4", net_benefit=Decimal("100"), currency="USD"),
            proposal("rejected", net_benefit=Decimal("1000")),
            ram("h1", net_benefit=Decimal("310.00")),
        ],
        now=T0,
    )
    recommendations.decide("f2", verdict="approve", actor="alice", now=T0)
    recommendations.decide("rejected", verdict="reject", actor="alice", reason="no", now=T0)

    assert recommendations.department_totals() == [
        DepartmentTotal("finance", "EUR", 3, Decimal("0.30"), 1),
        DepartmentTotal("finance", "USD", 1, Decimal("100"), 0),
        DepartmentTotal("hr", "EUR", 2, Decimal("310.20"), 0),
    ]
    assert recommendations.department_totals(states=("rejected",)) == [
        DepartmentTotal("finance", "EUR", 1, Decimal("1000"), 0)
    ]
