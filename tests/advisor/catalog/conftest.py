from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from advisor.catalog.importers.endoflife import load_directory
from advisor.catalog.model import ProductRecord

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ENDOFLIFE = FIXTURES / "endoflife"
PACKAGE_MANAGERS = FIXTURES / "package-managers"
# The endoflife.date snapshot's date: every "now" in these tests.
SNAPSHOT = dt.date(2026, 8, 22)


@pytest.fixture(scope="session")
def endoflife_records() -> dict[str, ProductRecord]:
    records = load_directory(ENDOFLIFE / "products", ENDOFLIFE / "releases")
    return {record.product.slug: record for record in records}
