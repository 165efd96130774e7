"""The organisation's own catalog file, TOML or CSV: commercial and in-house applications.

A bad entry never sinks the file: each is checked on its own, rejected entries come back as
:class:`~advisor.catalog.errors.RowProblem` (file, line, reason) and the good ones as records,
so the storer can import all of the good ones in one transaction, or none. A file that cannot
be read at all (bad TOML syntax, a CSV without a ``product`` column) raises
:class:`~advisor.catalog.errors.CatalogError`.

TOML: one ``[[product]]`` table per product, optional ``[aliases]`` (see
:mod:`advisor.catalog.matching`)::

    [aliases]
    "dpkg:python3" = "python"

    [[product]]
    slug = "acme-erp"
    name = "ACME ERP"
    vendor = "ACME"
    scheme = "semver"
    packages = { dpkg = ["acme-erp-client"], command = ["acme-erp"] }
    min_ram_gb = 8
    os = ["windows-11", "debian-12"]
    price = { licence = "per_seat_year", amount = "150.00", currency = "EUR", as_of = 2026-01-15 }
    versions = [{ version = "5.2.0", release_date = 2026-03-01, tags = ["performance"] }]

CSV: one row per product version (or per product, without ``version``), columns ``product``
(required), ``name``, ``vendor``, ``category``, ``scheme``, ``packages``
(``dpkg:acme-erp-client;command:acme-erp``), ``version``, ``release_date``, ``notes_url``,
``tags`` (``performance;security``), ``licence``, ``price``, ``currency``, ``price_as_of``,
``price_source``, ``min_ram_gb``, ``os`` (``;``-separated). Rows of one product are combined;
a row that contradicts an earlier one on a product field (name, price...) is rejected.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from advisor.catalog.errors import CatalogError, RowProblem
from advisor.catalog.identifiers import build_identifiers
from advisor.catalog.model import (
    Ecosystem,
    LicenceModel,
    Price,
    Product,
    ProductRecord,
    ProductVersion,
    ReleaseCycle,
    Requirements,
    Tag,
    merge_records,
)
from advisor.catalog.validation import all_errors
from advisor.catalog.versions import Scheme, is_valid

GIB = 1024**3
_PRODUCT_HEADER = re.compile(r"^\s*\[\[\s*product\s*\]\]")
CSV_COLUMNS = (
    "product",
    "name",
    "vendor",
    "category",
    "scheme",
    "packages",
    "version",
    "release_date",
    "notes_url",
    "tags",
    "licence",
    "price",
    "currency",
    "price_as_of",
    "price_source",
    "min_ram_gb",
    "os",
)


class _Strict(BaseModel):
    # A typo in the organisation's own file must be reported, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Price(_Strict):
    licence: LicenceModel
    amount: Decimal = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    as_of: dt.date
    source: str | None = None

    @model_validator(mode="after")
    def _free_costs_nothing(self) -> _Price:
        if self.licence in ("free", "subscription_paid") and self.amount != 0:
            raise ValueError(f"a {self.licence} licence has amount 0, not {self.amount}")
        return self


class _Version(_Strict):
    version: str = Field(min_length=1)
    release_date: dt.date | None = None
    notes_url: str | None = None
    tags: frozenset[Tag] = frozenset()


class _Cycle(_Strict):
    name: str = Field(min_length=1)
    release_date: dt.date | None = None
    end_of_support: dt.date | bool | None = None
    end_of_life: dt.date | bool | None = None
    lts: bool = False
    latest: str | None = None


class _Product(_Strict):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str | None = None
    vendor: str | None = None
    category: str | None = None
    scheme: Scheme = "generic"
    packages: dict[Ecosystem, list[str]] = {}
    purls: list[str] = []
    min_ram_gb: Decimal | None = Field(None, gt=0)
    os: list[str] = []
    price: _Price | None = None
    versions: list[_Version] = []
    cycles: list[_Cycle] = []

    @model_validator(mode="after")
    def _versions_follow_the_scheme(self) -> _Product:
        for item in self.versions:
            if not is_valid(self.scheme, item.version):
                raise ValueError(f"{item.version!r} is not a valid {self.scheme} version")
        return self


@dataclass(frozen=True, slots=True)
class OrgCatalog:
    """What an organisation file held: good records, aliases, and the rejected entries."""

    records: tuple[ProductRecord, ...]
    aliases: dict[str, str] = field(default_factory=dict)
    problems: tuple[RowProblem, ...] = ()


def _record(entry: _Product, source: str) -> ProductRecord:
    slug = entry.slug
    product = Product(
        slug=slug,
        name=entry.name or slug,
        vendor=entry.vendor,
        category=entry.category,
        identifiers=build_identifiers(
            entry.purls,
            packages={eco: tuple(names) for eco, names in entry.packages.items()},
            source=source,
        ),
        version_scheme=entry.scheme,
    )
    price = (
        Price(p.licence, p.amount, p.currency, p.as_of, p.source)
        if (p := entry.price) is not None
        else None
    )
    requirements = None
    if entry.min_ram_gb is not None or entry.os:
        ram = int(entry.min_ram_gb * GIB) if entry.min_ram_gb is not None else None
        requirements = Requirements(ram, tuple(entry.os))
    versions = tuple(
        ProductVersion(slug, v.version, v.release_date, v.notes_url, v.tags) for v in entry.versions
    )
    cycles = tuple(
        ReleaseCycle(
            product=slug,
            name=c.name,
            release_date=c.release_date,
            end_of_support=c.end_of_support,
            end_of_life=c.end_of_life,
            lts=c.lts,
            latest=c.latest,
        )
        for c in entry.cycles
    )
    return ProductRecord(product, cycles, versions, price, requirements, source)


def parse_toml(text: str, source: str) -> OrgCatalog:
    """An organisation catalog in TOML; see the module docstring for the layout."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"bad TOML: {exc}", source=source) from exc
    unknown = set(document) - {"product", "aliases"}
    if unknown:
        raise CatalogError("unknown top-level table", source=source, key=sorted(unknown)[0])
    aliases = document.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise CatalogError("aliases map names to product slugs", source=source, key="aliases")
    entries = document.get("product", [])
    if not isinstance(entries, list):
        raise CatalogError("use [[product]] tables", source=source, key="product")
    lines = [n for n, line in enumerate(text.splitlines(), 1) if _PRODUCT_HEADER.match(line)]
    records: list[ProductRecord] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        # Inline arrays of tables have no header line; fall back to the first line.
        line = lines[index] if index < len(lines) else 1
        try:
            parsed = _Product.model_validate(entry)
        except ValidationError as exc:
            problems.append(RowProblem(source, line, f"product[{index}]: {all_errors(exc)}"))
            continue
        if parsed.slug in seen:
            reason = f"product {parsed.slug!r} already defined at line {seen[parsed.slug]}"
            problems.append(RowProblem(source, line, reason))
            continue
        seen[parsed.slug] = line
        try:
            records.append(_record(parsed, source))
        except CatalogError as exc:
            problems.append(RowProblem(source, line, exc.reason))
    return OrgCatalog(tuple(records), dict(aliases), tuple(problems))


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(";") if item.strip()]


