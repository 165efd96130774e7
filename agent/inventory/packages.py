"""Parsers of package-manager output: text in, :mod:`agent.shared.wire` dataclasses out.

Pure functions, no I/O: :mod:`agent.inventory.software` runs the commands. Each list parser
returns a :class:`Parsed` result: the packages it understood and the 1-based numbers of the lines
it could not. A malformed line is skipped, never fatal, so one odd entry (a truncated write, a
format change in a new release) costs that entry only and the caller can log and count it.
Lines that are well formed but not packages (headers, warnings, blank lines, packages that are
not installed) are not counted as skipped.

Versions are kept exactly as the package manager prints them: ordering them (dpkg epochs, ``~``,
``+debNuM``, rpm's rules) is the advisor's job. The one exception is what the advisor would
refuse, with the whole batch: :func:`fit_installed` and :func:`fit_upgradable` escape control
characters and cut fields longer than its limits (package databases take any bytes).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from agent.shared.wire import InstalledPackage, UpgradablePackage
from agent.shared.wire_limits import MAX_APP, MAX_ORIGIN, MAX_PACKAGE, MAX_SHORT_NAME, MAX_VERSION
from agent.text import clean_name

T = TypeVar("T")

# dpkg-query's ${db:Status-Abbrev}: desired action, current status, error flag (blank or R).
_DPKG_STATUS = re.compile(r"[uihrp][ncHUFWti]R?")
_APT_UPGRADABLE = re.compile(
    r"(?P<package>[^/\s]+)/(?P<origin>\S+) (?P<candidate>\S+) (?P<arch>\S+)"
    r" \[upgradable from: (?P<installed>[^\]\s]+)\]"
)
_NO_VALUE = "(none)"


@dataclass(frozen=True, slots=True)
class Parsed(Generic[T]):
    """What a parser understood, and the 1-based line numbers it skipped as malformed.

    Example: ``Parsed(packages=[InstalledPackage("curl", "7.88.1-10", "dpkg")], skipped=[3])``.
    """

    packages: list[T]
    skipped: list[int] = field(default_factory=list)


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time: ``splitlines()`` would hold a desktop's 3,000 at
    once, beside the packages made from them."""
    for line in io.StringIO(text):
        yield line.rstrip("\r\n")


def _token(value: str) -> bool:
    """A non-empty field without whitespace: package names, versions and arches all are."""
    return bool(value) and not any(char.isspace() for char in value)


def parse_dpkg_query(text: str) -> Parsed[InstalledPackage]:
    """Parse ``dpkg-query -W`` with the format ``Package TAB Version TAB Architecture TAB
    db:Status-Abbrev`` (one package a line; see ``software.PACKAGE_LIST_COMMANDS``).

    Only installed packages are kept: those whose current status (the second letter of the
    abbreviation) is ``i``, whatever the desired action, so ``ii`` and held ``hi`` packages are
    in, removed-but-configured ``rc`` and half-installed ``iU`` ones are out.
    """
    packages: list[InstalledPackage] = []
    skipped: list[int] = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            skipped.append(number)
            continue
        name, version, arch, status = fields
        status = status.rstrip()
        if not (_token(name) and _token(version) and _DPKG_STATUS.fullmatch(status)):
            skipped.append(number)
            continue
        if arch and not _token(arch):
            skipped.append(number)
            continue
        if status[1] == "i":
            # Interned: thousands of packages share a handful of architecture names.
            packages.append(InstalledPackage(name, version, "dpkg", sys.intern(arch) or None))
    return Parsed(packages, skipped)


def parse_rpm_query(text: str) -> Parsed[InstalledPackage]:
    """Parse ``rpm -qa --queryformat '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n'``.

    Versions are rendered ``[epoch:]version-release`` (rpm prints ``(none)`` for an unset
    epoch). ``gpg-pubkey`` entries are imported signing keys, not software, and are left out.
    """
    packages: list[InstalledPackage] = []
    skipped: list[int] = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 5:
            skipped.append(number)
            continue
        name, epoch, version, release, arch = (item.strip() for item in fields)
        valid_epoch = epoch == _NO_VALUE or epoch.isdigit()
        if not (_token(name) and _token(version) and _token(release) and valid_epoch):
            skipped.append(number)
            continue
        if name == "gpg-pubkey":
            continue
        full = f"{version}-{release}" if epoch == _NO_VALUE else f"{epoch}:{version}-{release}"
        packages.append(
            InstalledPackage(
                name,
                full,
                "rpm",
                sys.intern(arch) if _token(arch) and arch != _NO_VALUE else None,
            )
        )
    return Parsed(packages, skipped)


