"""Versions the agents' package managers offer (``apt list --upgradable`` as reported).

The agent parses the command's output into :class:`agent.shared.wire.UpgradablePackage`; here
each one is matched to a catalog product like an installed package would be, and becomes an
:class:`OfferedVersion`: "this host could move product P from version A to version B with its
package manager". Packages that are no catalog product are returned apart, as matching does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from advisor.catalog.matching import SOURCE_SCHEME, Match, Matcher
from advisor.catalog.model import Ecosystem
from advisor.catalog.versions import upstream_version
from agent.shared.wire import InstalledPackage, UpgradablePackage

# The installed-package source behind each package manager that offers upgrades.
MANAGER_SOURCE: dict[str, Ecosystem] = {
    "apt": "dpkg",
    "dnf": "rpm",
    "flatpak": "flatpak",
    "snap": "snap",
}


@dataclass(frozen=True, slots=True)
class OfferedVersion:
    """A newer package version offered for a catalog product on one host.

    ``candidate`` is the package version as the manager prints it; ``vendor_version`` the
    vendor's version inside it. ``security`` is true when a security suite offers it
    (``oldstable-security``), which makes the upgrade urgent whatever it saves.
    """

    product: str
    package: str
    installed: str
    candidate: str
    vendor_version: str
    origin: str | None
    security: bool


@dataclass(frozen=True, slots=True)
class Offers:
    offered: list[OfferedVersion] = field(default_factory=list)
    unmatched: list[UpgradablePackage] = field(default_factory=list)


def _is_security(origin: str | None) -> bool:
    return origin is not None and any(
        suite.endswith(("-security", "/updates")) for suite in origin.split(",")
    )


def offered_versions(upgradable: Iterable[UpgradablePackage], matcher: Matcher) -> Offers:
    """The upgrades on offer, per catalog product; the rest listed as unmatched.

    Agents may report the same offer twice (two suites, a re-sent inventory); each package,
    architecture and candidate is reported once.
    """
    result = Offers()
    seen: set[tuple[str, str, str]] = set()
    for item in upgradable:
        key = (item.package, item.arch or "", item.candidate)
        if key in seen:
            continue
        seen.add(key)
        source = MANAGER_SOURCE.get(item.source)
        outcome = (
            matcher.match_one(InstalledPackage(item.package, item.installed, source, item.arch))
            if source is not None
            else None
        )
        if not isinstance(outcome, Match):
            result.unmatched.append(item)
            continue
        scheme = SOURCE_SCHEME.get(outcome.installed.source)
        vendor = upstream_version(scheme, item.candidate) if scheme else item.candidate
        result.offered.append(
            OfferedVersion(
                product=outcome.product,
                package=item.package,
                installed=item.installed,
                candidate=item.candidate,
                vendor_version=vendor,
                origin=item.origin,
                security=_is_security(item.origin),
            )
        )
    return result
