"""Product identifiers (purl, CPE, repology) turned into what matching looks up.

A purl names a package in an ecosystem (``pkg:deb/debian/firefox-esr``); matching needs the
package name per agent source (``dpkg: firefox-esr``). The distribution namespace is dropped on
purpose: a Debian machine's ``postgresql`` is the same product as Ubuntu's. ``pkg:generic/NAME``
names the software itself, which is what the agent reports for a ``--version`` command.
"""

from __future__ import annotations

from collections.abc import Iterable

from packageurl import PackageURL

from advisor.catalog.errors import CatalogError
from advisor.catalog.model import Ecosystem, Identifiers

# purl type -> agent source. Types without an agent source (docker, nuget, brew...) are kept
# as purls for reference but match nothing installed.
PURL_TYPE_TO_ECOSYSTEM: dict[str, Ecosystem] = {
    "deb": "dpkg",
    "rpm": "rpm",
    "flatpak": "flatpak",
    "snap": "snap",
    "generic": "command",
}


def build_identifiers(
    purls: Iterable[str],
    cpes: Iterable[str] = (),
    repology: str | None = None,
    packages: dict[Ecosystem, tuple[str, ...]] | None = None,
    *,
    source: str | None = None,
) -> Identifiers:
    """Identifiers with package names per ecosystem taken from ``purls`` plus ``packages``.

    Raises :class:`CatalogError` naming the purl when one does not parse.
    """
    purls = tuple(purls)
    by_ecosystem: dict[Ecosystem, list[str]] = {
        ecosystem: list(names) for ecosystem, names in (packages or {}).items()
    }
    for purl in purls:
        try:
            parsed = PackageURL.from_string(purl)
        except ValueError as exc:
            raise CatalogError(f"bad purl {purl!r}: {exc}", source=source, key="purl") from exc
        ecosystem = PURL_TYPE_TO_ECOSYSTEM.get(parsed.type)
        if ecosystem is not None:
            names = by_ecosystem.setdefault(ecosystem, [])
            if parsed.name not in names:
                names.append(parsed.name)
    return Identifiers(
        packages={ecosystem: tuple(names) for ecosystem, names in by_ecosystem.items()},
        purls=purls,
        cpes=tuple(cpes),
        repology=repology,
    )


def vendor_from_cpe(cpe: str) -> str | None:
    """The vendor field of a CPE 2.3 name or 2.2 URI (``cpe:2.3:a:mozilla:firefox`` -> mozilla).

    Vendors are plain words in the catalog's CPEs; an escaped or wildcard vendor gives None.
    """
    if cpe.startswith("cpe:2.3:"):
        fields = cpe.split(":")
        vendor = fields[3] if len(fields) > 3 else ""
    elif cpe.startswith("cpe:/"):
        fields = cpe[len("cpe:/") :].split(":")
        vendor = fields[1] if len(fields) > 1 else ""
    else:
        return None
    if not vendor or vendor in {"*", "-"} or "\\" in vendor:
        return None
    return vendor