def parse_flatpak_list(text: str) -> Parsed[InstalledPackage]:
    """Parse ``flatpak list --app --columns=application,version,branch,origin``.

    Flatpak separates columns with tabs when its output is not a terminal. An app that declares
    no version is reported with its branch (``stable``, ``master``) instead.
    """
    packages: list[InstalledPackage] = []
    skipped: list[int] = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip() or line.startswith("Application ID\t"):
            continue
        fields = [item.strip() for item in line.split("\t")]
        if len(fields) != 4 or not _token(fields[0]):
            skipped.append(number)
            continue
        application, version, branch, _origin = fields
        version = version or branch
        if not _token(version):
            skipped.append(number)
            continue
        packages.append(InstalledPackage(application, version, "flatpak"))
    return Parsed(packages, skipped)


def parse_snap_list(text: str) -> Parsed[InstalledPackage]:
    """Parse ``snap list``: a header, then Name, Version, Rev, Tracking, Publisher, Notes.

    Columns are padded with runs of spaces and no field contains a space, so each row splits on
    whitespace; rows with fewer than the three leading columns are skipped.
    """
    packages: list[InstalledPackage] = []
    skipped: list[int] = []
    for number, line in enumerate(_lines(text), start=1):
        fields = line.split()
        if not fields or fields[:2] == ["Name", "Version"]:
            continue
        if len(fields) < 3:
            skipped.append(number)
            continue
        packages.append(InstalledPackage(fields[0], fields[1], "snap"))
    return Parsed(packages, skipped)


def parse_apt_upgradable(text: str) -> Parsed[UpgradablePackage]:
    """Parse ``apt list --upgradable``.

    A row reads ``curl/oldstable 7.88.1-10+deb12u15 amd64 [upgradable from: 7.88.1-10+deb12u14]``;
    the origin is kept as printed (``oldstable,oldstable-security`` when several suites offer
    it). The ``Listing...`` header, apt's ``WARNING:`` about its CLI and ``N:`` notices are not
    packages and are passed over.
    """
    packages: list[UpgradablePackage] = []
    skipped: list[int] = []
    for number, line in enumerate(_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("Listing...", "WARNING:", "N: ")):
            continue
        match = _APT_UPGRADABLE.fullmatch(stripped)
        if match is None:
            skipped.append(number)
            continue
        packages.append(
            UpgradablePackage(
                package=match["package"],
                installed=match["installed"],
                candidate=match["candidate"],
                origin=match["origin"],
                arch=match["arch"],
                source="apt",
            )
        )
    return Parsed(packages, skipped)


def fit_installed(package: InstalledPackage) -> InstalledPackage:
    """``package`` as the advisor takes it: the same object when it already is (nearly always).

    >>> fit_installed(InstalledPackage("evil\\x1b[2J", "1.0", "dpkg")).package
    'evil\\\\x1b[2J'
    """
    name, version, arch = package.package, package.version, package.arch
    if (
        _fits(name, MAX_PACKAGE)
        and _fits(version, MAX_VERSION)
        and (arch is None or _fits(arch, MAX_SHORT_NAME))
    ):
        return package
    return InstalledPackage(
        clean_name(name, MAX_PACKAGE),
        clean_name(version, MAX_VERSION),
        package.source,
        None if arch is None else clean_name(arch, MAX_SHORT_NAME),
        None if package.app is None else clean_name(package.app, MAX_APP),
    )


def fit_upgradable(package: UpgradablePackage) -> UpgradablePackage:
    """Like :func:`fit_installed`, for an upgradable package."""
    origin, arch = package.origin, package.arch
    if (
        _fits(package.package, MAX_PACKAGE)
        and _fits(package.installed, MAX_VERSION)
        and _fits(package.candidate, MAX_VERSION)
        and (origin is None or _fits(origin, MAX_ORIGIN))
        and (arch is None or _fits(arch, MAX_SHORT_NAME))
    ):
        return package
    return UpgradablePackage(
        package=clean_name(package.package, MAX_PACKAGE),
        installed=clean_name(package.installed, MAX_VERSION),
        candidate=clean_name(package.candidate, MAX_VERSION),
        origin=None if origin is None else clean_name(origin, MAX_ORIGIN),
        arch=None if arch is None else clean_name(arch, MAX_SHORT_NAME),
        source=package.source,
    )


def _fits(value: str, limit: int) -> bool:
    return len(value) <= limit and value.isprintable()


def parse_version_output(text: str, pattern: str) -> str | None:
    """The first group of ``pattern`` (the whole match if it has no group) in ``APP --version``.

    >>> parse_version_output("LibreOffice 7.4.7.2 40(Build:2)", r"(\\d+(?:\\.\\d+)+)")
    '7.4.7.2'
    """
    match = re.search(pattern, text)
    if match is None:
        return None
    version = (match.group(1) if match.re.groups else match.group(0)) or ""
    # A pattern may match more than a version ("(.*)"): the advisor takes one line of 256.
    return clean_name(version.strip(), MAX_VERSION) or None
