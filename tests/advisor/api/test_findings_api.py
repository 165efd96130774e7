"""The findings API on a real SqlStore (SQLite and PostgreSQL): admin token or 401; each finding
with its hosts by name and its cost in time and money."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import quote

import pytest
from prometheus_client import CollectorRegistry
from starlette.exceptions import StarletteDeprecationWarning

from advisor.analysis.findings import Quantiles
from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.store.api_tokens import SqlApiTokens
from advisor.store.findings import SqlFindings
from advisor.store.sql import SqlStore
from tests.advisor.api.admin_routes import admin_routes
from tests.advisor.store.findingsdata import DAY, T0, WEAK_Q, finding, record_runs, weak
from tests.advisor.store.pricedfindings import (
    FASTER,
    FIN_PER_DAY,
    HR_PER_DAY,
    RUN_AT,
    SLOWER,
    hours_a_month,
    money,
    write_priced_fleet,
)

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

LIBREOFFICE = finding()
FIREFOX = finding(
    "pressure",
    "firefox",
    {"department": "hr/it"},
    cause="memory",
    effect=0.2,
    departments=("hr/it",),
)
WRITER = finding("trend", "writer", {}, cause="unknown", effect=0.9)
GIMP = weak(finding("trend", "gimp", {}, cause="unknown", effect=0.3))


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    """Four runs two days apart: WRITER resolved by the fourth, GIMP a candidate in it."""
    both = [LIBREOFFICE, FIREFOX]
    record_runs(SqlFindings(store.engine), [[*both, WRITER], both, both, [*both, GIMP]])
    app = create_app(
        store,
        ApiSettings(),
        clock=lambda: T0,
        registry=CollectorRegistry(),
        **admin_routes(store.engine),
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(store: SqlStore) -> dict[str, str]:
    secret, _ = SqlApiTokens(store.engine).create(now=T0)
    return {"Authorization": f"Bearer {secret}"}


def path_of(key: str) -> str:
    return "/api/v1/findings/" + quote(key, safe="")


@pytest.mark.parametrize("path", ["/api/v1/findings", path_of(LIBREOFFICE.key)])
def test_the_findings_routes_refuse_a_request_without_a_valid_admin_token(
    client: TestClient, store: SqlStore, path: str
) -> None:
    missing = client.get(path)
    assert missing.status_code == 401
    assert "api-token create" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(path, headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer fsa_nope"}).status_code == 401

    secret, record = SqlApiTokens(store.engine).create(now=T0)
    assert client.get(path, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    SqlApiTokens(store.engine).revoke(record.token_id, now=T0 + 1)
    assert client.get(path, headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_the_list_shows_open_findings_largest_effect_first(
    client: TestClient, admin: dict[str, str]
) -> None:
    answer = client.get("/api/v1/findings", headers=admin)

    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 2
    assert [f["app"] for f in body["findings"]] == ["libreoffice", "firefox"]
    first = body["findings"][0]
    assert first["status"] == "open"
    assert first["effect"] == {"estimate": 0.25, "low": 0.2, "high": 0.3}
    assert (first["first_detected_at"], first["last_detected_at"]) == (T0, T0 + 6 * DAY)
    assert (first["opened_at"], first["runs_seen"], first["missed_runs"]) == (T0, 4, 0)
    assert first["reopen_count"] == 0
    assert first["evidence"]["after"]["count"] == 80
    assert "history" not in first


@pytest.mark.parametrize(
    ("query", "apps"),
    [
        ("status=all", ["libreoffice", "firefox", "writer", "gimp"]),
        ("status=resolved", ["writer"]),
        ("status=candidate", ["gimp"]),
        ("app=firefox", ["firefox"]),
        ("kind=trend&status=all", ["writer", "gimp"]),
        ("cause=memory", ["firefox"]),
        ("department=hr/it", ["firefox"]),
        ("status=all&limit=1", ["libreoffice"]),
    ],
)
def test_the_list_filters_as_the_cli_does(
    client: TestClient, admin: dict[str, str], query: str, apps: list[str]
) -> None:
    answer = client.get(f"/api/v1/findings?{query}", headers=admin)

    assert answer.status_code == 200
    assert [f["app"] for f in answer.json()["findings"]] == apps


@pytest.mark.parametrize(
    ("query", "named"),
    [("status=closed", "status"), ("kind=slow", "kind"), ("limit=0", "limit")],
)
def test_a_bad_filter_gets_400_naming_it(
    client: TestClient, admin: dict[str, str], query: str, named: str
) -> None:
    answer = client.get(f"/api/v1/findings?{query}", headers=admin)

    assert answer.status_code == 400
    assert named in answer.json()["detail"]


def test_one_finding_by_its_encoded_key_and_404_for_an_unknown_one(
    client: TestClient, admin: dict[str, str]
) -> None:
    found = client.get(path_of(FIREFOX.key), headers=admin)
    resolved = client.get(path_of(WRITER.key), headers=admin)
    missing = client.get(path_of("trend|nothing"), headers=admin)

    assert found.status_code == 200
    assert found.json()["key"] == FIREFOX.key == "pressure|firefox|department=hr/it"
    assert found.json()["cause"] == "memory"
    assert (resolved.json()["status"], resolved.json()["resolved_at"]) == (
        "resolved",
        T0 + 6 * DAY,
    )
    assert missing.status_code == 404
    assert "trend|nothing" in missing.json()["detail"]


def test_one_finding_comes_with_its_history(client: TestClient, admin: dict[str, str]) -> None:
    writer = client.get(path_of(WRITER.key), headers=admin).json()
    gimp = client.get(path_of(GIMP.key), headers=admin).json()

    assert writer["history"]["events"] == [
        {"at": T0, "event": "opened", "run_id": 1},
        {"at": T0 + 6 * DAY, "event": "resolved", "run_id": 4},
    ]
    (point,) = writer["history"]["points"]
    assert point.pop("effect") == pytest.approx({"estimate": 0.9, "low": 0.85, "high": 0.95})
    assert point == {
        "detected_at": T0,
        "run_id": 1,
        "q_value": None,
        "hosts": 2,
        "cause": "unknown",
        "confidence": 0.9,
        "missed_before": None,
    }
    assert (writer["history"]["total_points"], writer["history"]["truncated"]) == (1, False)
    assert (gimp["status"], gimp["opened_at"], gimp["history"]["events"]) == (
        "candidate",
        None,
        [],
    )
    assert gimp["history"]["points"][0]["q_value"] == WEAK_Q


def test_a_finding_answers_with_its_newest_history_points_and_says_how_many_are_stored(
    client: TestClient, admin: dict[str, str]
) -> None:
    default = client.get(path_of(LIBREOFFICE.key), headers=admin).json()["history"]
    newest = client.get(f"{path_of(LIBREOFFICE.key)}?history_limit=3", headers=admin)

    assert (len(default["points"]), default["total_points"], default["truncated"]) == (4, 4, False)
    assert [p["missed_before"] for p in default["points"]] == [None, 0, 0, 0]
    assert newest.status_code == 200
    history = newest.json()["history"]
    assert [p["detected_at"] for p in history["points"]] == [T0 + d * DAY for d in (2, 4, 6)]
    assert (history["total_points"], history["truncated"]) == (4, True)
    assert [e["event"] for e in history["events"]] == ["opened"]


@pytest.mark.parametrize("limit", ["0", "2001", "-5", "lots"])
def test_a_bad_history_limit_gets_400_naming_it(
    client: TestClient, admin: dict[str, str], limit: str
) -> None:
    answer = client.get(f"{path_of(LIBREOFFICE.key)}?history_limit={limit}", headers=admin)

    assert answer.status_code == 400
    assert "history_limit" in answer.json()["detail"]


def priced_client(store: SqlStore, window_days: int = 90) -> TestClient:
    return TestClient(
        create_app(
            store,
            ApiSettings(),
            clock=lambda: RUN_AT,
            registry=CollectorRegistry(),
            window_days=window_days,
            **admin_routes(store.engine),
        )
    )


def test_a_finding_is_priced_in_seconds_launches_hours_and_money_at_each_departments_wage(
    store: SqlStore, admin: dict[str, str]
) -> None:
    write_priced_fleet(store)

    with priced_client(store) as priced:
        one = priced.get(path_of(SLOWER.key), headers=admin).json()
        (listed,) = priced.get("/api/v1/findings", headers=admin).json()["findings"]

    impact = one["impact"]
    assert listed["impact"] == impact
    assert (impact["as_of"], impact["window_days"], impact["notes"]) == (RUN_AT, 90, [])
    assert impact["seconds_per_launch"] == pytest.approx({"estimate": 0.5, "low": 0.4, "high": 0.6})
    assert impact["launches_per_day"] == pytest.approx(FIN_PER_DAY + HR_PER_DAY)
    assert impact["hosts_without_launches"] == 0
    assert impact["hours_per_month"]["estimate"] == pytest.approx(
        hours_a_month(0.5, FIN_PER_DAY + HR_PER_DAY)
    )
    finance, hr = money(0.5, FIN_PER_DAY, "45.00"), money(0.5, HR_PER_DAY, "30.00")
    assert impact["money_per_year"]["estimate"] == str(finance + hr)
    assert impact["money_per_year"]["currency"] == "USD"
    low = impact["seconds_per_launch"]["low"]
    assert impact["money_per_year"]["low"] == str(
        money(low, FIN_PER_DAY, "45.00") + money(low, HR_PER_DAY, "30.00")
    )
    fin, other = impact["by_department"]
    assert (fin["department"], fin["hosts"], fin["money_per_year"]["estimate"]) == (
        "finance",
        1,
        str(finance),
    )
    assert fin["wage"] == {
        "amount": "45.00",
        "currency": "USD",
        "as_of": "2026-01-01",
        "source": "HR pay scale 2026",
        "estimate": False,
    }
    assert (other["department"], other["launches_per_day"]) == ("hr", pytest.approx(HR_PER_DAY))
    assert (other["wage"]["amount"], other["wage"]["estimate"]) == ("30.00", True)


def test_a_finding_names_its_hosts_by_hostname_and_department(
    store: SqlStore, admin: dict[str, str]
) -> None:
    unknown = replace(SLOWER, hosts=("fin-1", "gone-7"))
    write_priced_fleet(store, found=(unknown,))

    with priced_client(store) as priced:
        found = priced.get(path_of(unknown.key), headers=admin).json()

    assert found["hosts"] == ["fin-1", "gone-7"]
    assert found["host_details"] == [
        {"host_id": "fin-1", "hostname": "fin-1.example", "department": "finance"},
        {"host_id": "gone-7", "hostname": None, "department": None},
    ]
    # The host not enrolled: no launches measured, in the finding's departments' default.
    assert found["impact"]["hosts_without_launches"] == 1


def test_launches_are_counted_over_the_analysis_window_up_to_the_newest_run(
    store: SqlStore, admin: dict[str, str]
) -> None:
    write_priced_fleet(store)

    # 2 days up to the run (day 3, 00:00) touch days 1 to 3: fin-1's day 0 is left out.
    with priced_client(store, window_days=2) as priced:
        impact = priced.get(path_of(SLOWER.key), headers=admin).json()["impact"]

    assert impact["window_days"] == 2
    assert impact["launches_per_day"] == pytest.approx(3 / 1 + 60 / 1)


def test_without_cost_settings_a_finding_is_priced_in_time_and_says_how_to_import_them(
    store: SqlStore, admin: dict[str, str]
) -> None:
    write_priced_fleet(store, costs=False)

    with priced_client(store) as priced:
        answer = priced.get(path_of(SLOWER.key), headers=admin)

    assert answer.status_code == 200
    impact = answer.json()["impact"]
    assert impact["money_per_year"] is None
    assert [d["money_per_year"] for d in impact["by_department"]] == [None, None]
    assert impact["hours_per_month"]["estimate"] == pytest.approx(
        hours_a_month(0.5, FIN_PER_DAY + HR_PER_DAY)
    )
    assert "catalog import costs" in impact["notes"][0]


def test_a_faster_finding_is_priced_as_time_and_money_saved(
    store: SqlStore, admin: dict[str, str]
) -> None:
    write_priced_fleet(store, found=(FASTER,))

    with priced_client(store) as priced:
        impact = priced.get(path_of(FASTER.key), headers=admin).json()["impact"]

    assert impact["seconds_per_launch"] == pytest.approx(
        {"estimate": -0.4, "low": -0.5, "high": -0.3}
    )
    per_launch = impact["seconds_per_launch"]["estimate"]
    saved = money(per_launch, FIN_PER_DAY, "45.00") + money(per_launch, HR_PER_DAY, "30.00")
    assert impact["money_per_year"]["estimate"] == str(saved)
    assert saved < 0


def test_a_finding_without_a_median_before_has_no_impact(
    client: TestClient, admin: dict[str, str], store: SqlStore
) -> None:
    unknown = finding("trend", "calc", {}, cause="unknown")
    evidence = replace(unknown.evidence, before=Quantiles(0, math.nan, math.nan, math.nan))
    SqlFindings(store.engine).record_run([replace(unknown, evidence=evidence)], now=T0 + 8 * DAY)

    answer = client.get(path_of(unknown.key), headers=admin)

    assert answer.status_code == 200
    assert answer.json()["impact"] is None
