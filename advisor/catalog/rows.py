"""Catalog values as table rows and back: pure conversions, no database.

A row is a plain dict keyed by column name. Every value is one the database hands back
unchanged (str, int, bool, date, None), so a row read back compares equal to the row that
would be written for the same data: that equality is how re-imports find "no changes".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, cast

from advisor.catalog.costs import CostSettings, DatedPrice
from advisor.catalog.model import (
    Ecosystem,
    Identifiers,
    LicenceModel,
    Milestone,
    Price,
    Product,
    ProductRecord,
    ProductVersion,
    ReleaseCycle,
    Requirements,
    Tag,
)
from advisor.catalog.versions import Scheme

Row = dict[str, Any]


def milestone_columns(milestone: Milestone) -> tuple[dt.date | None, bool | None]:
    """``(date, flag)``: a date goes in the first, a boolean in the second, None in neither."""
    if isinstance(milestone, bool):
        return None, milestone
    return milestone, None


def milestone_value(on: dt.date | None, reached: bool | None) -> Milestone:
    """The milestone stored as ``(on, reached)`` (see :func:`milestone_columns`)."""
    return on if on is not None else reached


def product_row(product: Product) -> Row:
    return {
        "slug": product.slug,
        "name": product.name,
        "vendor": product.vendor,
        "category": product.category,
        "version_scheme": product.version_scheme,
        "changelog_template": product.changelog_template,
        "repology": product.identifiers.repology,
    }


def identifier_rows(product: Product, origin: str) -> list[Row]:
    """One row per package name, purl and CPE of ``product``."""
    ids = product.identifiers
    entries: list[tuple[str, str, str]] = [
        ("package", ecosystem, name) for ecosystem, names in ids.packages.items() for name in names
    ]
    entries += [("purl", "", purl) for purl in ids.purls]
    entries += [("cpe", "", cpe) for cpe in ids.cpes]
    return [
        {"product": product.slug, "origin": origin, "kind": k, "ecosystem": e, "value": v}
        for k, e, v in dict.fromkeys(entries)
    ]


def cycle_row(cycle: ReleaseCycle, origin: str) -> Row:
    support = milestone_columns(cycle.end_of_support)
    life = milestone_columns(cycle.end_of_life)
    extended = milestone_columns(cycle.end_of_extended_support)
    return {
        "product": cycle.product,
        "name": cycle.name,
        "origin": origin,
        "label": cycle.label,
        "codename": cycle.codename,
        "release_date": cycle.release_date,
        "support_ends_on": support[0],
        "support_ended": support[1],
        "life_ends_on": life[0],
        "life_ended": life[1],
        "extended_ends_on": extended[0],
        "extended_ended": extended[1],
        "lts": cycle.lts if isinstance(cycle.lts, bool) else True,
        "lts_from": None if isinstance(cycle.lts, bool) else cycle.lts,
        "latest": cycle.latest,
        "latest_release_date": cycle.latest_release_date,
        "link": cycle.link,
    }


def join_tags(tags: Iterable[str]) -> str:
    return ",".join(sorted(set(tags)))


def version_row(version: ProductVersion, origin: str) -> Row:
    return {
        "product": version.product,
        "version": version.version,
        "origin": origin,
        "release_date": version.release_date,
        "notes_url": version.notes_url,
        "tags": join_tags(version.tags),
    }


def price_row(product: str, price: Price) -> Row:
    return {
        "product": product,
        "as_of": price.as_of,
        "licence": price.licence,
        "amount": str(price.amount),
        "currency": price.currency,
        "source": price.source,
    }


def requirement_row(product: str, requirements: Requirements) -> Row:
    return {
        "product": product,
        "min_ram_bytes": requirements.min_ram_bytes,
        "os": ",".join(requirements.os),
    }


def record_from_rows(
    product: Row,
    identifiers: Iterable[Row],
    cycles: Iterable[Row],
    versions: Iterable[Row],
    price: Row | None,
    requirements: Row | None,
) -> ProductRecord:
    """The :class:`ProductRecord` the rows of one product describe (all origins together)."""
    slug = product["slug"]
    packages: dict[Ecosystem, list[str]] = {}
    purls: list[str] = []
    cpes: list[str] = []
    for row in identifiers:
        if row["kind"] == "package":
            names = packages.setdefault(cast(Ecosystem, row["ecosystem"]), [])
            if row["value"] not in names:
                names.append(row["value"])
        elif row["kind"] == "purl" and row["value"] not in purls:
            purls.append(row["value"])
        elif row["kind"] == "cpe" and row["value"] not in cpes:
            cpes.append(row["value"])
    record_product = Product(
        slug=slug,
        name=product["name"],
        vendor=product["vendor"],
        category=product["category"],
        identifiers=Identifiers(
            packages={eco: tuple(names) for eco, names in packages.items()},
            purls=tuple(purls),
            cpes=tuple(cpes),
            repology=product["repology"],
        ),
        version_scheme=cast(Scheme, product["version_scheme"]),
        changelog_template=product["changelog_template"],
    )
    record_cycles = tuple(
        ReleaseCycle(
            product=slug,
            name=row["name"],
            label=row["label"],
            codename=row["codename"],
            release_date=row["release_date"],
            end_of_support=milestone_value(row["support_ends_on"], row["support_ended"]),
            end_of_life=milestone_value(row["life_ends_on"], row["life_ended"]),
            end_of_extended_support=milestone_value(row["extended_ends_on"], row["extended_ended"]),
            lts=row["lts_from"] or bool(row["lts"]),
            latest=row["latest"],
            latest_release_date=row["latest_release_date"],
            link=row["link"],
        )
        for row in cycles
    )
    record_versions = tuple(
        ProductVersion(
            slug,
            row["version"],
            row["release_date"],
            row["notes_url"],
            frozenset(cast(Tag, tag) for tag in row["tags"].split(",") if tag),
        )
        for row in versions
    )
    record_price = (
        Price(
            cast(LicenceModel, price["licence"]),
            Decimal(price["amount"]),
            price["currency"],
            price["as_of"],
            price["source"],
        )
        if price is not None
        else None
    )
    record_requirements = (
        Requirements(
            requirements["min_ram_bytes"],
            tuple(item for item in requirements["os"].split(",") if item),
        )
        if requirements is not None
        else None
    )
    return ProductRecord(
        record_product, record_cycles, record_versions, record_price, record_requirements
    )


# -- cost settings --------------------------------------------------------------------------


def _setting(name: str, value: object, price: DatedPrice | None = None) -> Row:
    return {
        "name": name,
        "value": str(value),
        "as_of": price.as_of if price else None,
        "source": price.source if price else None,
        "estimate": price.estimate if price else False,
    }


def cost_setting_rows(costs: CostSettings) -> list[Row]:
    """The settings of ``costs`` (not the hardware prices) as ``cost_settings`` rows."""
    rows = [
        _setting("currency", costs.currency),
        _setting("working_days_per_year", costs.working_days_per_year),
        _setting("working_hours_per_day", costs.working_hours_per_day),
        _setting("labour_rate", costs.labour_rate.amount, costs.labour_rate),
        _setting("wages.default", costs.default_wage.amount, costs.default_wage),
    ]
    rows += [_setting(f"install_hours.{m}", h) for m, h in sorted(costs.install_hours.items())]
    rows += [
        _setting(f"wages.departments.{d}", p.amount, p) for d, p in sorted(costs.wages.items())
    ]
    return rows


def hardware_price_rows(costs: CostSettings) -> list[Row]:
    """The hardware price list of ``costs`` as ``hardware_prices`` rows."""
    items: list[tuple[str, str, DatedPrice]] = [
        *(("ram", kind, price) for kind, price in costs.ram_per_gb.items()),
        *(("ssd", str(size), price) for size, price in costs.ssd.items()),
        *(("machine", cls, price) for cls, price in costs.machines.items()),
    ]
    return [
        {
            "kind": kind,
            "item": item,
            "as_of": price.as_of,
            "amount": str(price.amount),
            "currency": costs.currency,
            "source": price.source,
            "estimate": price.estimate,
        }
        for kind, item, price in items
    ]


def costs_from_rows(settings: Iterable[Row], hardware: Iterable[Row]) -> CostSettings | None:
    """Cost settings back from their rows (the newest price per hardware item); None when no
    cost settings were imported."""
    by_name = {row["name"]: row for row in settings}
    if "currency" not in by_name:
        return None

    def dated(row: Mapping[str, Any]) -> DatedPrice:
        return DatedPrice(Decimal(row["value"]), row["as_of"], row["source"] or "", row["estimate"])

    newest: dict[tuple[str, str], Row] = {}
    for row in hardware:
        key = (row["kind"], row["item"])
        if key not in newest or row["as_of"] > newest[key]["as_of"]:
            newest[key] = row

    def priced(kind: str) -> dict[str, DatedPrice]:
        return {
            item: DatedPrice(Decimal(row["amount"]), row["as_of"], row["source"], row["estimate"])
            for (k, item), row in sorted(newest.items())
            if k == kind
        }

    prefix_hours, prefix_wages = "install_hours.", "wages.departments."
    return CostSettings(
        currency=by_name["currency"]["value"],
        labour_rate=dated(by_name["labour_rate"]),
        install_hours={
            name.removeprefix(prefix_hours): Decimal(row["value"])
            for name, row in by_name.items()
            if name.startswith(prefix_hours)
        },
        default_wage=dated(by_name["wages.default"]),
        wages={
            name.removeprefix(prefix_wages): dated(row)
            for name, row in by_name.items()
            if name.startswith(prefix_wages)
        },
        working_days_per_year=int(by_name["working_days_per_year"]["value"]),
        working_hours_per_day=Decimal(by_name["working_hours_per_day"]["value"]),
        ram_per_gb=priced("ram"),
        ssd={int(item): price for item, price in priced("ssd").items()},
        machines=priced("machine"),
    )
