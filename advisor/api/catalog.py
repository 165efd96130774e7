"""The read-only catalog API: products, one product, and the fleet's outdated software.

========================================  =====================================================
route                                     what it answers
========================================  =====================================================
GET /api/v1/catalog/products              every product with its newest version and cycles
                                          supported on ``at``
GET /api/v1/catalog/products/{name}       one product: identifiers, aliases, cycles, versions,
                                          prices, requirements (404 when unknown)
GET /api/v1/catalog/outdated              hosts x products behind or (nearly) end-of-life, by
                                          department; ``department``, ``eol_within``, ``at``
                                          filter as ``catalog outdated`` does
========================================  =====================================================

These answers describe the fleet's inventory, so every route wants an admin API token
(``fleetsight-advisor api-token create``) as ``Authorization: Bearer``: missing, malformed,
unknown and revoked tokens get 401. Bad query parameters get 400 with a sentence. The store
blocks on the database, so the routes are plain ``def`` routes (run in the thread pool).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, Field

from advisor.api.admin import admin_only, error_responses
from advisor.api.openapi_doc import NO_NUL
from advisor.catalog.answers import is_supported
from advisor.catalog.fleet import MAX_HORIZON_DAYS, horizon_days
from advisor.catalog.model import ProductRecord
from advisor.catalog.report import outdated_document
from advisor.catalog.versions import is_valid, sort_versions
from advisor.store.api_tokens import ApiTokens
from advisor.store.catalog import CatalogStore

PREFIX = "/api/v1/catalog"
# Dates the lifecycle arithmetic can take, horizon included, without overflowing.
EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(9000, 12, 31)
# The shape of the two text parameters is checked by FastAPI, their range here, with a
# sentence (day(), horizon_days()); the document states both at once, as these patterns.
AT_PATTERN = r"^(?:19[7-9][0-9]|[2-8][0-9]{3}|9000)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
"""EARLIEST..LATEST (format "date" leaves out the days that do not exist, such as 02-30)."""
# A string, parsed here: pydantic would also take Unix timestamps ("0") as dates.
_At = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        json_schema_extra={"format": "date", "pattern": AT_PATTERN},
        description=(
            f"The day lifecycle questions are asked for, YYYY-MM-DD from {EARLIEST} to {LATEST}"
            " (default: today)."
        ),
    ),
]
_EOL_WITHIN_DIGITS = 6


def numbers_up_to(limit: int, digits: int) -> str:
    """A regular expression matching the numerals of 1 to ``digits`` digits (leading zeros
    allowed) whose value is at most ``limit``.

    Example: ``numbers_up_to(250, 4)`` is ``[0-9]{1,2}|0{0,1}(?:[0-1][0-9]{2}|2[0-4][0-9]{1}|250)``.
    """
    text = str(limit)
    width = len(text)
    if digits < width:
        return f"[0-9]{{1,{digits}}}"
    full_width = [
        text[:i] + f"[0-{int(digit) - 1}]" + (f"[0-9]{{{width - i - 1}}}" if i < width - 1 else "")
        for i, digit in enumerate(text)
        if digit != "0"
    ]
    shorter = f"[0-9]{{1,{width - 1}}}|" if width > 1 else ""
    return f"{shorter}0{{0,{digits - width}}}(?:{'|'.join([*full_width, text])})"


EOL_WITHIN_PATTERN = (
    f"^(?:(?:{numbers_up_to(MAX_HORIZON_DAYS, _EOL_WITHIN_DIGITS)})d?"
    f"|(?:{numbers_up_to(MAX_HORIZON_DAYS // 7, _EOL_WITHIN_DIGITS)})w)$"
)
"""What horizon_days() takes: days up to its maximum, or as many whole weeks."""


class Identifiers(BaseModel):
    packages: dict[str, list[str]]
    purls: list[str]
    cpes: list[str]
    repology: str | None


class Cycle(BaseModel):
    """A release cycle; ``end_of_life`` is a date, or true/false when the source has no date."""

    name: str
    label: str | None
    release_date: dt.date | None
    end_of_support: dt.date | bool | None
    end_of_life: dt.date | bool | None
    lts: bool
    latest: str | None
    supported: bool = Field(description="Released and not end-of-life on `at`.")


class Version(BaseModel):
    version: str
    release_date: dt.date | None
    notes_url: str | None
    tags: list[str]


class Price(BaseModel):
    licence: str
    amount: str = Field(description="Decimal text, e.g. '150.00'.")
    currency: str
    as_of: dt.date
    source: str | None


class Requirements(BaseModel):
    min_ram_bytes: int | None
    os: list[str]


class ProductSummary(BaseModel):
    slug: str
    name: str
    vendor: str | None
    category: str | None
    latest: str | None = Field(description="The newest version released on `at`.")
    supported_cycles: list[str]


class ProductList(BaseModel):
    at: dt.date
    products: list[ProductSummary]


class ProductDetail(ProductSummary):
    version_scheme: str
    identifiers: Identifiers
    aliases: list[str]
    cycles: list[Cycle]
    versions: list[Version] = Field(description="Newest first.")
    prices: list[Price] = Field(description="Newest first; the first is the current price.")
    requirements: Requirements | None


class OutdatedRow(BaseModel):
    department: str
    host_id: str
    hostname: str
    product: str
    package: str
    package_version: str
    installed: str
    cycle: str | None
    latest: str | None
    newest_in_cycle: str | None
    newest_supported: str | None
    offered: str | None
    offered_security: bool
    status: str
    end_of_life_on: dt.date | None
    cost_per_seat: str | None
    currency: str | None


class Department(BaseModel):
    department: str
    hosts: int
    rows: list[OutdatedRow]


class Unordered(BaseModel):
    host_id: str
    product: str
    package: str
    version: str
    reason: str


class Outdated(BaseModel):
    at: dt.date
    eol_within_days: int
    departments: list[Department]
    unordered: list[Unordered]


def _latest(record: ProductRecord, at: dt.date) -> str | None:
    scheme = record.product.version_scheme
    released = [
        v.version
        for v in record.versions
        if (v.release_date is None or v.release_date <= at) and is_valid(scheme, v.version)
    ]
    return sort_versions(scheme, released)[-1] if released else None


def _summary(record: ProductRecord, at: dt.date) -> dict[str, Any]:
    product = record.product
    return {
        "slug": product.slug,
        "name": product.name,
        "vendor": product.vendor,
        "category": product.category,
        "latest": _latest(record, at),
        "supported_cycles": [c.name for c in record.cycles if is_supported(c, at)],
    }


def add_catalog_routes(
    app: FastAPI,
    catalog: CatalogStore,
    api_tokens: ApiTokens,
    clock: Callable[[], float],
    error_model: type[BaseModel],
) -> None:
    """Add the catalog routes, on ``catalog``, to ``app``; ``api_tokens`` are the admin tokens
    they accept; ``error_model`` documents the ``{"detail"}`` answers."""
    admin = admin_only(api_tokens)

    def errors(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
        return error_responses(error_model, described)

    def day(at: str | None) -> dt.date:
        if at is None:
            when = dt.datetime.fromtimestamp(clock(), dt.UTC).date()
        else:
            try:
                when = dt.date.fromisoformat(at)
            except ValueError:
                raise HTTPException(400, f"at: {at!r} is not a date (YYYY-MM-DD)") from None
        if not EARLIEST <= when <= LATEST:
            raise HTTPException(400, f"at: must be between {EARLIEST} and {LATEST}")
        return when

    @app.get(
        f"{PREFIX}/products",
        summary="Every product in the catalog",
        responses={
            **errors({}),
            200: {
                "description": "The products; each slug names one for the product route.",
                "links": {
                    "GetProduct": {
                        "operationRef": "#/paths/~1api~1v1~1catalog~1products~1{name}/get",
                        "parameters": {"name": "$response.body#/products/0/slug"},
                    }
                },
            },
        },
        tags=["catalog"],
        dependencies=admin,
    )
    def products(at: _At = None) -> ProductList:
        when = day(at)
        loaded = catalog.load()
        return ProductList.model_validate(
            {"at": when, "products": [_summary(r, when) for r in loaded.records.values()]}
        )

    @app.get(
        f"{PREFIX}/products/{{name}}",
        summary="One product: identifiers, cycles, versions, prices",
        responses=errors({404: "No product of that name."}),
        tags=["catalog"],
        dependencies=admin,
    )
    def product(
        name: Annotated[
            str, Path(min_length=1, max_length=200, pattern=NO_NUL, description="Product slug.")
        ],
        at: _At = None,
    ) -> ProductDetail:
        when = day(at)
        loaded = catalog.load([name])
        record = loaded.records.get(name)
        if record is None:
            raise HTTPException(404, f"no product {name!r} in the catalog")
        ids = record.product.identifiers
        scheme = record.product.version_scheme
        by_name = {v.version: v for v in record.versions}
        ordered = sort_versions(scheme, [v for v in by_name if is_valid(scheme, v)])
        ordered += sorted(v for v in by_name if not is_valid(scheme, v))
        return ProductDetail.model_validate(
            {
                **_summary(record, when),
                "version_scheme": scheme,
                "identifiers": {
                    "packages": {eco: list(names) for eco, names in ids.packages.items()},
                    "purls": list(ids.purls),
                    "cpes": list(ids.cpes),
                    "repology": ids.repology,
                },
                "aliases": sorted(a for a, slug in loaded.aliases.items() if slug == name),
                "cycles": [
                    {
                        "name": c.name,
                        "label": c.label,
                        "release_date": c.release_date,
                        "end_of_support": c.end_of_support,
                        "end_of_life": c.end_of_life,
                        "lts": bool(c.lts),
                        "latest": c.latest,
                        "supported": is_supported(c, when),
                    }
                    for c in record.cycles
                ],
                "versions": [
                    {
                        "version": v.version,
                        "release_date": v.release_date,
                        "notes_url": v.notes_url,
                        "tags": sorted(v.tags),
                    }
                    for v in (by_name[n] for n in reversed(ordered))
                ],
                "prices": catalog.prices(name),
                "requirements": (
                    {
                        "min_ram_bytes": record.requirements.min_ram_bytes,
                        "os": list(record.requirements.os),
                    }
                    if record.requirements
                    else None
                ),
            }
        )

    @app.get(
        f"{PREFIX}/outdated",
        summary="Hosts x products behind the latest version or (nearly) end-of-life",
        responses=errors({}),
        tags=["catalog"],
        dependencies=admin,
    )
    def outdated(
        department: Annotated[
            str | None,
            Query(
                min_length=1, max_length=200, pattern=NO_NUL, description="Only this department."
            ),
        ] = None,
        eol_within: Annotated[
            str,
            Query(
                pattern=f"^[0-9]{{1,{_EOL_WITHIN_DIGITS}}}[dw]?$",
                json_schema_extra={"pattern": EOL_WITHIN_PATTERN},
                description=(
                    "'End-of-life soon' horizon: days ('90d', '90') or weeks ('12w'), at most"
                    f" {MAX_HORIZON_DAYS} days."
                ),
            ),
        ] = "90d",
        at: _At = None,
    ) -> Outdated:
        when = day(at)
        try:
            horizon = horizon_days(eol_within)
        except ValueError as exc:
            raise HTTPException(400, f"eol_within: {exc}") from None
        report = catalog.outdated(when, horizon_days=horizon, department=department)
        return Outdated.model_validate(
            {"at": when, "eol_within_days": horizon, **outdated_document(report)}
        )
