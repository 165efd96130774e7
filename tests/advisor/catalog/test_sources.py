"""Where endoflife.date imports read from: directories, one file, API v1 files and URLs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest

from advisor.catalog.errors import CatalogError
from advisor.catalog_sources import alias_lines, read_endoflife
from tests.advisor.catalog.conftest import ENDOFLIFE

API_RESPONSE = {
    "schema_version": "1.2.0",
    "result": {
        "name": "firefox",
        "label": "Firefox",
        "category": "app",
        "identifiers": [{"id": "pkg:deb/debian/firefox-esr", "type": "purl"}],
        "releases": [
            {
                "name": "140",
                "releaseDate": "2025-06-24",
                "isLts": True,
                "isEol": False,
                "eolFrom": "2026-09-15",
                "latest": {"name": "140.2.0", "date": "2026-08-18", "link": None},
            }
        ],
    },
}
URL = "https://endoflife.date/api/v1/products/firefox"


def test_it_reads_one_product_file_with_its_release_data() -> None:
    (record,) = read_endoflife(str(ENDOFLIFE / "products" / "postgresql.md"))

    assert record.product.slug == "postgresql"
    assert len(record.versions) > 500  # the release data's versions, not only each latest


def test_it_fetches_an_api_v1_product_from_a_url() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=API_RESPONSE)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        (record,) = read_endoflife(URL, client)

    assert seen == [URL]
    assert record.product.identifiers.packages == {"dpkg": ("firefox-esr",)}
    assert [(c.name, c.end_of_life) for c in record.cycles] == [("140", dt.date(2026, 9, 15))]
    assert [v.version for v in record.versions] == ["140.2.0"]


def test_it_reads_an_api_v1_response_saved_as_json(tmp_path: Path) -> None:
    path = tmp_path / "firefox.json"
    path.write_text(json.dumps(API_RESPONSE), encoding="utf-8")

    (record,) = read_endoflife(str(path))

    assert record.product.name == "Firefox"


def test_a_failed_fetch_names_the_url() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    with httpx.Client(transport=transport) as client, pytest.raises(CatalogError) as failed:
        read_endoflife(URL, client)

    assert str(failed.value).startswith(f"{URL}: cannot fetch")


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as failed:
        read_endoflife(str(tmp_path / "nope.txt"))

    assert str(failed.value) == f"{tmp_path / 'nope.txt'}: no such file or directory"


def test_alias_lines_finds_each_key_of_the_aliases_table() -> None:
    text = '[aliases]\n"dpkg:python3" = "python"\nlibreoffice = "libreoffice"\n\n[[product]]\n'

    assert alias_lines(text) == {"dpkg:python3": 2, "libreoffice": 3}
