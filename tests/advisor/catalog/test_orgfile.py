from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from advisor.catalog.errors import CatalogError, RowProblem
from advisor.catalog.importers.orgfile import parse_csv, parse_toml

HEADER = "product,name,scheme,version,tags,licence,price,currency,price_as_of,packages,min_ram_gb\n"


def test_it_reports_a_csv_row_without_a_price_by_line() -> None:
    text = HEADER + (
        "acme-erp,ACME ERP,semver,5.2.0,performance;security,per_seat_year,150.00,EUR,2026-01-15,"
        "dpkg:acme-erp-client,8\n"
        "vpn,VPN,,1.0,,per_seat_year,,USD,2026-01-01,,\n"
    )
    catalog = parse_csv(text, "org.csv")
    assert [r.product.slug for r in catalog.records] == ["acme-erp"]
    assert catalog.problems == (RowProblem("org.csv", 3, "price.amount: Field required"),)


def test_it_keeps_the_good_rows_and_reports_each_bad_one() -> None:
    text = HEADER + (
        "acme-erp,ACME ERP,semver,5.2.0,performance,per_seat_year,150.00,EUR,2026-01-15,"
        "dpkg:acme-erp-client,8\n"
        "acme-erp,,,5.3.0,bugfix,,,,,,\n"
        "acme-erp,,,5.x,,,,,,,\n"
        "Bad Slug,,,,,,,,,,\n"
        "acme-erp,Other name,,5.4.0,,,,,,,\n"
        "vpn,VPN,,1.0,,free,10,USD,2026-01-01,,\n"
        "chat,Chat,,3.1,speed,,,,,,\n"
    )
    catalog = parse_csv(text, "org.csv")
    (acme,) = catalog.records
    assert [v.version for v in acme.versions] == ["5.2.0", "5.3.0"]
    assert acme.versions[0].tags == frozenset({"performance"})
    assert acme.price is not None
    assert acme.price.amount == Decimal("150.00")
    assert acme.price.as_of == dt.date(2026, 1, 15)
    assert acme.requirements is not None
    assert acme.requirements.min_ram_bytes == 8 * 1024**3
    assert acme.product.identifiers.packages == {"dpkg": ("acme-erp-client",)}
    lines = {problem.line: problem.reason for problem in catalog.problems}
    assert lines[4] == "'5.x' is not a valid semver version"
    assert lines[5].startswith("slug: String should match pattern")
    assert lines[6] == "name differs from line 2 for 'acme-erp'"
    assert lines[7] == "price: a free licence has amount 0, not 10"
    assert lines[8].startswith("versions.0.tags.0: Input should be 'performance'")


def test_it_refuses_a_csv_without_a_product_column() -> None:
    with pytest.raises(CatalogError, match=r"org\.csv, line 1: no 'product' column"):
        parse_csv("name,version\nx,1\n", "org.csv")


def test_it_refuses_an_unknown_csv_column() -> None:
    with pytest.raises(CatalogError, match="unknown column 'prise'"):
        parse_csv("product,prise\nx,1\n", "org.csv")


def test_it_reports_a_row_with_too_many_cells() -> None:
    catalog = parse_csv("product,name\nx,X,extra\ny,Y\n", "org.csv")
    assert [r.product.slug for r in catalog.records] == ["y"]
    assert catalog.problems == (RowProblem("org.csv", 2, "more cells than header columns"),)


TOML = """
[aliases]
"dpkg:python3" = "python"

[[product]]
slug = "acme-erp"
name = "ACME ERP"
scheme = "semver"
packages = { dpkg = ["acme-erp-client"] }
os = ["windows-11"]
price = { licence = "perpetual_seat", amount = "400.00", currency = "USD", as_of = 2026-02-01 }
versions = [{ version = "5.2.0", release_date = 2026-03-01, tags = ["performance"] }]
cycles = [{ name = "5", release_date = 2025-01-01, end_of_life = 2027-12-31 }]

[[product]]
slug = "broken"
pricee = 3

[[product]]
slug = "acme-erp"
"""


def test_it_reads_a_toml_catalog_and_reports_bad_tables_by_line() -> None:
    catalog = parse_toml(TOML, "org.toml")
    (acme,) = catalog.records
    assert acme.product.version_scheme == "semver"
    assert acme.cycles[0].end_of_life == dt.date(2027, 12, 31)
    assert acme.requirements is not None
    assert acme.requirements.os == ("windows-11",)
    assert catalog.aliases == {"dpkg:python3": "python"}
    assert catalog.problems == (
        RowProblem("org.toml", 15, "product[1]: pricee: Extra inputs are not permitted"),
        RowProblem("org.toml", 19, "product 'acme-erp' already defined at line 5"),
    )


def test_it_refuses_toml_that_does_not_parse() -> None:
    with pytest.raises(CatalogError, match=r"^org\.toml: bad TOML"):
        parse_toml("[[product]\n", "org.toml")
