"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.errors import SchemaOutOfDate
from advisor.store.engine import make_engine
from agent.shared.wire import ENROL_PATH, INGEST_PATH, encode_gzip
from tests.advisor.api.admin_routes import admin_routes
from tests.conftest import require_tool

from .memory_store import MemoryStore
from .test_ingest import Api, make_batch

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(
        MemoryStore(),
        ApiSettings(),
        registry=CollectorRegistry(),
        **admin_routes(make_engine("sqlite://")),
    )
    with TestClient(app) as running:
        yield running


def test_healthz_says_ok(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_the_check_passes() -> None:
    checked: list[bool] = []
    app = create_app(
        MemoryStore(),
        ApiSettings(ready_check=lambda: checked.append(True)),
        registry=CollectorRegistry(),
    )
    with TestClient(app) as client:
        response = client.get("/readyz")

    assert response.status_code == 200
    assert checked == [True]


def test_readyz_is_503_with_the_reason_when_the_check_fails() -> None:
    def schema_is_old() -> None:
        raise SchemaOutOfDate("the database schema is at 0001, run `fleetsight-advisor db upgrade`")

    app = create_app(
        MemoryStore(), ApiSettings(ready_check=schema_is_old), registry=CollectorRegistry()
    )
    with TestClient(app) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert "fleetsight-advisor db upgrade" in response.json()["detail"]


def test_metrics_pass_promtool_after_traffic() -> None:
    promtool = require_tool("promtool", "prometheus")
    api = Api(ApiSettings())
    with TestClient(api.app) as client:
        client.post(
            INGEST_PATH, content=encode_gzip(make_batch(api.host_id)), headers=api.headers()
        )
        client.post(INGEST_PATH, content=b"junk", headers=api.headers())
        client.post(ENROL_PATH, json={"token": "nope"})
        response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'fleetsight_advisor_ingest_requests_total{outcome="stored",reason=""} 1.0' in text
    assert (
        'fleetsight_advisor_ingest_requests_total{outcome="rejected",reason="bad_encoding"} 1.0'
        in text
    )
    assert 'fleetsight_advisor_enrolments_total{outcome="invalid"} 1.0' in text
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")


def test_the_default_registry_adds_process_metrics_and_still_passes_promtool() -> None:
    promtool = require_tool("promtool", "prometheus")
    with TestClient(create_app(MemoryStore(), ApiSettings())) as client:
        text = client.get("/metrics").text

    assert "process_resident_memory_bytes" in text
    assert "fleetsight_advisor_batches_stored_total 0.0" in text
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")


def test_openapi_lists_every_route_with_a_summary_and_the_batch_schema(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()

    paths = document["paths"]
    catalog = {f"/api/v1/catalog/{p}" for p in ("products", "products/{name}", "outdated")}
    findings = {"/api/v1/findings", "/api/v1/findings/{key}"}
    recommendations = {
        "/api/v1/recommendations",
        "/api/v1/recommendations/departments",
        "/api/v1/recommendations/{key}",
        *(f"/api/v1/recommendations/{{key}}/{action}" for action in ("approve", "reject", "defer")),
        "/api/v1/budget/plan",
    }
    assert set(paths) == {
        ENROL_PATH,
        INGEST_PATH,
        "/healthz",
        "/readyz",
        "/metrics",
        *catalog,
        *findings,
        *recommendations,
    }
    for path in paths.values():
        for operation in path.values():
            assert operation["summary"]
    ingest = paths[INGEST_PATH]["post"]
    assert set(ingest["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "408",
        "413",
        "415",
        "422",
        "429",
        "503",
    }
    assert ingest["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Batch"
    }
    assert ingest["security"] == [{"HostCredential": []}]
    enrol = paths[ENROL_PATH]["post"]
    assert set(enrol["responses"]) == {"201", "400", "401", "403", "408", "409", "410", "413"}
    schemas = document["components"]["schemas"]
    assert {"Batch", "LaunchEvent", "Inventory", "EnrolRequest", "ErrorDetail"} <= set(schemas)
    assert schemas["LaunchEvent"]["properties"]["outcome"]["enum"] == ["ok", "timeout", "failed"]
    assert "HTTPValidationError" not in schemas


def test_docs_are_served(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert "/openapi.json" in response.text


def test_an_unknown_route_is_a_404_with_a_detail_sentence(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_the_published_batch_schema_states_the_batch_id_rule_ingest_enforces(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Batch"]
    batch_id = schema["properties"]["batch_id"]
    assert batch_id["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    assert batch_id["maxLength"] == 64
