"""The vendor catalog as plain, frozen values: what importers produce and the store keeps.

A :class:`ProductRecord` is everything one import knows about one product: the
:class:`Product` (identity and identifiers), its :class:`ReleaseCycle` list, its
:class:`ProductVersion` list, and optionally a :class:`Price` and :class:`Requirements`.
Records from several sources for the same product are combined with :func:`merge_records`.

endoflife.date gives end-of-life and support dates either as a date or as a boolean:
``True`` means "already ended, date unknown", ``False`` "not ended, no date set". The model keeps
that as ``date | bool | None`` (None: the source says nothing) so no meaning is invented.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, get_args

from advisor.catalog.versions import Scheme

# Where an installed package comes from: the agent's InstalledPackage.source values.
Ecosystem = Literal["dpkg", "rpm", "flatpak", "snap", "command"]
ECOSYSTEMS: tuple[Ecosystem, ...] = get_args(Ecosystem)

Tag = Literal["performance", "security", "bugfix", "feature"]
TAGS: tuple[Tag, ...] = get_args(Tag)

LicenceModel = Literal["free", "per_seat_year", "perpetual_seat", "subscription_paid"]
LICENCE_MODELS: tuple[LicenceModel, ...] = get_args(LicenceModel)

# A lifecycle date as the sources give it; see the module docstring.
Milestone = date | bool | None


@dataclass(frozen=True, slots=True)
class Identifiers:
    """How installed software is recognised as this product.

    ``packages`` maps an ecosystem to its package names, e.g.
    ``{"dpkg": ("firefox-esr",), "command": ("firefox",)}``; ``purls`` and ``cpes`` are kept as
    the source wrote them; ``repology`` is the repology.org project name.
    """

    packages: dict[Ecosystem, tuple[str, ...]] = field(default_factory=dict)
    purls: tuple[str, ...] = ()
    cpes: tuple[str, ...] = ()
    repology: str | None = None


@dataclass(frozen=True, slots=True)
class Product:
    """A product the catalog knows. ``slug`` is its stable key (``firefox``, ``postgresql``)."""

    slug: str
    name: str
    vendor: str | None = None
    category: str | None = None
    identifiers: Identifiers = field(default_factory=Identifiers)
    version_scheme: Scheme = "generic"
    changelog_template: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseCycle:
    """A release line (``"128"`` ESR of Firefox, ``"15"`` of PostgreSQL, ``"11-24h2-e-lts"``).

    ``end_of_support`` is the end of active support (endoflife.date ``eoas``); ``end_of_life``
    the end of security fixes (``eol``); ``end_of_extended_support`` paid extended support
    (``eoes``). ``lts`` may be a date: the cycle became LTS on that day.
    """

    product: str
    name: str
    label: str | None = None
    codename: str | None = None
    release_date: date | None = None
    end_of_support: Milestone = None
    end_of_life: Milestone = None
    end_of_extended_support: Milestone = None
    lts: date | bool = False
    latest: str | None = None
    latest_release_date: date | None = None
    link: str | None = None


@dataclass(frozen=True, slots=True)
class ProductVersion:
    """One released version; ``tags`` say what it brings (performance, security, bugfix)."""

    product: str
    version: str
    release_date: date | None = None
    notes_url: str | None = None
    tags: frozenset[Tag] = frozenset()


@dataclass(frozen=True, slots=True)
class Price:
    """What a seat costs, and when that was true (prices move; they are never timeless).

    ``amount`` is per seat: per year for ``per_seat_year``, once for ``perpetual_seat``, and
    zero for ``free`` and ``subscription_paid`` (an already paid subscription costs nothing
    more to upgrade within). Example: ``Price("per_seat_year", Decimal("150.00"), "USD",
    date(2026, 1, 15), "vendor quote 2026-01")``.
    """

    licence: LicenceModel
    amount: Decimal
    currency: str
    as_of: date
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a version needs to run well; None where unknown."""

    min_ram_bytes: int | None = None
    os: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """Everything one source says about one product."""

    product: Product
    cycles: tuple[ReleaseCycle, ...] = ()
    versions: tuple[ProductVersion, ...] = ()
    price: Price | None = None
    requirements: Requirements | None = None
    source: str | None = None


def merge_records(base: ProductRecord, extra: ProductRecord) -> ProductRecord:
    """``base`` completed by ``extra`` (same slug): ``extra`` wins on fields it sets.

    Cycles and versions are merged by name; for a version known to both, the release date and
    notes URL of ``extra`` win where set and the tags are united.
    """
    if base.product.slug != extra.product.slug:
        raise ValueError(f"cannot merge {base.product.slug!r} with {extra.product.slug!r}")
    cycles = {cycle.name: cycle for cycle in base.cycles}
    cycles.update({cycle.name: cycle for cycle in extra.cycles})
    versions = {item.version: item for item in base.versions}
    for item in extra.versions:
        old = versions.get(item.version)
        if old is not None:
            item = dataclasses.replace(
                item,
                release_date=item.release_date or old.release_date,
                notes_url=item.notes_url or old.notes_url,
                tags=item.tags | old.tags,
            )
        versions[item.version] = item
    return ProductRecord(
        product=_merge_product(base.product, extra.product),
        cycles=tuple(cycles.values()),
        versions=tuple(versions.values()),
        price=extra.price or base.price,
        requirements=extra.requirements or base.requirements,
        source=base.source if extra.source is None else extra.source,
    )


def _merge_product(base: Product, extra: Product) -> Product:
    packages = dict(base.identifiers.packages)
    for ecosystem, names in extra.identifiers.packages.items():
        packages[ecosystem] = tuple(dict.fromkeys(packages.get(ecosystem, ()) + names))
    identifiers = Identifiers(
        packages=packages,
        purls=tuple(dict.fromkeys(base.identifiers.purls + extra.identifiers.purls)),
        cpes=tuple(dict.fromkeys(base.identifiers.cpes + extra.identifiers.cpes)),
        repology=extra.identifiers.repology or base.identifiers.repology,
    )
    return Product(
        slug=base.slug,
        name=extra.name or base.name,
        vendor=extra.vendor or base.vendor,
        category=extra.category or base.category,
        identifiers=identifiers,
        version_scheme=extra.version_scheme,
        changelog_template=extra.changelog_template or base.changelog_template,
    )
