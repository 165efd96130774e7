"""The catalog API on a real SqlStore (SQLite and PostgreSQL): admin token or 401, never 500."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.catalog_sources import read_endoflife
from advisor.store.api_tokens import SqlApiTokens
from advisor.store.catalog import SqlCatalogStore
from advisor.store.sql import SqlStore
from tests.advisor.api.admin_routes import admin_routes
from tests.advisor.catalog.conftest import ENDOFLIFE
from tests.advisor.catalog.fleetdata import T0, write_fleet

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SNAPSHOT_NOON = 1_787_400_000.0  # 2026-08-22 12:00 UTC


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    write_fleet(store)
    catalog = SqlCatalogStore(store.engine)
    catalog.import_records(read_endoflife(str(ENDOFLIFE)), kind="endoflife", source="e", now=T0)
    catalog.import_records(
        [], kind="org", source="o", now=T0, aliases={"dpkg:postgresql-15": "postgresql"}
    )
    catalog.import_offers(now=T0)
    app = create_app(
        store,
        ApiSettings(),
        clock=lambda: SNAPSHOT_NOON,
        registry=CollectorRegistry(),
        **admin_routes(store.engine),
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def token(store: SqlStore) -> str:
    secret, _ = SqlApiTokens(store.engine).create(now=T0)
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/catalog/products", "/api/v1/catalog/products/firefox", "/api/v1/catalog/outdated"],
)
def test_every_catalog_route_refuses_a_request_without_an_admin_token(
    client: TestClient, store: SqlStore, path: str
) -> None:
    missing = client.get(path)
    assert missing.status_code == 401
    assert "api-token create" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")

    assert client.get(path, headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert client.get(path, headers=bearer("fsa_unknown")).status_code == 401
    # A host's ingest credential is not an admin token.
    secret, _ = store.create_token(department="it", expires_at=T0 + 60, now=T0)
    host = store.enrol(token=secret, host_id="h", hostname="h", agent_version="1", now=T0)
    assert client.get(path, headers=bearer(host.credential)).status_code == 401


def test_a_revoked_token_is_refused(client: TestClient, store: SqlStore) -> None:
    secret, record = SqlApiTokens(store.engine).create(now=T0)
    assert client.get("/api/v1/catalog/products", headers=bearer(secret)).status_code == 200

    SqlApiTokens(store.engine).revoke(record.token_id, now=T0 + 1)

    assert client.get("/api/v1/catalog/products", headers=bearer(secret)).status_code == 401


def test_products_lists_the_catalog_with_supported_cycles_on_the_clock_date(
    client: TestClient, token: str
) -> None:
    answer = client.get("/api/v1/catalog/products", headers=bearer(token))

    assert answer.status_code == 200
    document = answer.json()
    assert document["at"] == "2026-08-22"
    products = {p["slug"]: p for p in document["products"]}
    assert len(products) == 48
    assert products["postgresql"]["supported_cycles"] == ["18", "17", "16", "15", "14"]
    assert products["postgresql"]["latest"] == "18.6"


def test_one_product_has_its_cycles_versions_and_aliases(client: TestClient, token: str) -> None:
    answer = client.get(
        "/api/v1/catalog/products/postgresql", params={"at": "2026-11-12"}, headers=bearer(token)
    )

    assert answer.status_code == 200
    product = answer.json()
    assert product["aliases"] == ["dpkg:postgresql-15"]
    cycles = {c["name"]: c for c in product["cycles"]}
    assert cycles["14"] == {**cycles["14"], "end_of_life": "2026-11-12", "supported": False}
    assert cycles["15"]["supported"] is True
    assert product["versions"][0]["version"] == "18.6"
    assert {"version": "15.20", "release_date": None, "notes_url": None, "tags": ["security"]} in (
        product["versions"]
    )
    missing = client.get("/api/v1/catalog/products/nothing", headers=bearer(token))
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "no product 'nothing' in the catalog"},
    )


def test_outdated_answers_as_the_cli_does(client: TestClient, token: str) -> None:
    answer = client.get(
        "/api/v1/catalog/outdated",
        params={"department": "finance", "eol_within": "52w"},
        headers=bearer(token),
    )

    assert answer.status_code == 200
    document = answer.json()
    assert document["eol_within_days"] == 364
    (finance,) = document["departments"]
    rows = {row["product"]: row for row in finance["rows"]}
    assert (rows["postgresql"]["installed"], rows["postgresql"]["offered"]) == ("15.18", "15.20")
    assert rows["firefox"]["status"] == "end-of-life soon"


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"at": "2026-02-30"}, "at: '2026-02-30' is not a date (YYYY-MM-DD)"),
        ({"at": "0001-01-01"}, "at: must be between 1970-01-01 and 9000-12-31"),
        ({"eol_within": "soon"}, "eol_within"),
        ({"department": ""}, "department"),
    ],
)
def test_bad_query_parameters_get_a_400_that_names_them(
    client: TestClient, token: str, params: dict[str, str], detail: str
) -> None:
    answer = client.get("/api/v1/catalog/outdated", params=params, headers=bearer(token))

    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(detail)
