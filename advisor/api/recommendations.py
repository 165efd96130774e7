"""The recommendations API: read them ranked, decide on them, total them by department, plan
a budget.

==============================================  ==============================================
route                                           what it answers
==============================================  ==============================================
GET /api/v1/recommendations                     ranked (highest score first): ``state``
                                                (default ``current``: all but obsolete;
                                                ``all``), ``category``, ``kind``,
                                                ``department``, ``app`` filter as
                                                ``recommendations list`` does; ``limit``
                                                (default 100, at most 1000) and ``offset``
                                                page them (``next_offset``: the next page's),
                                                in the database: score, then key
GET /api/v1/recommendations/departments         per department and currency: how many and
                                                their net benefit a year (``state``,
                                                repeatable; default proposed and approved)
GET /api/v1/recommendations/{key}               one in full: figures, explanation, hosts by
                                                hostname and department, the engine's whole
                                                document, and its history (the audit log)
POST /api/v1/recommendations/{key}/approve      a decision, by the caller (200 with the
POST /api/v1/recommendations/{key}/reject       recommendation as it now is; 404 unknown; 409
POST /api/v1/recommendations/{key}/defer        when its state does not allow it, the detail
                                                naming the state and what would; 422 when the
                                                store cannot take it, naming the field)
POST /api/v1/budget/plan                        the set that saves the most for ``amount``
                                                (advisor.budget_planning), beside the greedy
                                                ranking's
==============================================  ==============================================

Recommendations name hosts and departments, and a decision changes what the organisation
does, so every route wants an admin API token (``fleetsight-advisor api-token create``) as
``Authorization: Bearer``, as the findings routes do; missing, malformed, unknown and revoked
tokens get 401. **The actor of a decision is the token** (``api-token:<token id>``, the id
``api-token list`` shows): it is never read from the body, and a body naming one is refused.
Keys are URL-encoded in the path (``|`` is ``%7C``; a ``/`` in a department's name may stay).
Times are Unix seconds; money is exact decimal text in the recommendation's currency. The
store blocks on the database, so the routes are plain ``def`` routes (the thread pool).

HiGHS (the budget's optimiser) may write a stray line to the process's standard output while
it solves (advisor.recommend.budget._solve). Here that cannot reach an answer: answers go out
on the client's socket, never on standard output, so the line lands in the service's log at
worst. File descriptor 1 is not pointed elsewhere around the solve, as ``budget plan`` does,
because it is the whole process's: another thread's output at the same moment would be lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, cast

from fastapi import Body, Depends, FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from advisor.api.admin import AdminToken, admin_only, error_responses
from advisor.api.openapi_doc import NO_NUL
from advisor.budget_planning import PLANNED_STATES, plan_recommendations
from advisor.errors import InvalidRecommendationInput, TransitionRefused, UnknownRecommendation
from advisor.quarters import Quarter
from advisor.recommendation_figures import decimal_text, figures_of, host_details
from advisor.store import HostRecord
from advisor.store.api_tokens import ApiTokens
from advisor.store.audit import AuditLog, recommendation_target
from advisor.store.recommendations import (
    COUNTED_STATES,
    CURRENT_STATES,
    RecommendationFilter,
    Recommendations,
    RecommendationState,
    StoredRecommendation,
    Verdict,
)

PREFIX = "/api/v1/recommendations"
BUDGET_PATH = "/api/v1/budget/plan"
LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000
MAX_OFFSET = 1_000_000
HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 1000
DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
"""Exact money as text: fixed-point, as many places as the figure has."""
AMOUNT = r"^[0-9]{1,15}(\.[0-9]{1,6})?$"
"""An amount asked for: 0 or more, below 10^15, at most 6 places."""
QUARTER = r"^(?:19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])Q[1-4]$"
"""A quarter, YYYYQn, of the years 1970 to 9998 (Quarter's range; one that has ended is 422)."""
# A reason as the store takes it: at most 2000 characters without control characters other
# than line breaks and tabs; a rejection's also holds something besides white space.
_TEXT_CHAR = "[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]"
_SOME_TEXT = f"^\\s*[^\\s\\u0000-\\u001f\\u007f-\\u009f]{_TEXT_CHAR}*$"
MAX_REASON = 2000
MAX_UNTIL = 253_402_300_799.0
"""9999-12-31T23:59:59Z: the last instant a date can name."""

CURRENT: Final = "current"
StateQuery = Literal[
    "proposed",
    "approved",
    "rejected",
    "deferred",
    "rolled_out",
    "verified",
    "reopened",
    "obsolete",
    "current",
    "all",
]
KindQuery = Literal["upgrade", "rollback", "ram", "ssd", "ram_ssd", "replace", "end_of_life"]
CategoryQuery = Literal["regression", "right_sizing", "lifecycle"]
KeyPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=500,
        pattern=NO_NUL,
        description="The recommendation's key, URL-encoded.",
    ),
]


