"""``/docs`` works without internet: Swagger UI comes from the advisor, not from a CDN."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.docs_ui import ASSETS, SWAGGER_UI_VERSION
from advisor.api.settings import ApiSettings
from tests.conftest import REPO

from .memory_store import MemoryStore

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(MemoryStore(), ApiSettings(), registry=CollectorRegistry())
    with TestClient(app) as running:
        yield running


def referenced(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""", html)


def test_the_docs_page_references_no_external_host(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    links = referenced(response.text)
    assert "/openapi.json" in links
    assert len(links) >= 4  # stylesheet, icon, script, document
    assert all(link.startswith("/") and not link.startswith("//") for link in links), links
    assert not re.search(r"https?://", response.text)


def test_every_asset_the_docs_page_uses_is_served_by_the_advisor(client: TestClient) -> None:
    page = client.get("/docs").text
    for link in referenced(page):
        response = client.get(link)
        assert response.status_code == 200, link
        assert response.content, link


def test_the_script_served_is_the_vendored_swagger_ui_of_the_stated_version(
    client: TestClient,
) -> None:
    script = client.get("/docs/static/swagger-ui-bundle.js")
    assert script.content == (ASSETS / "swagger-ui-bundle.js").read_bytes()
    readme = (ASSETS / "README.md").read_text()
    assert f"**{SWAGGER_UI_VERSION}**" in readme
    assert "Apache License" in (ASSETS / "LICENSE").read_text()


def test_the_assets_are_package_data_so_an_installed_advisor_has_them() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"advisor.api" = ["static/swagger-ui/*"]' in pyproject


def test_the_redoc_page_which_would_need_a_cdn_is_not_offered(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
