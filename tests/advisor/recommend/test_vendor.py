"""The engine's questions to the catalog: package versions named as the vendor names them."""

from __future__ import annotations

import datetime as dt

import pytest

from advisor.catalog.importers.endoflife import load_directory
from advisor.recommend.vendor import RecordCatalog
from tests.advisor.catalog.conftest import ENDOFLIFE


@pytest.fixture(scope="module")
def catalog() -> RecordCatalog:
    records = load_directory(ENDOFLIFE / "products", ENDOFLIFE / "releases")
    return RecordCatalog(
        {r.product.slug: r for r in records},
        today=dt.date(2026, 4, 23),
        costs=None,
        products={"firefox-esr": "firefox"},
    )


@pytest.mark.parametrize(
    ("app", "package_version", "vendor"),
    [
        # Debian packages LibreOffice's final build of a release under its three-part name.
        ("libreoffice", "4:26.2.2-1", "26.2.2.2"),
        ("libreoffice", "4:7.4.7-1+deb12u8", "7.4.7.2"),
        # Debian's Firefox ESR carries the channel in its version; Mozilla's does not.
        ("firefox-esr", "140.9.0esr-1~deb12u1", "140.9.0"),
        ("firefox", "140.9.0", "140.9.0"),
        # Unknown to the catalog but valid: kept as it is (older than anything listed).
        ("libreoffice", "4:3.0.0-1", "3.0.0"),
        ("vim", "2:9.0.1378-2", None),
    ],
)
def test_a_package_version_is_the_release_the_vendor_lists(
    catalog: RecordCatalog, app: str, package_version: str, vendor: str | None
) -> None:
    assert catalog.vendor_version(app, package_version) == vendor


def test_hosts_on_the_fixed_release_count_as_running_the_upgrade_target(
    catalog: RecordCatalog,
) -> None:
    installed = catalog.vendor_version("libreoffice", "4:26.2.1-1")
    assert installed is not None
    verdict = catalog.answer("libreoffice", installed)
    assert verdict is not None
    # What the fleet's 26.2.2 hosts run is the very version the catalog offers.
    assert verdict.newest_supported == catalog.vendor_version("libreoffice", "4:26.2.2-1")