class FigureSpan(BaseModel):
    """A figure with its 95 % interval."""

    estimate: float
    low: float
    high: float


class MoneySpan(BaseModel):
    """Money a year with its interval, exact, in ``currency``."""

    estimate: str = Field(pattern=DECIMAL)
    low: str = Field(pattern=DECIMAL)
    high: str = Field(pattern=DECIMAL)
    currency: str


class CostOut(BaseModel):
    """What the change costs: once, and a year (null: not in its figures)."""

    one_off: str | None = Field(pattern=DECIMAL)
    recurring_per_year: str | None = Field(pattern=DECIMAL)
    complete: bool | None = Field(description="false: some parts have no price.")
    currency: str


class FiguresOut(BaseModel):
    """What a recommendation saves and costs, from the engine's figures (null: not in them)."""

    basis: str | None = Field(
        description="Where the saving comes from: model (hosts that already have the change), "
        "finding (a finding's effect undone) or none (no saving claimed)."
    )
    seconds_per_launch: FigureSpan | None = Field(description="Seconds saved a launch.")
    launches_per_day: float | None
    hours_per_month: FigureSpan | None
    money_per_year: MoneySpan | None = Field(description="At the departments' wages.")
    cost: CostOut
    annual_benefit: str | None = Field(pattern=DECIMAL, description="Expected money a year.")
    payback_months: float | None = Field(description="null: never paid back (or not priced).")
    roi: float | None
    risk_adjusted_benefit: str | None = Field(
        pattern=DECIMAL, description="What the rank and the budget count of the benefit a year."
    )
    pilot: bool = Field(description="The evidence is weak: a pilot comes first.")
    pilot_hosts: int | None
    flags: list[str]
    group: str | None = Field(description="Alternatives for one problem share a group.")


class RecommendationOut(BaseModel):
    """A stored recommendation: what to change, for whom, what it saves and costs, and where
    its review stands."""

    key: str = Field(description="Stable across runs: kind|app|target|scope (URL-encode it).")
    title: str
    kind: str
    category: str
    app: str
    target: str | None
    departments: list[str]
    host_count: int = Field(ge=0)
    finding_keys: list[str]
    score: float = Field(description="The rank key: the risk-adjusted net benefit a year.")
    net_benefit_per_year: str | None = Field(pattern=DECIMAL)
    currency: str
    figures: FiguresOut
    state: RecommendationState
    state_reason: str | None = Field(description="Why it is in its state.")
    deferred_until: float | None
    decided_by: str | None = Field(description="Who last decided (an api-token:<id> here).")
    decided_at: float | None
    rolled_out_at: float | None
    verified_at: float | None
    created_at: float
    updated_at: float
    last_proposed_at: float


class RankedRecommendation(RecommendationOut):
    """A recommendation of a list, with its place in it."""

    rank: int = Field(ge=1, description="Its place in the whole filtered list (1: best).")


class RecommendationList(BaseModel):
    count: int = Field(description="How many this page holds.")
    offset: int
    next_offset: int | None = Field(description="The next page's offset; null: the last page.")
    recommendations: list[RankedRecommendation]


class RecommendationHost(BaseModel):
    """A host a recommendation names (hostname and department null: not enrolled now)."""

    host_id: str
    hostname: str | None
    department: str | None


class AuditEntryOut(BaseModel):
    """One step of a recommendation's lifecycle: who, when, what, why."""

    entry_id: int
    at: float
    actor: str = Field(description="A person, an api-token:<id>, or advisor.")
    action: str = Field(description="recommendation.<state reached>.")
    detail: dict[str, Any] = Field(description="from, to, the reason and what the step had.")


class HistoryOut(BaseModel):
    entries: list[AuditEntryOut] = Field(description="Oldest first: the newest history_limit.")
    truncated: bool = Field(description="Whether older entries were left out.")


class RecommendationDetail(RecommendationOut):
    """A recommendation in full."""

    explanation: str | None
    host_details: list[RecommendationHost] = Field(description="The hosts, by name and department.")
    realised: dict[str, Any] | None = Field(description="What a rollout was measured to save.")
    document: dict[str, Any] = Field(
        description="Every figure with its evidence, as the engine wrote it (docs/advisor.md)."
    )
    history: HistoryOut


