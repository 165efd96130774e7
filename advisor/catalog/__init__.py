"""The vendor catalog's pure core: products, cycles, versions, prices, and what they answer.

No database and no HTTP server here: plain frozen values and functions the store, CLI and API
build on. Modules, each with one job:

- ``model``: Product, ReleaseCycle, ProductVersion, Price, Requirements, ProductRecord.
- ``versions``: version ordering per ecosystem (deb, rpm, pep440, semver, calver, generic).
- ``importers.endoflife``: endoflife.date front matter, release data, API v1.
- ``importers.orgfile``: the organisation's own TOML or CSV catalog (bad rows reported apart).
- ``importers.packagemanager``: upgrades offered by the agents' package managers.
- ``matching``: installed packages to products (identifiers, then aliases; never guessed).
- ``answers``: newer versions, newest supported, end of life, upgrade cost per seat.
- ``costs``: cost settings and hardware price list from ``config/costs.toml``.
- ``fleet``: the fleet's installed packages against the catalog (outdated, unmatched).
- ``stored``: the catalog as read back, and what an import changed.

Its SQL is in :mod:`advisor.store.catalog`, reading files and fetching over HTTP in
:mod:`advisor.catalog_sources`, the commands in :mod:`advisor.cli.catalog`
(tests/advisor/analysis/test_purity.py keeps this package free of them).
"""

from __future__ import annotations

from advisor.catalog.answers import UpgradeAnswer, UpgradeCost, answer
from advisor.catalog.errors import CatalogError, CostsError, InvalidVersion, RowProblem
from advisor.catalog.matching import Match, Matcher, MatchResult, Unmatched
from advisor.catalog.model import (
    Identifiers,
    Price,
    Product,
    ProductRecord,
    ProductVersion,
    ReleaseCycle,
    Requirements,
)
from advisor.catalog.versions import Scheme, compare_versions, sort_versions

__all__ = [
    "CatalogError",
    "CostsError",
    "Identifiers",
    "InvalidVersion",
    "Match",
    "MatchResult",
    "Matcher",
    "Price",
    "Product",
    "ProductRecord",
    "ProductVersion",
    "ReleaseCycle",
    "Requirements",
    "RowProblem",
    "Scheme",
    "Unmatched",
    "UpgradeAnswer",
    "UpgradeCost",
    "answer",
    "compare_versions",
    "sort_versions",
]