def _csv_entry(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row in the shape of a TOML ``[[product]]`` table: blank cells are absent."""
    cell = {key: value.strip() for key, value in row.items() if value and value.strip()}
    entry: dict[str, Any] = {"slug": cell.get("product", "")}
    for key in ("name", "vendor", "category", "scheme", "min_ram_gb"):
        if key in cell:
            entry[key] = cell[key]
    if "os" in cell:
        entry["os"] = _split(cell["os"])
    if "packages" in cell:
        packages: dict[str, list[str]] = {}
        for item in _split(cell["packages"]):
            ecosystem, sep, name = item.partition(":")
            if not sep or not name:
                raise ValueError(f"packages: {item!r} is not ECOSYSTEM:NAME")
            packages.setdefault(ecosystem, []).append(name)
        entry["packages"] = packages
    if "version" in cell:
        version: dict[str, Any] = {"version": cell["version"]}
        for key in ("release_date", "notes_url"):
            if key in cell:
                version[key] = cell[key]
        if "tags" in cell:
            version["tags"] = _split(cell["tags"])
        entry["versions"] = [version]
    price_keys = {"licence", "price", "currency", "price_as_of", "price_source"}
    if price_keys & cell.keys():
        entry["price"] = {
            key: cell[column]
            for key, column in (
                ("licence", "licence"),
                ("amount", "price"),
                ("currency", "currency"),
                ("as_of", "price_as_of"),
                ("source", "price_source"),
            )
            if column in cell
        }
    return entry


def _csv_rows(text: str, source: str) -> Iterator[tuple[int, dict[str, str] | None]]:
    """(line, row) per non-blank row; row is None when it has more cells than the header."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    if "product" not in columns:
        raise CatalogError("no 'product' column in the header", source=source, line=1)
    unknown = [column for column in columns if column not in CSV_COLUMNS]
    if unknown:
        raise CatalogError(f"unknown column {unknown[0]!r}", source=source, line=1)
    start = 2
    for row in reader:
        if None in row:
            yield start, None
        elif any(value and value.strip() for value in row.values()):
            yield start, {key: value or "" for key, value in row.items()}
        start = reader.line_num + 1


def parse_csv(text: str, source: str) -> OrgCatalog:
    """An organisation catalog in CSV; see the module docstring for the columns."""
    merged: dict[str, ProductRecord] = {}
    first_line: dict[str, int] = {}
    problems: list[RowProblem] = []
    for line, row in _csv_rows(text, source):
        if row is None:
            problems.append(RowProblem(source, line, "more cells than header columns"))
            continue
        try:
            entry = _csv_entry(row)
            known = merged.get(entry["slug"])
            if known is not None:
                # Later rows inherit what they leave blank: the scheme checks their versions.
                entry.setdefault("scheme", known.product.version_scheme)
                entry.setdefault("name", known.product.name)
            record = _record(_Product.model_validate(entry), source)
        except ValidationError as exc:
            problems.append(RowProblem(source, line, all_errors(exc)))
            continue
        except (ValueError, CatalogError) as exc:
            problems.append(RowProblem(source, line, str(getattr(exc, "reason", exc))))
            continue
        slug = record.product.slug
        if slug not in merged:
            merged[slug], first_line[slug] = record, line
            continue
        conflict = _conflict(merged[slug], record)
        if conflict:
            reason = f"{conflict} differs from line {first_line[slug]} for {slug!r}"
            problems.append(RowProblem(source, line, reason))
            continue
        merged[slug] = merge_records(merged[slug], record)
    return OrgCatalog(tuple(merged.values()), {}, tuple(problems))


def _conflict(base: ProductRecord, extra: ProductRecord) -> str | None:
    """The first product-level field ``extra`` sets differently from ``base``, if any."""
    a, b = base.product, extra.product
    pairs: list[tuple[str, object, object]] = [
        ("name", a.name, b.name),
        ("vendor", a.vendor, b.vendor),
        ("category", a.category, b.category),
        ("price", base.price, extra.price),
        ("requirements", base.requirements, extra.requirements),
    ]
    for name, old, new in pairs:
        # A row that leaves a field blank agrees with any value.
        if new is not None and old is not None and old != new:
            return name
    if a.version_scheme != b.version_scheme:
        return "scheme"
    return None