class ApproveBody(BaseModel):
    """An approval; the reason is optional."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, max_length=MAX_REASON, pattern=f"^{_TEXT_CHAR}*$", description="Why."
    )


class RejectBody(BaseModel):
    """A rejection, with the reason (required: for whoever reads it later)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=MAX_REASON, pattern=_SOME_TEXT, description="Why.")


class DeferBody(BaseModel):
    """A deferral until a later time, when the analysis proposes it again."""

    model_config = ConfigDict(extra="forbid")

    until: float = Field(
        gt=0,
        le=MAX_UNTIL,
        description="Unix seconds; must be later than the advisor's clock (else 422).",
    )
    reason: str | None = Field(
        default=None, max_length=MAX_REASON, pattern=f"^{_TEXT_CHAR}*$", description="Why."
    )


class DepartmentTotalOut(BaseModel):
    department: str
    currency: str
    count: int
    net_benefit_per_year: str = Field(pattern=DECIMAL, description="Summed exactly.")
    unpriced: int = Field(description="Of count, how many have no net benefit.")


class DepartmentTotals(BaseModel):
    states: list[RecommendationState]
    departments: list[DepartmentTotalOut]


class BudgetRequest(BaseModel):
    """What to plan: an amount, and optionally a department and a quarter."""

    model_config = ConfigDict(extra="forbid")

    amount: str = Field(
        pattern=AMOUNT, description="What may be spent, in the recommendations' currency."
    )
    department: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="Only the recommendations of this department.",
    )
    quarter: str | None = Field(
        default=None,
        pattern=QUARTER,
        description="Only what can be done in this quarter (YYYYQn; one that has ended is "
        "422): proposed and approved ones, and deferred ones whose deferral ends before it.",
    )


class BudgetOut(BaseModel):
    amount: str = Field(pattern=DECIMAL)
    currency: str | None = Field(description="null: no candidate is priced.")
    department: str | None
    quarter: str | None
    states: list[RecommendationState] = Field(description="The states planned over.")
    candidates: int


class CandidateOut(BaseModel):
    """A recommendation the planner considered."""

    key: str
    title: str
    kind: str
    category: str
    app: str
    target: str | None
    departments: list[str]
    hosts: int
    state: RecommendationState
    group: str | None
    cost: str | None = Field(pattern=DECIMAL, description="One-off; null: not priced.")
    annual_benefit: str | None = Field(
        pattern=DECIMAL, description="Risk-adjusted, less the recurring cost."
    )
    currency: str


class LeftOutOut(CandidateOut):
    reason: str
    code: str = Field(
        description="outside-department, outside-quarter, no-benefit, alternative-chosen, "
        "needs, over-budget, unpriced or other-currency."
    )


class PlanOut(BaseModel):
    method: str = Field(description="milp: proven optimal; see advisor.recommend.budget.")
    spent: str = Field(pattern=DECIMAL)
    left: str = Field(pattern=DECIMAL)
    annual_benefit: str = Field(pattern=DECIMAL)
    chosen: list[CandidateOut]
    left_out: list[LeftOutOut]


class GreedyOut(BaseModel):
    """The ratio ranking (best benefit per cost first, take what fits), for comparison."""

    spent: str = Field(pattern=DECIMAL)
    left: str = Field(pattern=DECIMAL)
    annual_benefit: str = Field(pattern=DECIMAL)
    chosen: list[str]


class BudgetPlanOut(BaseModel):
    budget: BudgetOut
    plan: PlanOut
    greedy: GreedyOut
    gain_over_greedy: str = Field(pattern=DECIMAL)


def summary(rec: StoredRecommendation) -> dict[str, Any]:
    """``rec`` as :class:`RecommendationOut` reads it."""
    return {
        "key": rec.key,
        "title": rec.title,
        "kind": rec.kind,
        "category": rec.category,
        "app": rec.app,
        "target": rec.target,
        "departments": list(rec.departments),
        "host_count": len(rec.hosts),
        "finding_keys": list(rec.finding_keys),
        "score": rec.score,
        "net_benefit_per_year": None
        if rec.net_benefit_per_year is None
        else decimal_text(rec.net_benefit_per_year),
        "currency": rec.currency,
        "figures": figures_of(rec).to_dict(rec.currency),
        "state": rec.state,
        "state_reason": rec.state_reason,
        "deferred_until": rec.deferred_until,
        "decided_by": rec.decided_by,
        "decided_at": rec.decided_at,
        "rolled_out_at": rec.rolled_out_at,
        "verified_at": rec.verified_at,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "last_proposed_at": rec.last_proposed_at,
    }


