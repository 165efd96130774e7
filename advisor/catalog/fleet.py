"""The fleet against the catalog, purely: which hosts run outdated software, what is unmatched.

Input is plain data read by :mod:`advisor.store.catalog`: each host's installed
packages and what its package manager offers. A host × product is *outdated* on ``now`` when
a newer version is released (in the catalog or offered by the host's package manager), or its
installed cycle is end-of-life or will be within the horizon. Versions that cannot be ordered
in the product's scheme are returned apart (``unordered``), never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from advisor.catalog.answers import UpgradeAnswer, answer
from advisor.catalog.costs import CostSettings
from advisor.catalog.errors import InvalidVersion
from advisor.catalog.importers.packagemanager import MANAGER_SOURCE
from advisor.catalog.importers.packagemanager import _is_security as is_security
from advisor.catalog.matching import SOURCE_SCHEME, Match, Matcher
from advisor.catalog.model import ProductRecord
from advisor.catalog.versions import compare_versions, is_valid, upstream_version
from agent.shared.wire import InstalledPackage, UpgradablePackage

MAX_HORIZON_DAYS = 36500
_HORIZON = re.compile(r"(?P<count>\d{1,6})(?P<unit>[dw]?)")


def horizon_days(value: str) -> int:
    """Days in an "end of life soon" horizon: ``90d``, ``12w`` or ``90`` (days), at most
    :data:`MAX_HORIZON_DAYS`. Raises :class:`ValueError` with a sentence for anything else."""
    match = _HORIZON.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a number of days like '90d' or weeks like '12w'")
    days = int(match["count"]) * (7 if match["unit"] == "w" else 1)
    if days > MAX_HORIZON_DAYS:
        raise ValueError(f"{value!r} is more than {MAX_HORIZON_DAYS} days")
    return days


Status = Literal["end-of-life", "end-of-life soon", "behind"]

# How an upgrade of a package from each source is rolled out (costs.toml install_hours).
ROLL_OUT_METHOD: dict[str, str] = {
    "dpkg": "package_manager",
    "rpm": "package_manager",
    "flatpak": "package_manager",
    "snap": "package_manager",
    "command": "installer",
}


@dataclass(frozen=True, slots=True)
class HostPackage:
    """One installed package of one host, with the host's department."""

    host_id: str
    hostname: str
    department: str
    package: InstalledPackage


@dataclass(frozen=True, slots=True)
class OutdatedRow:
    """One host × product that is behind or (nearly) end-of-life.

    ``installed`` is the vendor version (``15.18``), ``package_version`` what the package
    manager calls it (``15.18-0+deb12u1``); ``latest`` the newest released version, ``offered``
    the vendor version the host's package manager offers (None: nothing offered).
    """

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
    status: Status
    end_of_life_on: dt.date | None
    cost_per_seat: Decimal | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class Unordered:
    """An installed version that cannot be compared with the product's versions, and why."""

    host_id: str
    product: str
    package: str
    version: str
    reason: str


NATIVE_PACKAGE = "a Debian-native package: its version is the packaging's, not the vendor's"
UNORDERABLE = "not a version the product's scheme can order"


def is_native_deb(source: str, version: str) -> bool:
    """Whether a dpkg (or apt) version belongs to a Debian-native package (no ``-revision``).

    Such packages (meta-packages like ``postgresql`` 15+248) carry the packaging's own version,
    not the vendor's, so they never stand for a vendor version.
    """
    return source in ("dpkg", "apt") and "-" not in version


@dataclass(frozen=True, slots=True)
class OutdatedReport:
    rows: list[OutdatedRow] = field(default_factory=list)
    unordered: list[Unordered] = field(default_factory=list)


def offer_key(host_id: str, offer: UpgradablePackage) -> tuple[str, str, str, str]:
    """The (host, installed source, package, arch) an offer upgrades."""
    return (
        host_id,
        MANAGER_SOURCE.get(offer.source, offer.source),
        offer.package,
        offer.arch or "",
    )


def _status(result: UpgradeAnswer, behind: bool) -> Status | None:
    if result.end_of_life:
        return "end-of-life"
    if result.end_of_life_soon:
        return "end-of-life soon"
    return "behind" if behind else None


def _offered(offer: UpgradablePackage | None, installed: InstalledPackage) -> str | None:
    if offer is None:
        return None
    scheme = SOURCE_SCHEME.get(installed.source)
    try:
        return upstream_version(scheme, offer.candidate) if scheme else offer.candidate
    except InvalidVersion:
        return None


