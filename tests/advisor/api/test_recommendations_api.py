"""The recommendations and budget API on a real SqlStore (SQLite and PostgreSQL): admin token
or 401; ranked lists, one in full, decisions by the token's principal, department totals and
the budget plan."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import quote

import pytest
from prometheus_client import CollectorRegistry
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.recommendations import CategoryQuery, KindQuery, StateQuery
from advisor.api.settings import ApiSettings
from advisor.store.api_tokens import SqlApiTokens
from advisor.store.audit import SqlAuditLog, recommendation_target
from advisor.store.recommendations import CATEGORIES, KINDS, STATES
from advisor.store.recommendations_sql import SqlRecommendations
from advisor.store.sql import SqlStore
from tests.advisor.api.admin_routes import admin_routes
from tests.advisor.store.recommendationsdata import DAY, T0
from tests.advisor.store.reviewdata import (
    HR_RAM,
    HR_REPLACE,
    KNAPSACK,
    LEFT,
    PILOT,
    RIGHT,
    SPREADSHEET,
    enrol,
    priced,
)

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

NOW = T0 + 10 * DAY
"""The advisor's clock: 2025-12-04."""
RANKED = [SPREADSHEET, RIGHT, LEFT, HR_REPLACE, HR_RAM, PILOT]
SLASHED = "ram|*|16GiB|hr/it"
"""A key with a slash: a department's name may hold one."""
PROPOSED = (
    *KNAPSACK,
    priced(SLASHED, kind="ram", category="right_sizing", departments=("hr/it",), hosts=("hr-1",)),
)


@dataclass(frozen=True)
class Api:
    client: TestClient
    recommendations: SqlRecommendations
    audit: SqlAuditLog
    headers: dict[str, str]
    principal: str


@pytest.fixture
def api(store: SqlStore) -> Iterator[Api]:
    recommendations = SqlRecommendations(store.engine)
    recommendations.propose(list(PROPOSED), now=T0)
    enrol(store, {"fin-1": ("fin-ws-01", "finance"), "hr-1": ("hr-ws-01", "hr")})
    secret, record = SqlApiTokens(store.engine).create(now=T0, note="review UI")
    app = create_app(
        store,
        ApiSettings(),
        clock=lambda: NOW,
        registry=CollectorRegistry(),
        **admin_routes(store.engine),
    )
    with TestClient(app) as client:
        yield Api(
            client,
            recommendations,
            SqlAuditLog(store.engine),
            {"Authorization": f"Bearer {secret}"},
            f"api-token:{record.token_id}",
        )


def path_of(key: str, action: str = "") -> str:
    return "/api/v1/recommendations/" + quote(key, safe="") + (f"/{action}" if action else "")


