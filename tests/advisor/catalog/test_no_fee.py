"""Fleetsight's default list of no-fee products: shipped, readable, consistent with the
catalog it stands in for, and refusing what would make a lookup ambiguous."""

from __future__ import annotations

import datetime as dt
import re
import tomllib

import pytest

from advisor.catalog.errors import CatalogError
from advisor.catalog.model import ProductRecord
from advisor.catalog.no_fee import NoFeeList, NoFeeProduct, parse_no_fee, shipped_no_fee
from tests.conftest import REPO

ENTRY = """
[[product]]
slug = "gimp"
name = "GIMP"
dpkg = ["gimp"]
licence = "GPL-3.0-or-later"
as_of = 2026-12-07
source = "https://www.gimp.org/about/COPYING"
"""


def test_the_shipped_list_names_common_no_fee_products_each_with_licence_date_and_source() -> None:
    shipped = shipped_no_fee()

    for slug in ("libreoffice", "firefox", "python", "postgresql"):
        assert shipped.by_slug(slug) is not None, slug
    for package in ("thunderbird", "gimp", "evince", "inkscape", "vlc", "chromium"):
        assert shipped.by_packages([package]) is not None, package
    for package in ("firefox-esr", "libreoffice-core", "okular", "7zip", "p7zip", "keepassxc"):
        assert shipped.by_packages([package]) is not None, package
    for product in shipped:
        assert product.source.startswith("https://"), product.slug
        assert dt.date(2026, 1, 1) <= product.as_of <= dt.date.today(), product.slug
        assert product.licence, product.slug
        assert product.name, product.slug
    assert shipped.by_slug("virtualbox") is None  # its extension pack is paid for at work


def test_the_list_ships_with_the_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())

    assert "no_fee.toml" in pyproject["tool"]["setuptools"]["package-data"]["advisor.catalog"]


def test_a_package_endoflife_date_identifies_is_listed_under_the_same_product(
    endoflife_records: dict[str, ProductRecord],
) -> None:
    shipped = shipped_no_fee()
    checked = 0
    for slug, record in endoflife_records.items():
        for package in record.product.identifiers.packages.get("dpkg", ()):
            listed = shipped.by_packages([package])
            if listed is not None:
                checked += 1
                assert listed.slug == slug, package
    assert checked  # firefox-esr at least


def test_the_shipped_catalog_prices_its_free_products_as_the_list_does() -> None:
    # config/catalog.toml keeps its no-fee prices as the organisation's own (they win over
    # the list): they must not contradict it.
    shipped = shipped_no_fee()
    catalog = tomllib.loads((REPO / "config" / "catalog.toml").read_text())

    free = [p for p in catalog["product"] if p.get("price", {}).get("licence") == "free"]

    assert free
    for product in free:
        listed = shipped.by_slug(product["slug"])
        assert listed is not None, product["slug"]
        assert product["price"]["source"].startswith(listed.licence + ","), product["slug"]


def test_a_lookup_by_packages_finds_one_product_or_none() -> None:
    found = shipped_no_fee()

    assert found.by_packages(["firefox-esr", "firefox-esr-l10n-de"]) == found.by_slug("firefox")
    assert found.by_packages(["thunderbird", "gimp"]) is None
    assert found.by_packages(["acme-cad"]) is None
    assert found.by_packages([]) is None


def test_the_note_names_the_licence_and_the_list() -> None:
    [gimp] = parse_no_fee(ENTRY, "list.toml")

    assert gimp.note == "no licence fee: GPL-3.0-or-later, Fleetsight default list"
    assert gimp.as_of == dt.date(2026, 12, 7)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("not toml [", "list.toml: not TOML"),
        ("[aliases]\n", "list.toml: no [[product]] entries"),
        (ENTRY.replace('licence = "GPL-3.0-or-later"', ""), "product 1: licence must be"),
        (ENTRY.replace("as_of = 2026-12-07", 'as_of = "soon"'), "product 1: as_of must be"),
        (ENTRY.replace('dpkg = ["gimp"]', 'dpkg = "gimp"'), "product 1: dpkg must be"),
        (ENTRY + "price = 0\n", "product 1: unknown field(s) price"),
        (ENTRY + ENTRY.replace('slug = "gimp"', 'slug = "gimp2"'), "package 'gimp' is listed"),
        (ENTRY + ENTRY.replace('dpkg = ["gimp"]', "dpkg = []"), "slug 'gimp' is listed twice"),
    ],
)
def test_a_bad_list_is_refused_naming_the_file_and_the_entry(text: str, named: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(named)):
        parse_no_fee(text, "list.toml")


def test_a_list_refuses_one_slug_twice() -> None:
    one = NoFeeProduct("a", "A", "MIT", dt.date(2026, 1, 1), "https://a.example")

    with pytest.raises(ValueError, match="slug 'a' is listed twice"):
        NoFeeList([one, one])
