from __future__ import annotations

import pytest

from advisor.catalog.errors import CatalogError
from advisor.catalog.importers.packagemanager import offered_versions
from advisor.catalog.matching import Match, Matcher, Unmatched
from advisor.catalog.model import Identifiers, Product, ProductRecord
from agent.inventory.packages import parse_apt_upgradable, parse_dpkg_query
from agent.shared.wire import InstalledPackage, UpgradablePackage
from tests.advisor.catalog.conftest import PACKAGE_MANAGERS

ALIASES = {"dpkg:python3": "python", "dpkg:postgresql-15": "postgresql"}


@pytest.fixture(scope="module")
def matcher(endoflife_records: dict[str, ProductRecord]) -> Matcher:
    return Matcher([r.product for r in endoflife_records.values()], ALIASES)


def test_it_matches_the_real_dpkg_list_by_identifiers_then_aliases(matcher: Matcher) -> None:
    text = (PACKAGE_MANAGERS / "dpkg-query.debian12.tsv").read_text()
    installed = parse_dpkg_query(text).packages
    result = matcher.match(installed)
    found = {(m.installed.package, m.product, m.version, m.by) for m in result.matched}
    assert found == {
        ("python3.11", "python", "3.11.2", "identifier"),
        ("postgresql", "postgresql", "15+248+deb12u1", "identifier"),
        ("python3", "python", "3.11.2", "alias"),
        ("postgresql-15", "postgresql", "15.18", "alias"),
    }
    assert len(result.matched) + len(result.unmatched) == len(installed)
    assert {u.reason for u in result.unmatched} == {"unknown"}


def test_it_lists_a_package_two_products_claim_instead_of_guessing() -> None:
    claims = Identifiers(packages={"dpkg": ("shared-client",)})
    products = [
        Product("one", "One", identifiers=claims),
        Product("two", "Two", identifiers=claims),
    ]
    package = InstalledPackage("shared-client", "1.0-1", "dpkg")
    assert Matcher(products).match_one(package) == Unmatched(package, "ambiguous", ("one", "two"))
    settled = Matcher(products, {"shared-client": "two"}).match_one(package)
    assert settled == Match(package, "two", "1.0", "alias")


def test_it_matches_a_version_command_by_its_generic_purl(matcher: Matcher) -> None:
    package = InstalledPackage("firefox", "140.2.0esr", "command", app="firefox")
    assert matcher.match_one(package) == Match(package, "firefox", "140.2.0esr", "identifier")


def test_it_does_not_match_a_package_of_another_source(matcher: Matcher) -> None:
    package = InstalledPackage("firefox-esr", "140.2.0", "snap")
    assert isinstance(matcher.match_one(package), Unmatched)


def test_it_refuses_an_alias_to_an_unknown_product() -> None:
    with pytest.raises(CatalogError, match=r"aliases\.dpkg:foo: alias names unknown product"):
        Matcher([Product("one", "One")], {"dpkg:foo": "nope"})


def test_it_turns_the_real_apt_upgradable_list_into_offered_versions(matcher: Matcher) -> None:
    text = (PACKAGE_MANAGERS / "apt-list-upgradable.debian12.txt").read_text()
    upgradable = parse_apt_upgradable(text).packages
    offers = offered_versions(upgradable, matcher)
    by_package = {offer.package: offer for offer in offers.offered}
    assert set(by_package) == {"postgresql-15", "postgresql", "python3.11"}
    postgresql = by_package["postgresql-15"]
    assert postgresql.product == "postgresql"
    assert postgresql.vendor_version == "15.20"
    assert postgresql.security
    assert len(offers.offered) + len(offers.unmatched) == len(upgradable) == 134
    assert "base-files" in {u.package for u in offers.unmatched}


def test_it_reports_a_repeated_offer_once(matcher: Matcher) -> None:
    offer = UpgradablePackage("python3.11", "3.11.2-6", "3.11.2-6+deb12u9", "oldstable", "amd64")
    offers = offered_versions([offer, offer], matcher)
    assert len(offers.offered) == 1
    assert not offers.offered[0].security
