"""Installed software, as agents report it, matched to catalog products.

Order of evidence: a product's identifiers first (package names per ecosystem, from purls or
the organisation's file), then the configured aliases. Nothing is guessed from similar names:
what matches no product, or several, comes back in :attr:`MatchResult.unmatched` with the
reason, so someone can add an alias.

Aliases map a package name to a product slug; ``"dpkg:python3" = "python"`` applies to one
source only, ``"libreoffice" = "libreoffice"`` to every source. An alias also settles a package
that the identifiers give to several products.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from advisor.catalog.errors import CatalogError, InvalidVersion
from advisor.catalog.model import ECOSYSTEMS, Ecosystem, Product
from advisor.catalog.versions import Scheme, upstream_version
from agent.shared.wire import InstalledPackage

# The version scheme of each source's package versions.
SOURCE_SCHEME: dict[str, Scheme] = {"dpkg": "deb", "rpm": "rpm"}


@dataclass(frozen=True, slots=True)
class Match:
    """``installed`` is product ``product``; ``version`` is the vendor's version inside the
    package version (``15.18`` for dpkg's ``15.18-0+deb12u1``)."""

    installed: InstalledPackage
    product: str
    version: str
    by: Literal["identifier", "alias"]


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An installed package no product claims (``unknown``) or several do (``ambiguous``)."""

    installed: InstalledPackage
    reason: Literal["unknown", "ambiguous"]
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchResult:
    matched: list[Match] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)


def _alias_key(key: str) -> tuple[Ecosystem | None, str]:
    ecosystem, sep, name = key.partition(":")
    if sep and ecosystem in ECOSYSTEMS:
        return ecosystem, name
    return None, key


class Matcher:
    """Matches installed packages to ``products``; build once, use for the whole fleet.

    Raises :class:`CatalogError` when an alias names a product the catalog does not have.
    """

    def __init__(self, products: Iterable[Product], aliases: Mapping[str, str] | None = None):
        index: dict[tuple[str, str], list[str]] = {}
        slugs: set[str] = set()
        for product in products:
            slugs.add(product.slug)
            for ecosystem, names in product.identifiers.packages.items():
                for name in names:
                    owners = index.setdefault((ecosystem, name), [])
                    if product.slug not in owners:
                        owners.append(product.slug)
        self._index = {key: tuple(owners) for key, owners in index.items()}
        self._aliases: dict[tuple[Ecosystem | None, str], str] = {}
        for key, slug in (aliases or {}).items():
            if slug not in slugs:
                raise CatalogError(f"alias names unknown product {slug!r}", key=f"aliases.{key}")
            self._aliases[_alias_key(key)] = slug
        self._alias_names = frozenset(name for _, name in self._aliases)

    def match_one(self, installed: InstalledPackage) -> Match | Unmatched:
        """The product ``installed`` belongs to, or why there is none."""
        owners = self._index.get((installed.source, installed.package), ())
        if len(owners) == 1:
            return Match(installed, owners[0], _vendor_version(installed), "identifier")
        # Most packages of a fleet are no product: one set lookup spares them two alias lookups.
        alias = None
        if installed.package in self._alias_names:
            alias = self._aliases.get((installed.source, installed.package)) or self._aliases.get(
                (None, installed.package)
            )
        if alias is not None:
            return Match(installed, alias, _vendor_version(installed), "alias")
        if owners:
            return Unmatched(installed, "ambiguous", owners)
        return Unmatched(installed, "unknown")

    def match(self, packages: Iterable[InstalledPackage]) -> MatchResult:
        """Every package of one inventory, split into matched and unmatched."""
        result = MatchResult()
        for installed in packages:
            outcome = self.match_one(installed)
            if isinstance(outcome, Match):
                result.matched.append(outcome)
            else:
                result.unmatched.append(outcome)
        return result


def _vendor_version(installed: InstalledPackage) -> str:
    scheme = SOURCE_SCHEME.get(installed.source)
    if scheme is None:
        return installed.version
    try:
        return upstream_version(scheme, installed.version)
    except InvalidVersion:
        # Kept as reported: answers will say it cannot be ordered rather than drop the host.
        return installed.version
