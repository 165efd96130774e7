"""Products that cost no licence fee: Fleetsight's default list, shipped with the package.

Without it an upgrade of LibreOffice costs "licence unknown" until the organisation imports
a price for it. The list (``no_fee.toml`` beside this module, read with
:mod:`importlib.resources`) names common no-fee desktop and server products, each with its
licence, the day it was checked and where it says so. The recommendation's catalog
(:class:`advisor.recommend.vendor.RecordCatalog`) asks it only when the organisation's
catalog has no price for a product: an imported price always wins.

A product is found by its catalog slug (``libreoffice``), or, for an app the catalog does
not know, by its Debian package names (``thunderbird``): one product, or none when the names
point at several (never a guess).

>>> found = parse_no_fee('''
... [[product]]
... slug = "gimp"
... name = "GIMP"
... dpkg = ["gimp"]
... licence = "GPL-3.0-or-later"
... as_of = 2026-12-07
... source = "https://www.gimp.org/about/COPYING"
... ''', "example.toml")
>>> found.by_packages(["gimp", "gimp-data"]).note
'no licence fee: GPL-3.0-or-later, Fleetsight default list'
>>> found.by_slug("photoshop") is None
True
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from advisor.catalog.errors import CatalogError

__all__ = ["LIST_NAME", "NoFeeList", "NoFeeProduct", "parse_no_fee", "shipped_no_fee"]

DATA_FILE = "no_fee.toml"
LIST_NAME = "Fleetsight default list"
_TEXT_FIELDS = ("slug", "name", "licence", "source")


@dataclass(frozen=True, slots=True)
class NoFeeProduct:
    """A product that costs no licence fee: its ``licence`` (``MPL-2.0``), the day that was
    checked and where it says so (``source``, a URL)."""

    slug: str
    name: str
    licence: str
    as_of: dt.date
    source: str
    dpkg: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """Where a zero licence cost comes from, as a cost part says it."""
        return f"no licence fee: {self.licence}, {LIST_NAME}"


class NoFeeList:
    """The products of the list, by slug and by Debian package name. A slug or a package
    named twice is refused (ValueError): a lookup must have one answer."""

    def __init__(self, products: Iterable[NoFeeProduct]) -> None:
        self._products = tuple(products)
        self._slugs: dict[str, NoFeeProduct] = {}
        self._packages: dict[str, NoFeeProduct] = {}
        for product in self._products:
            if product.slug in self._slugs:
                raise ValueError(f"slug {product.slug!r} is listed twice")
            self._slugs[product.slug] = product
            for package in product.dpkg:
                if package in self._packages:
                    raise ValueError(f"package {package!r} is listed twice")
                self._packages[package] = product

    def __iter__(self) -> Iterator[NoFeeProduct]:
        return iter(self._products)

    def __len__(self) -> int:
        return len(self._products)

    def by_slug(self, slug: str) -> NoFeeProduct | None:
        """The product of catalog slug ``slug``, if listed."""
        return self._slugs.get(slug)

    def by_packages(self, names: Iterable[str]) -> NoFeeProduct | None:
        """The one product the Debian package ``names`` are of (names not listed are passed
        over: ``firefox-esr-l10n-de`` beside ``firefox-esr``); None when none is listed or
        they are of several products."""
        found = {self._packages[name] for name in names if name in self._packages}
        return found.pop() if len(found) == 1 else None


def parse_no_fee(text: str, source: str) -> NoFeeList:
    """The list in TOML ``text`` (the format of ``no_fee.toml``); CatalogError naming
    ``source`` and the entry when it cannot be read."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"not TOML: {exc}", source=source) from None
    entries = data.get("product")
    if not isinstance(entries, list) or not entries:
        raise CatalogError("no [[product]] entries", source=source)
    products = [_product(entry, source, i) for i, entry in enumerate(entries, start=1)]
    try:
        return NoFeeList(products)
    except ValueError as exc:
        raise CatalogError(str(exc), source=source) from None


def _product(entry: Any, source: str, index: int) -> NoFeeProduct:
    key = f"product {index}"
    if not isinstance(entry, dict):
        raise CatalogError("not a table", source=source, key=key)
    unknown = sorted(set(entry) - {*_TEXT_FIELDS, "as_of", "dpkg"})
    if unknown:
        raise CatalogError(f"unknown field(s) {', '.join(unknown)}", source=source, key=key)
    for name in _TEXT_FIELDS:
        value = entry.get(name)
        if not isinstance(value, str) or not value.strip():
            raise CatalogError(f"{name} must be a non-empty string", source=source, key=key)
    as_of = entry.get("as_of")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise CatalogError("as_of must be a date (2026-12-07)", source=source, key=key)
    dpkg = entry.get("dpkg", [])
    if not isinstance(dpkg, list) or not all(isinstance(p, str) and p for p in dpkg):
        raise CatalogError("dpkg must be a list of package names", source=source, key=key)
    return NoFeeProduct(
        slug=entry["slug"],
        name=entry["name"],
        licence=entry["licence"],
        as_of=as_of,
        source=entry["source"],
        dpkg=tuple(dpkg),
    )


@functools.cache
def shipped_no_fee() -> NoFeeList:
    """The list shipped with Fleetsight (read once, when first asked for)."""
    text = resources.files("advisor.catalog").joinpath(DATA_FILE)
    return parse_no_fee(text.read_text(encoding="utf-8"), DATA_FILE)