def outdated(
    records: Mapping[str, ProductRecord],
    matcher: Matcher,
    packages: Iterable[HostPackage],
    offers: Mapping[tuple[str, str, str, str], UpgradablePackage],
    now: dt.date,
    *,
    horizon_days: int = 90,
    costs: CostSettings | None = None,
) -> OutdatedReport:
    """Every outdated host × product on ``now``, by department, host and product.

    ``offers`` maps :func:`offer_key` to the host's package manager offer. A product a host
    has in several packages (two architectures) is listed once.
    """
    report = OutdatedReport()
    answers: dict[tuple[str, str, str], UpgradeAnswer | None] = {}
    seen: set[tuple[str, str, str]] = set()
    for item in packages:
        match = matcher.match_one(item.package)
        if not isinstance(match, Match) or match.product not in records:
            continue
        if is_native_deb(item.package.source, item.package.version):
            report.unordered.append(
                Unordered(
                    item.host_id,
                    match.product,
                    item.package.package,
                    item.package.version,
                    NATIVE_PACKAGE,
                )
            )
            continue
        once = (item.host_id, match.product, match.version)
        if once in seen:
            continue
        seen.add(once)
        record = records[match.product]
        method = ROLL_OUT_METHOD.get(item.package.source, "installer")
        cache_key = (match.product, match.version, method)
        if cache_key not in answers:
            try:
                answers[cache_key] = answer(
                    record,
                    match.version,
                    now,
                    horizon_days=horizon_days,
                    costs=costs,
                    method=method,
                )
            except InvalidVersion:
                answers[cache_key] = None
        result = answers[cache_key]
        if result is None:
            report.unordered.append(
                Unordered(
                    item.host_id, match.product, item.package.package, match.version, UNORDERABLE
                )
            )
            continue
        pkg = item.package
        offer = offers.get((item.host_id, pkg.source, pkg.package, pkg.arch or ""))
        offered = _offered(offer, pkg)
        scheme = record.product.version_scheme
        offered_newer = (
            offered is not None
            and is_valid(scheme, offered)
            and compare_versions(scheme, offered, match.version) > 0
        )
        status = _status(result, bool(result.newer) or offered_newer)
        if status is None:
            continue
        cost = result.cost_per_seat
        report.rows.append(
            OutdatedRow(
                department=item.department,
                host_id=item.host_id,
                hostname=item.hostname,
                product=match.product,
                package=pkg.package,
                package_version=pkg.version,
                installed=match.version,
                cycle=result.cycle,
                latest=result.newer[-1].version if result.newer else None,
                newest_in_cycle=result.newest_in_cycle,
                newest_supported=result.newest_supported,
                offered=offered if offered_newer else None,
                offered_security=bool(offered_newer and offer and is_security(offer.origin)),
                status=status,
                end_of_life_on=result.end_of_life_on,
                cost_per_seat=cost.total if cost else None,
                currency=cost.currency if cost else None,
            )
        )
    report.rows.sort(key=lambda row: (row.department, row.hostname, row.host_id, row.product))
    return report


@dataclass(frozen=True, slots=True)
class UnmatchedPackage:
    """An installed package no product claims (or several do), and on how many hosts."""

    source: str
    package: str
    hosts: int
    reason: str
    candidates: tuple[str, ...] = ()


def unmatched(matcher: Matcher, counts: Iterable[tuple[str, str, int]]) -> list[UnmatchedPackage]:
    """The (source, package, hosts) ``counts`` that match no product, most widespread first."""
    result = []
    for source, package, hosts in counts:
        outcome = matcher.match_one(InstalledPackage(package, "0", source))  # type: ignore[arg-type]
        if isinstance(outcome, Match):
            continue
        result.append(UnmatchedPackage(source, package, hosts, outcome.reason, outcome.candidates))
    result.sort(key=lambda item: (-item.hosts, item.source, item.package))
    return result


def offers_a_vendor_version(item: UpgradablePackage) -> bool:
    """Whether a package manager's offer is a new vendor version: not a Debian-native
    package, nor a new package revision of the installed vendor version."""
    source = MANAGER_SOURCE.get(item.source)
    scheme = SOURCE_SCHEME.get(source) if source else None
    if scheme is None:
        return True
    if scheme == "deb" and is_native_deb(item.source, item.candidate):
        return False
    try:
        return upstream_version(scheme, item.candidate) != upstream_version(scheme, item.installed)
    except InvalidVersion:
        return True
