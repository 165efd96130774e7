"""Version ordering per ecosystem, always by a well-kept library, never by hand.

Schemes and the library behind each:

- ``deb``: Debian policy ordering (epochs, ``~`` before everything, ``+debNuM``) by
  ``univers.versions.DebianVersion``; property-tested against ``dpkg --compare-versions``.
- ``rpm``: ``rpmvercmp`` rules (epoch, version, release; ``~`` and ``^``) by
  ``univers.versions.RpmVersion``.
- ``pep440``: Python packages, by ``packaging.version`` (the reference implementation).
- ``semver``: strict SemVer 2.0 by ``semver`` (python-semver); build metadata is ignored for
  precedence, as the specification says.
- ``calver``: calendar versions (``2024.10``, ``24.04``, ``26.2.2.2``) are dotted integers, so
  PEP 440 release segments order them numerically (``24.04`` < ``24.10`` < ``2024.1``) and
  pre-release words (``rc1``) still sort first; by ``packaging.version``.
- ``generic``: vendor versions that follow no published scheme (``8u501``, ``2402 CU4``,
  ``21.0.4+7``, ``10.0.26100``), by Maven's ComparableVersion (``univers.versions.MavenVersion``):
  numbers compare as numbers, ``alpha``/``beta``/``rc`` sort before the release and unknown
  words after it. On the 39 endoflife.date release-data files it orders every PEP 440-valid
  version as PEP 440 does except one (Oracle JDK ``1.1.7A``), and it also accepts the rest.

Why univers rather than python-debian + packaging + a semver library: univers (aboutcode, typed)
bundles maintained Debian, RPM and Maven comparators behind one ``Version`` API. The RPM part
is the deciding point: the alternatives are rpm's C bindings (not on PyPI) or ``rpm-vercmp``,
unmaintained since 2018. univers already depends on packaging and semver, so PEP 440 and strict
SemVer use those libraries directly and cost nothing extra. Its SemVer class is lenient
(coerces ``1.0`` to ``1.0.0``) and orders by build metadata, which is why ``semver`` is used.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal, get_args

import semver
from packaging import version as pep440
from univers import versions as uv

from advisor.catalog.errors import InvalidVersion

Scheme = Literal["deb", "rpm", "pep440", "semver", "calver", "generic"]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)

# Comparable objects; each parser returns values of one type that support < and ==.
_Parser = Callable[[str], Any]


def _univers(cls: type[uv.Version]) -> _Parser:
    def parse(text: str) -> Any:
        try:
            return cls(text)
        except (uv.InvalidVersion, ValueError) as exc:
            raise ValueError(text) from exc

    return parse


def _semver(text: str) -> Any:
    return semver.Version.parse(text)


def _pep440(text: str) -> Any:
    return pep440.Version(text)


_PARSERS: dict[Scheme, _Parser] = {
    "deb": _univers(uv.DebianVersion),
    "rpm": _univers(uv.RpmVersion),
    "pep440": _pep440,
    "semver": _semver,
    "calver": _pep440,
    "generic": _univers(uv.MavenVersion),
}


@functools.lru_cache(maxsize=65536)
def parse_version(scheme: Scheme, text: str) -> Any:
    """A comparable value for ``text`` under ``scheme``; raises :class:`InvalidVersion`.

    Values of one scheme compare with ``<``/``==``; values of different schemes do not mix.
    Cached: a fleet reports the same few thousand version strings over and over.
    """
    try:
        parser = _PARSERS[scheme]
    except KeyError:
        raise InvalidVersion(scheme, text) from None
    if not text or text != text.strip():
        raise InvalidVersion(scheme, text)
    try:
        return parser(text)
    except (ValueError, TypeError) as exc:
        raise InvalidVersion(scheme, text) from exc


def is_valid(scheme: Scheme, text: str) -> bool:
    """Whether ``text`` is a version ``scheme`` understands."""
    try:
        parse_version(scheme, text)
    except InvalidVersion:
        return False
    return True


def compare_versions(scheme: Scheme, left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` is older than, equal to or newer than ``right``.

    >>> compare_versions("deb", "1.0~rc1-1", "1.0-1")
    -1
    """
    a, b = parse_version(scheme, left), parse_version(scheme, right)
    if a < b:
        return -1
    if b < a:
        return 1
    return 0


def sort_versions(scheme: Scheme, versions: Iterable[str]) -> list[str]:
    """``versions`` oldest first; raises :class:`InvalidVersion` on the first bad one."""
    return sorted(versions, key=functools.cmp_to_key(functools.partial(compare_versions, scheme)))


def newest(scheme: Scheme, versions: Iterable[str]) -> str | None:
    """The newest of ``versions``, or None if there are none."""
    ordered = sort_versions(scheme, versions)
    return ordered[-1] if ordered else None


# rpm forbids hyphens inside version and release, so the first one ends the version.
_RPM_EVR = re.compile(r"(?:\d+:)?(?P<version>[^-]+)(?:-[^-]*)?")


@functools.lru_cache(maxsize=65536)
def upstream_version(scheme: Scheme, text: str) -> str:
    """The vendor's version inside a distribution package version.

    ``deb``: without epoch and Debian revision (``1:7.88.1-10+deb12u15`` -> ``7.88.1``);
    ``rpm``: without epoch and release (``1:3.0.7-27.el9`` -> ``3.0.7``); other schemes are
    the vendor's own versions already and come back unchanged.
    """
    if scheme == "deb":
        value = parse_version("deb", text).value
        return str(value.upstream)
    if scheme == "rpm":
        match = _RPM_EVR.fullmatch(text)
        if match is None:
            raise InvalidVersion("rpm", text)
        return match["version"]
    return text