def add_recommendations_routes(
    app: FastAPI,
    stored: Recommendations,
    audit: AuditLog,
    hosts: Callable[[], list[HostRecord]],
    api_tokens: ApiTokens,
    error_model: type[BaseModel],
    clock: Callable[[], float] = time.time,
) -> None:
    """Add the recommendations and budget routes, on ``stored`` and ``audit``, to ``app``;
    ``hosts`` lists the enrolled hosts (names and departments); ``api_tokens`` are the admin
    tokens they accept (the actor of a decision); ``clock`` is when a decision is taken."""
    admin = admin_only(api_tokens)
    caller = AdminToken(api_tokens)

    def errors(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
        return error_responses(error_model, described)

    def found(key: str) -> StoredRecommendation:
        rec = stored.get(key)
        if rec is None:
            raise HTTPException(404, f"no recommendation {key!r}")
        return rec

    @app.get(
        PREFIX,
        summary="Recommendations, ranked",
        responses={
            **errors({}),
            200: {
                "description": "A page of the recommendations, best first (ties by key).",
                "links": {
                    name: {
                        "operationRef": f"#/paths/~1api~1v1~1recommendations~1{{key}}{suffix}",
                        "parameters": {"key": "$response.body#/recommendations/0/key"},
                    }
                    for name, suffix in (
                        ("GetRecommendation", "/get"),
                        ("ApproveRecommendation", "~1approve/post"),
                        ("DeferRecommendation", "~1defer/post"),
                    )
                },
            },
        },
        tags=["recommendations"],
        dependencies=admin,
    )
    def recommendations(
        state: Annotated[
            StateQuery,
            Query(description="Which (current: every state but obsolete; all: every one)."),
        ] = CURRENT,
        category: Annotated[CategoryQuery | None, Query(description="Only this.")] = None,
        kind: Annotated[KindQuery | None, Query(description="Only this kind.")] = None,
        department: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=200,
                pattern=NO_NUL,
                description="Only those concerning it.",
            ),
        ] = None,
        app_name: Annotated[
            str | None,
            Query(
                alias="app",
                min_length=1,
                max_length=200,
                pattern=NO_NUL,
                description="Only this application's.",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT, description="At most this many.")] = (
            LIST_LIMIT
        ),
        offset: Annotated[
            int, Query(ge=0, le=MAX_OFFSET, description="Skip this many (the page's start).")
        ] = 0,
    ) -> RecommendationList:
        where = RecommendationFilter(
            state=None if state in (CURRENT, "all") else cast(RecommendationState, state),
            states=CURRENT_STATES if state == CURRENT else None,
            category=category,
            kind=kind,
            department=department,
            app=app_name,
        )
        # One row past the page says whether another follows, without counting them all.
        listed = stored.list(where, limit=limit + 1, offset=offset)
        page, more = listed[:limit], len(listed) > limit
        return RecommendationList.model_validate(
            {
                "count": len(page),
                "offset": offset,
                "next_offset": offset + limit if more else None,
                "recommendations": [
                    {**summary(rec), "rank": offset + i} for i, rec in enumerate(page, start=1)
                ],
            }
        )

    @app.get(
        f"{PREFIX}/departments",
        summary="Recommendations by department",
        responses=errors({}),
        tags=["recommendations"],
        dependencies=admin,
    )
    def departments(
        state: Annotated[
            list[RecommendationState] | None,
            Query(description="Count these states (repeat it; default: proposed and approved)."),
        ] = None,
    ) -> DepartmentTotals:
        states = tuple(dict.fromkeys(state or COUNTED_STATES))
        totals = stored.department_totals(states=states)
        return DepartmentTotals.model_validate(
            {
                "states": list(states),
                "departments": [
                    {
                        "department": t.department,
                        "currency": t.currency,
                        "count": t.count,
                        "net_benefit_per_year": decimal_text(t.net_benefit_per_year),
                        "unpriced": t.unpriced,
                    }
                    for t in totals
                ],
            }
        )

    decision_errors = errors(
        {
            404: "No recommendation of that key.",
            409: "Its state does not allow the step; the detail names the state and what "
            "would allow it.",
            422: "The store cannot take the decision (a deferral not in the future); the "
            "detail names the field.",
        }
    )

    def decide(
        key: str, verdict: Verdict, actor: str, reason: str | None, until: float | None
    ) -> RecommendationOut:
        try:
            after = stored.decide(
                key, verdict=verdict, actor=actor, reason=reason, until=until, now=clock()
            )
        except UnknownRecommendation:
            raise HTTPException(404, f"no recommendation {key!r}") from None
        except TransitionRefused as refused:
            raise HTTPException(409, str(refused)) from None
        except InvalidRecommendationInput as bad:
            raise HTTPException(422, str(bad)) from None
        return RecommendationOut.model_validate(summary(after))

    # The decisions before the key's own route: a method the document does not list on
    # .../{key}/approve then gets 405 naming POST, not the key route's GET. Their actor is a
    # default (= Depends(caller)), not an Annotated type: FastAPI resolves annotations at
    # module level, where this app's token check is not.
    @app.post(
        f"{PREFIX}/{{key:path}}/approve",
        summary="Approve a recommendation",
        responses=decision_errors,
        tags=["recommendations"],
    )
    def approve(
        key: KeyPath,
        actor: str = Depends(caller),
        body: Annotated[ApproveBody | None, Body()] = None,
    ) -> RecommendationOut:
        """From proposed, deferred or reopened; the actor is the API token."""
        return decide(key, "approve", actor, body.reason if body else None, None)

    @app.post(
        f"{PREFIX}/{{key:path}}/reject",
        summary="Reject a recommendation, with the reason",
        responses=decision_errors,
        tags=["recommendations"],
    )
    def reject(key: KeyPath, body: RejectBody, actor: str = Depends(caller)) -> RecommendationOut:
        """From proposed, deferred, reopened or approved; the actor is the API token."""
        return decide(key, "reject", actor, body.reason, None)

    @app.post(
        f"{PREFIX}/{{key:path}}/defer",
        summary="Defer a recommendation until a later time",
        responses=decision_errors,
        tags=["recommendations"],
    )
    def defer(key: KeyPath, body: DeferBody, actor: str = Depends(caller)) -> RecommendationOut:
        """From proposed, deferred, reopened or approved; the analysis proposes it again at
        ``until``. The actor is the API token."""
        return decide(key, "defer", actor, body.reason, body.until)

    @app.get(
        f"{PREFIX}/{{key:path}}",
        summary="One recommendation in full, with its history",
        responses=errors({404: "No recommendation of that key."}),
        tags=["recommendations"],
        dependencies=admin,
    )
    def recommendation(
        key: KeyPath,
        history_limit: Annotated[
            int,
            Query(
                ge=1,
                le=MAX_HISTORY_LIMIT,
                description="At most this many audit entries, the newest.",
            ),
        ] = HISTORY_LIMIT,
    ) -> RecommendationDetail:
        rec = found(key)
        by_id = {record.host_id: record for record in hosts()}
        entries = audit.entries(target=recommendation_target(key), limit=history_limit)
        return RecommendationDetail.model_validate(
            {
                **summary(rec),
                "explanation": figures_of(rec).explanation,
                "host_details": [d.to_dict() for d in host_details(rec, by_id)],
                "realised": rec.realised,
                "document": rec.document,
                "history": {
                    "entries": [e.to_dict() for e in reversed(entries)],
                    "truncated": len(entries) == history_limit,
                },
            }
        )

    @app.post(
        BUDGET_PATH,
        summary="Plan a budget: the recommendations that save the most for an amount",
        responses=errors({422: "The quarter has ended (the detail says which to plan instead)."}),
        tags=["recommendations"],
        dependencies=admin,
    )
    def budget_plan(request: BudgetRequest) -> BudgetPlanOut:
        """Over the proposed and approved recommendations (and, for a quarter, the deferred
        ones back by its end): the set with the largest risk-adjusted benefit a year costing
        at most ``amount``, one of each group of alternatives, by an exact optimiser; every
        other candidate with the reason it is left out; the greedy ranking's totals beside."""
        try:
            quarter = None if request.quarter is None else Quarter.parse(request.quarter)
        except ValueError as exc:  # the pattern lets none through: belt and braces
            raise HTTPException(400, f"quarter: {exc}") from None
        states = (*PLANNED_STATES, "deferred") if quarter is not None else PLANNED_STATES
        candidates = [
            rec for state in states for rec in stored.list(RecommendationFilter(state=state))
        ]
        try:
            planned = plan_recommendations(
                candidates,
                Decimal(request.amount),
                now=clock(),
                department=request.department,
                quarter=quarter,
            )
        except ValueError as exc:
            raise HTTPException(422, f"quarter: {exc}") from None
        return BudgetPlanOut.model_validate(planned.to_dict())
