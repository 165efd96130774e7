"""Ids a person can type: tables show the shortest unique prefix (at least
:data:`SHORT`), and commands that take an id accept any unique prefix of one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from advisor.cli.common import USAGE, fail

SHORT = 8
"""Fewest characters a table shows of an id (git's habit; enough for a few thousand)."""


def short_ids(ids: Iterable[str], least: int = SHORT) -> dict[str, str]:
    """Each id's shortest prefix of at least ``least`` characters that no other id starts
    with (the whole id when it is shorter).

    >>> short_ids(["3f2a9c01d4", "3f2a9c01e7", "77ab10c2f9"], least=4)
    {'3f2a9c01d4': '3f2a9c01d', '3f2a9c01e7': '3f2a9c01e', '77ab10c2f9': '77ab'}
    """
    ordered = sorted(set(ids))
    shortest: dict[str, str] = {}
    for i, name in enumerate(ordered):
        # Only the neighbours in sorted order can share the longest prefix with it.
        shared = max(
            (_common(name, ordered[j]) for j in (i - 1, i + 1) if 0 <= j < len(ordered)),
            default=0,
        )
        shortest[name] = name[: max(least, shared + 1)]
    return shortest


def resolve(given: str, ids: Iterable[str], what: str) -> str:
    """The one id in ``ids`` that is ``given`` or starts with it.

    No match is an error (status 1) naming ``what``; several are a usage error (status 2)
    listing a few, so the admin types more characters instead of acting on the wrong one.
    """
    known = list(ids)
    if given in known:
        return given
    matches = sorted(name for name in known if given and name.startswith(given))
    if not matches:
        fail(f"no {what} {given}")
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        fail(
            f"{what} id {given!r} is ambiguous: it starts {len(matches)} ids ({shown});"
            " type more of it",
            USAGE,
        )
    return matches[0]


def finding_id(key: str) -> str:
    """A short, stable id for a finding, whose key is long and starts like its siblings'.

    >>> finding_id("trend|writer")
    'dfebd9945469'
    """
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
