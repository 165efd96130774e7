"""A remedy: one candidate change for one problem, before it is valued.

Made by :mod:`advisor.recommend.software` and :mod:`advisor.recommend.hardware` (the rules:
:mod:`advisor.recommend.remedies`); valued by :mod:`advisor.recommend.benefit` and
:mod:`advisor.recommend.pricing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from advisor.analysis.findings import Finding
from advisor.recommend.evidence import Change

__all__ = ["ALL_APPS", "Category", "HardwarePlan", "Kind", "Remedy", "hosts_phrase"]

Kind = Literal["upgrade", "rollback", "end_of_life", "ram", "ssd", "ram_ssd", "replace"]
Category = Literal["regression", "right_sizing", "lifecycle"]
ALL_APPS = "*"
"""The app of a hardware remedy: a faster disk serves every app."""


@dataclass(frozen=True)
class HardwarePlan:
    """What a hardware remedy installs per host (host codes, sorted): RAM GiB to add and
    of which module type, the SSD's size in GB, the replacement's machine class (None:
    not part of the remedy)."""

    hosts: tuple[int, ...]
    ram_add_gib: tuple[int, ...] | None = None
    ram_type: tuple[str, ...] | None = None
    ssd_gb: int | None = None
    machine_class: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Remedy:
    """One candidate change (module docstring). ``hosts`` are host codes, ``apps`` the app
    codes its saving is measured on; ``fallback`` findings' effects stand in for the saving
    when the fleet cannot tell it; ``target_version``/``from_version`` are vendor versions
    (software only); ``methods`` the roll-out methods priced (labour, downtime)."""

    key: str
    kind: Kind
    category: Category
    app: str
    target: str
    scope: str
    group: str
    title: str
    hosts: tuple[int, ...]
    apps: tuple[int, ...]
    change: Change
    findings: tuple[Finding, ...]
    fallback: tuple[Finding, ...] = ()
    flags: tuple[str, ...] = ()
    from_version: str | None = None
    target_version: str | None = None
    methods: tuple[str, ...] = ()
    hardware: HardwarePlan | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def hosts_phrase(n: int, noun: str = "host") -> str:
    """``3 hosts``, ``1 host``.

    >>> hosts_phrase(1), hosts_phrase(4, "old machine")
    ('1 host', '4 old machines')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
