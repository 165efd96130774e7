"""The inventory shows what is installed and what the repository offers."""

from __future__ import annotations

from advisor.simulator.inventory import InventoryBuilder

from .fleets import LIBREOFFICE, chain_fleet


def test_the_inventory_offers_the_newest_published_version_once() -> None:
    fleet = chain_fleet()
    t = fleet.at(0.5)  # the fix's pilot has started: 26.2.5 is published
    host = next(h for h in fleet.hosts if h.version_at("libreoffice", t).version == LIBREOFFICE[0])
    offered = InventoryBuilder(fleet, host).at(t, t).upgradable
    office = [u for u in offered if u.package == "libreoffice-core"]
    assert [(u.installed, u.candidate) for u in office] == [(LIBREOFFICE[0], LIBREOFFICE[2])]
    fixed = next(h for h in fleet.hosts if h.version_at("libreoffice", t).version == LIBREOFFICE[2])
    assert not [
        u
        for u in InventoryBuilder(fleet, fixed).at(t, t).upgradable
        if u.package == "libreoffice-core"
    ]
