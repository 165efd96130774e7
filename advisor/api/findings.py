"""The read-only findings API: the analysis runs' findings, filtered, and one by its key.

========================================  =====================================================
route                                     what it answers
========================================  =====================================================
GET /api/v1/findings                      findings, open first and largest effect first;
                                          ``status`` (open, resolved, candidate, all; default
                                          open), ``app``, ``kind``, ``cause``, ``department``,
                                          ``limit`` filter as ``findings list`` does
GET /api/v1/findings/{key}                one finding with its evidence and its history
                                          (404 when unknown); the key URL-encoded (``|`` is
                                          ``%7C``); the newest ``history_limit`` points
                                          (default 200, at most 2000) with every status
                                          event, ``total_points`` and ``truncated`` saying
                                          whether older points were left out
========================================  =====================================================

Findings name hosts and departments, so every route wants an admin API token
(``fleetsight-advisor api-token create``) as ``Authorization: Bearer``, as the catalog routes
do: missing, malformed, unknown and revoked tokens get 401. Times are Unix seconds, effects
relative changes of the median load time (+0.25: 25 % slower); a figure that is not a number
is null. The store blocks on the database, so the routes are plain ``def`` routes.

Every finding comes with ``host_details`` (each host's hostname and department) and its
``impact`` in time and money (advisor.finding_costs: seconds a launch, measured launches a
day, hours a month, money a year at each department's wage), read once per answer: the
launch rates of every finding listed in one query.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, Field

from advisor.analysis.finding_status import OPEN, Event, Status
from advisor.analysis.findings import Cause, Kind
from advisor.api.admin import admin_only, error_responses
from advisor.api.openapi_doc import NO_NUL
from advisor.finding_costs import FindingCosts
from advisor.store.api_tokens import ApiTokens
from advisor.store.findings import FindingFilter, Findings

PREFIX = "/api/v1/findings"
HISTORY_LIMIT = 200
"""History points a finding's route answers with unless asked (the newest): 50 days of runs
every 6 h. A finding found for two years has about 3,000."""
MAX_HISTORY_LIMIT = 2000


class FindingEffect(BaseModel):
    """Relative change of the median load time, with its confidence interval."""

    estimate: float | None
    low: float | None
    high: float | None


MONEY = r"^-?[0-9]+\.[0-9]{2}$"
"""An amount as a string to the cent: exact, as JSON numbers are not."""


class Figure(BaseModel):
    """A figure with its interval (from the effect's): ``low <= estimate <= high``."""

    estimate: float
    low: float
    high: float


class MoneyFigure(BaseModel):
    """An amount a year with its interval, as strings to the cent, in ``currency``."""

    estimate: str = Field(pattern=MONEY)
    low: str = Field(pattern=MONEY)
    high: str = Field(pattern=MONEY)
    currency: str = Field(description="ISO 4217, from the cost settings.")


class WageOut(BaseModel):
    """The hourly wage a department's time is priced at (``config/costs.toml`` [wages])."""

    amount: str = Field(pattern=MONEY)
    currency: str
    as_of: str = Field(description="The day the wage was true (YYYY-MM-DD).")
    source: str
    estimate: bool = Field(description="A placeholder, not a figure someone looked up.")


class DepartmentImpactOut(BaseModel):
    """What a finding costs one department."""

    department: str | None = Field(description="null: hosts of no known department.")
    hosts: int = Field(ge=0)
    launches_per_day: float = Field(ge=0)
    hours_per_month: Figure
    money_per_year: MoneyFigure | None = Field(description="null: no cost settings imported.")
    wage: WageOut | None


class ImpactOut(BaseModel):
    """A finding in time and money: negative figures are time saved (a finding that got
    faster)."""

    as_of: float = Field(
        description="End of the window the launches were counted in: the newest analysis run."
    )
    window_days: int = Field(description="[analysis] window_days.")
    seconds_per_launch: Figure = Field(description="The median before times the effect.")
    launches_per_day: float = Field(
        ge=0,
        description="Measured: each host's launches of the app over the days it reported in "
        "the window, summed over the finding's hosts.",
    )
    hosts_without_launches: int = Field(ge=0, description="Hosts with no launch measured.")
    hours_per_month: Figure
    money_per_year: MoneyFigure | None = Field(
        description="At each department's wage; null: no cost settings imported (notes)."
    )
    by_department: list[DepartmentImpactOut]
    notes: list[str]


class HostOut(BaseModel):
    """A host a finding names: its id, hostname and department (null: not enrolled)."""

    host_id: str
    hostname: str | None
    department: str | None


class FindingOut(BaseModel):
    """A stored finding: what changed, since when, why, how sure, and its lifecycle."""

    key: str = Field(description="Stable across runs: kind|app|scope (URL-encode it).")
    kind: str
    app: str
    scope: dict[str, str]
    direction: str = Field(description="slower or faster.")
    effect: FindingEffect
    cause: str
    confidence: float | None = Field(description="0..1: how sure the attribution is.")
    since: float | None = Field(description="When the change began (Unix seconds).")
    first_detected_at: float
    last_detected_at: float = Field(description="The newest run that found it.")
    resolved_at: float | None
    status: Status = Field(
        description="candidate (found, not confirmed yet), open, or resolved (not found for "
        "several runs and days)."
    )
    opened_at: float | None = Field(description="When it last became open; null: a candidate.")
    runs_seen: int = Field(description="How many analysis runs found it.")
    missed_runs: int = Field(
        description="Runs since the newest that found it (0: the newest run found it)."
    )
    reopen_count: int = Field(description="How often it was reopened after being resolved.")
    hosts: list[str] = Field(description="Host ids; host_details names them.")
    departments: list[str]
    evidence: dict[str, Any] = Field(
        description="Before/after load-time quantiles, p and q values, method, named figures."
    )
    host_details: list[HostOut] = Field(description="The hosts, in the order of hosts.")
    impact: ImpactOut | None = Field(
        description="Time and money; null when the effect or the median before is unknown."
    )


class FindingList(BaseModel):
    count: int
    findings: list[FindingOut]


class HistoryPointOut(BaseModel):
    """One analysis run's figures for a finding it found."""

    detected_at: float = Field(description="The run's time (Unix seconds).")
    run_id: int | None
    effect: FindingEffect
    q_value: float | None
    hosts: int = Field(description="How many hosts the run found it on.")
    cause: str
    confidence: float | None
    missed_before: int | None = Field(
        description="Runs analysing its app that missed it since the point before (0: none); "
        "null for its first point, or when not known."
    )


class StatusEventOut(BaseModel):
    """A change of a finding's status."""

    at: float = Field(description="The time of the run that made it (Unix seconds).")
    event: Event
    run_id: int | None = Field(description="null: recorded by a schema upgrade.")


class FindingHistoryOut(BaseModel):
    """A finding's history, oldest first."""

    points: list[HistoryPointOut] = Field(
        description="A point per run that found it (kept): the newest history_limit of them."
    )
    events: list[StatusEventOut] = Field(description="Opened, resolved and reopened: all.")
    total_points: int = Field(description="How many points are stored.")
    truncated: bool = Field(
        description="Whether older points are stored than `points` holds (ask for more with "
        "history_limit)."
    )


class FindingDetail(FindingOut):
    """A stored finding with its history."""

    history: FindingHistoryOut


def add_findings_routes(
    app: FastAPI,
    stored: Findings,
    api_tokens: ApiTokens,
    error_model: type[BaseModel],
    costs: FindingCosts,
) -> None:
    """Add the findings routes, on ``stored``, to ``app``; ``api_tokens`` are the admin
    tokens they accept; ``error_model`` documents the ``{"detail"}`` answers; ``costs``
    prices the findings and names their hosts."""
    admin = admin_only(api_tokens)

    def errors(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
        return error_responses(error_model, described)

    @app.get(
        PREFIX,
        summary="Findings of the analysis",
        responses={
            **errors({}),
            200: {
                "description": "The findings; each key names one for the finding route.",
                "links": {
                    "GetFinding": {
                        "operationRef": "#/paths/~1api~1v1~1findings~1{key}/get",
                        "parameters": {"key": "$response.body#/findings/0/key"},
                    }
                },
            },
        },
        tags=["findings"],
        dependencies=admin,
    )
    def findings(
        status: Annotated[
            Literal[Status, "all"],
            Query(description="Which findings (candidates only when asked for)."),
        ] = OPEN,
        app_name: Annotated[
            str | None,
            Query(
                alias="app",
                min_length=1,
                max_length=200,
                pattern=NO_NUL,
                description="Only this app.",
            ),
        ] = None,
        kind: Annotated[Kind | None, Query(description="Only this kind.")] = None,
        cause: Annotated[Cause | None, Query(description="Only this cause.")] = None,
        department: Annotated[
            str | None,
            Query(
                min_length=1, max_length=200, pattern=NO_NUL, description="Only those affecting it."
            ),
        ] = None,
        limit: Annotated[int | None, Query(ge=1, le=100_000, description="At most this many.")] = (
            None
        ),
    ) -> FindingList:
        where = FindingFilter(
            status=None if status == "all" else status,
            app=app_name,
            kind=kind,
            cause=cause,
            department=department,
        )
        found = stored.find(where, limit=limit)
        costed = costs.of(found)
        return FindingList.model_validate(
            {
                "count": len(found),
                "findings": [
                    {
                        **f.to_dict(),
                        "host_details": costed.host_details(f),
                        "impact": costed.document(f),
                    }
                    for f in found
                ],
            }
        )

    @app.get(
        f"{PREFIX}/{{key:path}}",
        summary="One finding with its evidence and history",
        responses=errors({404: "No finding of that key."}),
        tags=["findings"],
        dependencies=admin,
    )
    def finding(
        key: Annotated[
            str,
            Path(min_length=1, max_length=2000, pattern=NO_NUL, description="The finding's key."),
        ],
        history_limit: Annotated[
            int,
            Query(
                ge=1,
                le=MAX_HISTORY_LIMIT,
                description="At most this many history points, the newest.",
            ),
        ] = HISTORY_LIMIT,
    ) -> FindingDetail:
        found = stored.get(key)
        if found is None:
            raise HTTPException(404, f"no finding {key!r}")
        history = stored.history(key, limit=history_limit)
        costed = costs.of([found])
        return FindingDetail.model_validate(
            {
                **found.to_dict(),
                "host_details": costed.host_details(found),
                "impact": costed.document(found),
                "history": history.to_dict(),
            }
        )
