"""POST /api/v1/enrol in-process on the in-memory store: credentials out, refusals explained."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from agent.shared.wire import ENROL_PATH

from .memory_store import MemoryStore

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

T0 = 1_764_000_000.0
NOW = T0 + 3600


@pytest.fixture
def memstore() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def client(memstore: MemoryStore, registry: CollectorRegistry) -> Iterator[TestClient]:
    app = create_app(memstore, ApiSettings(), clock=lambda: NOW, registry=registry)
    with TestClient(app) as running:
        yield running


def request_for(token: str, **changes: str) -> dict[str, str]:
    body = {"token": token, "host_id": "4c1d0f", "hostname": "fin-ws-12", "agent_version": "0.1.0"}
    return body | changes


def enrolments(registry: CollectorRegistry, outcome: str) -> float | None:
    return registry.get_sample_value("fleetsight_advisor_enrolments_total", {"outcome": outcome})


def test_a_valid_token_gets_a_credential_that_authenticates_the_host(
    memstore: MemoryStore, client: TestClient, registry: CollectorRegistry
) -> None:
    token, _ = memstore.create_token(department="finance", expires_at=T0 + 86400, now=T0)

    response = client.post(ENROL_PATH, json=request_for(token))

    assert response.status_code == 201
    answer = response.json()
    assert answer["host_id"] == "4c1d0f"
    assert answer["department"] == "finance"
    host = memstore.authenticate(answer["credential"])
    assert host is not None
    assert (host.host_id, host.department) == ("4c1d0f", "finance")
    assert memstore.list_hosts()[0].enrolled_at == NOW
    assert enrolments(registry, "enrolled") == 1
    # It carries the credential: no cache on the way may keep it.
    assert response.headers["cache-control"] == "no-store"


def test_the_department_comes_from_the_token_not_from_the_agent(
    memstore: MemoryStore, client: TestClient
) -> None:
    token, _ = memstore.create_token(department="finance", expires_at=T0 + 86400, now=T0)

    response = client.post(ENROL_PATH, json=request_for(token) | {"department": "board"})

    assert response.status_code == 201
    assert response.json()["department"] == "finance"


@pytest.mark.parametrize(
    ("situation", "status", "says"),
    [
        ("unknown", 401, "does not know the enrolment token"),
        ("revoked", 403, "was revoked"),
        ("expired", 410, "has expired"),
        ("used_up", 409, "used as often as it allows"),
    ],
)
def test_a_refused_token_gets_its_status_and_a_sentence_saying_what_to_do(
    memstore: MemoryStore,
    client: TestClient,
    registry: CollectorRegistry,
    situation: str,
    status: int,
    says: str,
) -> None:
    token, record = memstore.create_token(
        department="finance", expires_at=T0 + 86400, now=T0, max_uses=1
    )
    if situation == "unknown":
        token = "no-such-token"
    elif situation == "revoked":
        memstore.revoke_token(record.token_id, now=T0)
    elif situation == "expired":
        token, _ = memstore.create_token(department="finance", expires_at=T0 + 60, now=T0)
    else:
        assert client.post(ENROL_PATH, json=request_for(token)).status_code == 201

    response = client.post(ENROL_PATH, json=request_for(token, host_id="other-host"))

    assert response.status_code == status
    detail = response.json()["detail"]
    assert says in detail
    assert "fleetsight-advisor token create" in detail
    assert memstore.authenticate("no-such-token") is None
    assert enrolments(registry, situation) == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (request_for("t", host_id="../../etc/passwd"), "host_id: String should match pattern"),
        (request_for("t", host_id="x" * 129), "host_id: String should have at most 128"),
        (request_for("t", hostname="h" * 256), "hostname: String should have at most 255"),
        (request_for("t", hostname="fin\nws"), "hostname: String should match pattern"),
        ({"host_id": "h", "hostname": "h", "agent_version": "1"}, "token: Field required"),
    ],
)
def test_a_malformed_request_is_400_naming_the_field(
    client: TestClient, registry: CollectorRegistry, body: dict[str, str], says: str
) -> None:
    response = client.post(ENROL_PATH, json=body)

    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert enrolments(registry, "invalid") == 1


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"{not json", "application/json", "the body is not valid JSON: Expecting property"),
        (b"", "application/json", "the body must be a JSON object"),
        (b"[]", "application/json", "the body must be a JSON object"),
        (b'{"token": "t"}', "text/plain", "sent as Content-Type: application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400_with_a_sentence(
    client: TestClient, body: bytes, content_type: str, says: str
) -> None:
    response = client.post(ENROL_PATH, content=body, headers={"Content-Type": content_type})

    assert response.status_code == 400
    assert says in response.json()["detail"]