ROUTES = [
    ("get", "/api/v1/recommendations", None),
    ("get", "/api/v1/recommendations/departments", None),
    ("get", path_of(LEFT), None),
    ("post", path_of(LEFT, "approve"), {}),
    ("post", path_of(LEFT, "reject"), {"reason": "no"}),
    ("post", path_of(LEFT, "defer"), {"until": NOW + DAY}),
    ("post", "/api/v1/budget/plan", {"amount": "100"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_refuses_a_request_without_a_valid_admin_token(
    api: Api, store: SqlStore, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for headers in ({}, {"Authorization": "Bearer fsa_nope"}, {"Authorization": "Basic eDp5"}):
        refused = api.client.request(method.upper(), path, json=body, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    stored = api.recommendations.get(LEFT)
    assert stored is not None
    assert stored.state == "proposed"


def test_the_list_is_ranked_and_paged(api: Api) -> None:
    first = api.client.get("/api/v1/recommendations?limit=4", headers=api.headers).json()
    second = api.client.get("/api/v1/recommendations?limit=4&offset=4", headers=api.headers).json()

    keys = [r["key"] for r in first["recommendations"] + second["recommendations"]]
    assert keys == [SPREADSHEET, RIGHT, LEFT, SLASHED, HR_REPLACE, HR_RAM, PILOT]
    assert (first["count"], first["offset"], first["next_offset"]) == (4, 0, 4)
    assert (second["count"], second["next_offset"]) == (3, None)
    assert [r["rank"] for r in second["recommendations"]] == [5, 6, 7]
    top = first["recommendations"][0]
    assert (top["state"], top["host_count"], top["net_benefit_per_year"], top["currency"]) == (
        "proposed",
        2,
        "5000.00",
        "EUR",
    )
    assert top["figures"]["seconds_per_launch"] == {"estimate": 0.4, "low": 0.3, "high": 0.5}
    assert top["figures"]["money_per_year"] == {
        "estimate": "7000.00",
        "low": "5600.00",
        "high": "8400.00",
        "currency": "EUR",
    }
    assert top["figures"]["cost"]["one_off"] == "6000.00"
    assert (top["figures"]["payback_months"], top["figures"]["basis"]) == (10.3, "model")
    assert top["created_at"] == T0
    assert "document" not in top
    assert "hosts" not in top  # the list is bounded: host ids come with one recommendation


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("kind=ram", [RIGHT, SLASHED, HR_RAM]),
        ("category=regression", [SPREADSHEET]),
        ("department=hr", [HR_REPLACE, HR_RAM]),
        ("department=hr/it", [SLASHED]),
        ("state=rejected", [LEFT]),
        ("app=gimp", []),
        ("state=current&app=gimp", []),
        ("state=all&app=gimp", [PILOT]),
        ("state=obsolete", [PILOT]),
        ("state=all&kind=ram&limit=2", [RIGHT, SLASHED]),
    ],
)
def test_the_list_filters(api: Api, query: str, keys: list[str]) -> None:
    api.recommendations.decide(LEFT, verdict="reject", actor="alice", reason="no", now=T0 + 1)
    api.recommendations.propose([p for p in PROPOSED if p.key != PILOT], now=T0 + 2)

    answer = api.client.get(f"/api/v1/recommendations?{query}", headers=api.headers)

    assert answer.status_code == 200
    assert [r["key"] for r in answer.json()["recommendations"]] == keys


TIED = tuple(
    priced(
        f"upgrade|app{i:02d}|2.0|{'finance' if i % 2 else 'hr'}",
        app=f"app{i:02d}",
        departments=("finance",) if i % 2 else ("finance", "hr"),
        benefit=f"{1500 + 100 * (i % 3)}.00",
    )
    for i in range(14)
)
"""14 more, on three scores (ties of four and five), every one concerning finance."""


@pytest.mark.parametrize("query", ["", "department=finance", "department=hr", "state=all"])
def test_pages_are_the_whole_list_in_its_order_ties_and_all(api: Api, query: str) -> None:
    api.recommendations.propose([*PROPOSED, *TIED], now=T0 + 1)
    api.recommendations.propose([p for p in (*PROPOSED, *TIED) if p.key != PILOT], now=T0 + 2)

    def page(limit: int, offset: int) -> dict[str, Any]:
        answer = api.client.get(
            f"/api/v1/recommendations?{query}&limit={limit}&offset={offset}", headers=api.headers
        )
        assert answer.status_code == 200
        body: dict[str, Any] = answer.json()
        return body

    whole = page(1000, 0)["recommendations"]
    assert len({r["score"] for r in whole}) < len(whole)  # there are ties to keep in order
    for limit in (1, 3, 5):
        seen: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            got = page(limit, offset)
            assert got["count"] == len(got["recommendations"]) <= limit
            seen += got["recommendations"]
            offset = got["next_offset"]
        assert [(r["key"], r["rank"]) for r in seen] == [(r["key"], r["rank"]) for r in whole]
    assert [r["rank"] for r in whole] == list(range(1, len(whole) + 1))
    scores = [r["score"] for r in whole]
    assert scores == sorted(scores, reverse=True)
    for ties in ([r["key"] for r in whole if r["score"] == s] for s in set(scores)):
        assert ties == sorted(ties)
    assert (PILOT in [r["key"] for r in whole]) == (query == "state=all")
    if query.startswith("department="):
        assert all(query.removeprefix("department=") in r["departments"] for r in whole)
    assert page(5, len(whole)) == {
        "count": 0,
        "offset": len(whole),
        "next_offset": None,
        "recommendations": [],
    }


def test_a_page_reads_only_its_rows_and_one_more_from_the_store(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.recommendations.propose([*PROPOSED, *TIED], now=T0 + 1)
    read: list[int] = []
    listed = SqlRecommendations.list

    def counted(self: SqlRecommendations, *args: Any, **kwargs: Any) -> list[Any]:
        found = listed(self, *args, **kwargs)
        read.append(len(found))
        return found

    monkeypatch.setattr(SqlRecommendations, "list", counted)

    answer = api.client.get("/api/v1/recommendations?limit=3&offset=6", headers=api.headers)

    assert [r["rank"] for r in answer.json()["recommendations"]] == [7, 8, 9]
    assert read == [4]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "offset=-1", "state=done", "kind=paint", "app="]
)
def test_a_bad_query_is_400_naming_the_parameter(api: Api, query: str) -> None:
    answer = api.client.get(f"/api/v1/recommendations?{query}", headers=api.headers)

    assert answer.status_code == 400
    assert query.split("=")[0] in answer.json()["detail"]


def test_one_recommendation_in_full_with_hosts_by_name_and_its_history(api: Api) -> None:
    api.recommendations.decide(LEFT, verdict="approve", actor="alice", now=T0 + 60)

    answer = api.client.get(path_of(LEFT), headers=api.headers)
    slashed = api.client.get(
        "/api/v1/recommendations/" + quote(SLASHED, safe="/"), headers=api.headers
    )

    assert answer.status_code == 200
    body = answer.json()
    assert (body["key"], body["state"], body["decided_by"]) == (LEFT, "approved", "alice")
    assert body["host_details"] == [
        {"host_id": "fin-1", "hostname": "fin-ws-01", "department": "finance"},
        {"host_id": "fin-2", "hostname": "fin-2.example", "department": None},
    ]
    assert body["explanation"].startswith("Recommended:")
    assert body["document"]["cost"]["parts"][0]["item"] == "labour"
    entries = body["history"]["entries"]
    assert [(e["actor"], e["action"], e["at"]) for e in entries] == [
        ("advisor", "recommendation.proposed", T0),
        ("alice", "recommendation.approved", T0 + 60),
    ]
    assert body["history"]["truncated"] is False
    assert slashed.status_code == 200
    assert slashed.json()["key"] == SLASHED
    assert api.client.get(path_of("nope|x"), headers=api.headers).status_code == 404


def test_decisions_are_taken_by_the_tokens_principal_and_answer_the_new_state(api: Api) -> None:
    approved = api.client.post(path_of(SPREADSHEET, "approve"), headers=api.headers)
    rejected = api.client.post(
        path_of(LEFT, "reject"), json={"reason": "retiring in March"}, headers=api.headers
    )
    deferred = api.client.post(
        path_of(RIGHT, "defer"),
        json={"until": NOW + 30 * DAY, "reason": "after the audit"},
        headers=api.headers,
    )

    assert [a.status_code for a in (approved, rejected, deferred)] == [200, 200, 200]
    assert [
        (a.json()["state"], a.json()["decided_by"]) for a in (approved, rejected, deferred)
    ] == [
        ("approved", api.principal),
        ("rejected", api.principal),
        ("deferred", api.principal),
    ]
    assert rejected.json()["state_reason"] == "retiring in March"
    assert (deferred.json()["deferred_until"], deferred.json()["decided_at"]) == (
        NOW + 30 * DAY,
        NOW,
    )
    [entry, _] = api.audit.entries(target=recommendation_target(RIGHT))
    assert (entry.actor, entry.at, entry.detail) == (
        api.principal,
        NOW,
        {
            "from": "proposed",
            "to": "deferred",
            "reason": "after the audit",
            "until": NOW + 30 * DAY,
        },
    )


def test_the_actor_is_never_taken_from_the_body(api: Api) -> None:
    answer = api.client.post(
        path_of(LEFT, "reject"), json={"reason": "no", "actor": "mallory"}, headers=api.headers
    )

    assert answer.status_code == 400
    assert "actor" in answer.json()["detail"]
    assert [e.actor for e in api.audit.entries(target=recommendation_target(LEFT))] == ["advisor"]


@pytest.mark.parametrize(
    ("action", "body", "status", "field"),
    [
        ("reject", {}, 400, "reason"),
        ("reject", {"reason": "   "}, 400, "reason"),
        ("reject", {"reason": "x" * 2001}, 400, "reason"),
        ("approve", {"reason": "a\x1bb"}, 400, "reason"),
        ("defer", {}, 400, "until"),
        ("defer", {"until": "soon"}, 400, "until"),
        ("defer", {"until": T0}, 422, "until"),
        ("defer", {"until": NOW}, 422, "until"),
    ],
)
def test_a_decision_the_store_cannot_take_names_the_field_and_changes_nothing(
    api: Api, action: str, body: dict[str, Any], status: int, field: str
) -> None:
    answer = api.client.post(path_of(LEFT, action), json=body, headers=api.headers)

    assert answer.status_code == status
    assert field in answer.json()["detail"]
    stored = api.recommendations.get(LEFT)
    assert stored is not None
    assert stored.state == "proposed"


def test_a_refused_step_is_409_naming_the_state_and_an_unknown_key_404(api: Api) -> None:
    api.recommendations.decide(LEFT, verdict="reject", actor="alice", reason="no", now=T0 + 1)

    refused = api.client.post(path_of(LEFT, "approve"), headers=api.headers)
    unknown = api.client.post(path_of("nope|x", "approve"), headers=api.headers)

    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"cannot approve {LEFT!r}: it is rejected; only a proposed, deferred or reopened "
        "recommendation can be approved"
    )
    assert unknown.status_code == 404
    assert [e.actor for e in api.audit.entries(target=recommendation_target(LEFT))] == [
        "alice",
        "advisor",
    ]


def test_another_method_on_a_decision_is_405_naming_post(api: Api) -> None:
    answer = api.client.put(path_of(LEFT, "approve"), headers=api.headers)

    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


def test_departments_total_what_is_still_to_do(api: Api) -> None:
    default = api.client.get("/api/v1/recommendations/departments", headers=api.headers)
    rejected = api.client.get(
        "/api/v1/recommendations/departments?state=rejected&state=proposed", headers=api.headers
    )

    assert default.status_code == 200
    assert default.json()["states"] == ["proposed", "approved"]
    assert [
        (d["department"], d["count"], d["net_benefit_per_year"], d["unpriced"])
        for d in default.json()["departments"]
    ] == [
        ("finance", 3, "11666.66", 0),
        ("hr", 2, "916.67", 0),
        ("hr/it", 1, "1666.67", 0),
        ("sales", 1, "0", 1),
    ]
    assert rejected.json()["states"] == ["rejected", "proposed"]


def test_the_budget_plan_is_the_optimum_beside_the_greedy_ranking(api: Api) -> None:
    api.recommendations.decide(SLASHED, verdict="reject", actor="a", reason="no", now=T0 + 1)

    answer = api.client.post("/api/v1/budget/plan", json={"amount": "10000"}, headers=api.headers)

    assert answer.status_code == 200
    body = answer.json()
    assert [c["key"] for c in body["plan"]["chosen"]] == [RIGHT, LEFT]
    assert (body["plan"]["annual_benefit"], body["greedy"]["annual_benefit"]) == (
        "10000.00",
        "7300.00",
    )
    assert body["gain_over_greedy"] == "2700.00"
    assert {c["key"]: c["code"] for c in body["plan"]["left_out"]}[PILOT] == "no-benefit"
    assert body["budget"]["candidates"] == 6


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"amount": "-1"}, 400, "amount"),
        ({"amount": 100}, 400, "amount"),
        ({}, 400, "amount"),
        ({"amount": "1", "quarter": "2026Q5"}, 400, "quarter"),
        ({"amount": "1", "quarter": "2025Q3"}, 422, "quarter"),
        ({"amount": "1", "department": ""}, 400, "department"),
        ({"amount": "1", "actor": "x"}, 400, "actor"),
    ],
)
def test_a_bad_budget_request_names_the_field(
    api: Api, body: dict[str, Any], status: int, field: str
) -> None:
    answer = api.client.post("/api/v1/budget/plan", json=body, headers=api.headers)

    assert answer.status_code == status
    assert field in answer.json()["detail"]


def test_a_budget_for_a_department_and_quarter(api: Api) -> None:
    answer = api.client.post(
        "/api/v1/budget/plan",
        json={"amount": "1000", "department": "hr", "quarter": "2025Q4"},
        headers=api.headers,
    )

    body = answer.json()
    assert answer.status_code == 200
    assert [c["key"] for c in body["plan"]["chosen"]] == [HR_REPLACE]
    assert (body["budget"]["department"], body["budget"]["quarter"]) == ("hr", "2025Q4")
    assert {c["key"]: c["code"] for c in body["plan"]["left_out"]}[HR_RAM] == "alternative-chosen"


def test_the_documented_choices_are_the_stores() -> None:
    assert get_args(StateQuery) == (*STATES, "current", "all")
    assert get_args(KindQuery) == KINDS
    assert get_args(CategoryQuery) == CATEGORIES
