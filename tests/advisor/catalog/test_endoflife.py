from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from advisor.catalog.answers import is_end_of_life, supported_cycles
from advisor.catalog.errors import CatalogError
from advisor.catalog.importers.endoflife import parse_api_product, parse_product
from advisor.catalog.model import ProductRecord
from advisor.catalog_sources import fetch_product
from tests.advisor.catalog.conftest import ENDOFLIFE, SNAPSHOT


def test_it_imports_every_shipped_product(endoflife_records: dict[str, ProductRecord]) -> None:
    assert len(endoflife_records) == 48
    assert all(record.cycles for record in endoflife_records.values())
    with_release_data = [s for s, r in endoflife_records.items() if len(r.versions) > len(r.cycles)]
    assert len(with_release_data) >= 30


def test_it_knows_which_firefox_cycles_are_supported_on_the_snapshot_date(
    endoflife_records: dict[str, ProductRecord],
) -> None:
    firefox = endoflife_records["firefox"]
    assert [c.name for c in supported_cycles(firefox, SNAPSHOT)] == ["154", "153", "140", "115"]
    esr = {c.name: c for c in firefox.cycles}
    assert esr["153"].lts is True
    assert esr["154"].end_of_life is False  # a boolean eol: not ended, no date set
    assert is_end_of_life(esr["152"], SNAPSHOT)
    assert firefox.product.identifiers.packages["dpkg"] == ("firefox-esr",)
    assert firefox.product.vendor == "mozilla"


def test_it_knows_which_postgresql_cycles_are_supported_on_the_snapshot_date(
    endoflife_records: dict[str, ProductRecord],
) -> None:
    postgresql = endoflife_records["postgresql"]
    assert [c.name for c in supported_cycles(postgresql, SNAPSHOT)] == [
        "18",
        "17",
        "16",
        "15",
        "14",
    ]
    cycles = {c.name: c for c in postgresql.cycles}
    assert cycles["14"].end_of_life == dt.date(2026, 11, 12)
    assert cycles["13"].latest == "13.23"
    assert not supported_cycles(postgresql, dt.date(2040, 1, 1))


def test_it_keeps_windows_cycle_names_and_labels(
    endoflife_records: dict[str, ProductRecord],
) -> None:
    windows = {c.name: c for c in endoflife_records["windows"].cycles}
    assert windows["11-24h2-e-lts"].label == "11 24H2 (E)"
    assert windows["11-24h2-e-lts"].lts is True


def test_it_accepts_cycles_without_latest(endoflife_records: dict[str, ProductRecord]) -> None:
    without = [c for r in endoflife_records.values() for c in r.cycles if c.latest is None]
    assert without  # the snapshot has such cycles, and they import
    assert all(c.name for c in without)


def test_it_fills_release_note_links_from_the_changelog_template(
    endoflife_records: dict[str, ProductRecord],
) -> None:
    versions = {v.version: v for v in endoflife_records["firefox"].versions}
    assert versions["154.0"].notes_url == "https://www.mozilla.org/firefox/154.0/releasenotes/"
    assert versions["154.0"].release_date == dt.date(2026, 8, 18)


def test_it_reads_dates_written_as_strings_or_dates() -> None:
    text = (
        "---\ntitle: Demo\npermalink: /demo\nreleases:\n"
        "  - releaseCycle: \"2\"\n    releaseDate: '2026-01-02'\n    eol: 2027-01-02\n"
        '  - releaseCycle: "1"\n    releaseDate: 2025-01-02\n    eol: true\n---\n'
    )
    record = parse_product(text, "demo.md")
    assert [c.release_date for c in record.cycles] == [dt.date(2026, 1, 2), dt.date(2025, 1, 2)]
    assert [c.end_of_life for c in record.cycles] == [dt.date(2027, 1, 2), True]


def test_it_reports_bad_yaml_front_matter_with_file_and_line() -> None:
    text = "---\ntitle: Demo\nreleases:\n  - releaseCycle: [unclosed\n---\n"
    with pytest.raises(CatalogError, match=r"^broken\.md, line \d+: bad YAML") as caught:
        parse_product(text, "broken.md")
    assert caught.value.line is not None
    assert caught.value.line >= 4


def test_it_reports_a_missing_front_matter() -> None:
    with pytest.raises(CatalogError, match="no YAML front matter"):
        parse_product("# just prose\n", "prose.md")


def test_it_names_the_key_of_a_bad_eol_value() -> None:
    text = (
        '---\ntitle: Demo\npermalink: /demo\nreleases:\n  - releaseCycle: "1"\n    eol: soon\n---\n'
    )
    with pytest.raises(CatalogError, match=r"demo\.md: releases\.0\.eol") as caught:
        parse_product(text, "demo.md")
    assert caught.value.key == "releases.0.eol"


def test_it_reports_bad_release_data_json_with_its_line() -> None:
    from advisor.catalog.importers.endoflife import parse_release_data

    with pytest.raises(CatalogError, match=r"firefox\.json, line 2: bad JSON"):
        parse_release_data('{"versions":\n  {"1.0": }}', "firefox.json", "firefox")


API_RESPONSE = {
    "schema_version": "1.2.0",
    "generated_at": "2026-08-22T00:00:00+00:00",
    "result": {
        "name": "demo",
        "label": "Demo DB",
        "category": "database",
        "identifiers": [
            {"id": "pkg:deb/debian/demo-server", "type": "purl"},
            {"id": "cpe:2.3:a:acme:demo", "type": "cpe"},
        ],
        "releases": [
            {
                "name": "2",
                "codename": None,
                "label": "2",
                "releaseDate": "2026-01-01",
                "isLts": False,
                "ltsFrom": None,
                "isEol": False,
                "eolFrom": "2028-01-01",
                "isMaintained": True,
                "latest": {"name": "2.3", "date": "2026-07-01", "link": None},
            },
            {
                "name": "1",
                "codename": None,
                "label": "1",
                "releaseDate": "2024-01-01",
                "isLts": True,
                "ltsFrom": None,
                "isEol": True,
                "eolFrom": None,
                "isMaintained": False,
                "latest": None,
            },
        ],
    },
}


def test_it_parses_an_api_v1_product_response() -> None:
    record = parse_api_product(json.dumps(API_RESPONSE), "demo.json")
    assert record.product.name == "Demo DB"
    assert record.product.vendor == "acme"
    assert record.product.identifiers.packages == {"dpkg": ("demo-server",)}
    two, one = record.cycles
    assert two.end_of_life == dt.date(2028, 1, 1)
    assert two.latest == "2.3"
    assert one.end_of_life is True
    assert one.lts is True
    assert one.latest is None
    assert [v.version for v in record.versions] == ["2.3"]


def test_it_fetches_an_api_v1_product_through_the_given_client() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=API_RESPONSE)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        record = fetch_product("demo", client, base_url="https://eol.example/api/v1/")
    assert seen == ["https://eol.example/api/v1/products/demo"]
    assert record.product.slug == "demo"


def test_it_reports_an_api_error_with_the_url() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json={"error": "x"}))
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(CatalogError, match=r"https://eol\.example/products/nope: cannot fetch"),
    ):
        fetch_product("nope", client, base_url="https://eol.example")


def test_it_rejects_an_api_response_without_result() -> None:
    with pytest.raises(CatalogError, match="result"):
        parse_api_product('{"schema_version": "1.2.0"}', "demo.json")


def test_every_shipped_file_is_one_the_fixture_directory_holds() -> None:
    assert len(list((ENDOFLIFE / "releases").glob("*.json"))) == 39
