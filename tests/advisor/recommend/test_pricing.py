"""Costs: licence, hardware, labour and downtime, once and yearly, never guessed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

import pytest

from advisor.analysis.frames import FleetData
from advisor.catalog.model import Price, ProductRecord
from advisor.catalog.no_fee import shipped_no_fee
from advisor.recommend.engine import Recommendation, build_inputs, recommend
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.pricing import Cost, CostPart, economics
from advisor.recommend.vendor import RecordCatalog
from tests.advisor.analysis.fleetframes import Rollout, Spec, build
from tests.advisor.recommend.fleets import (
    OLD_VERSIONS,
    costs,
    finding,
    hosts_on,
    old_fleet,
    record,
    regressed_fleet,
    regression,
    run,
)


def test_a_yearly_subscription_is_a_recurring_cost_that_the_score_pays_every_year() -> None:
    spec, data = regressed_fleet(fix_share=0.3)
    on2 = hosts_on(data, 0, "2.0")
    yearly = Price("per_seat_year", Decimal("150.00"), "USD", dt.date(2026, 1, 15), "quote")

    _, [free] = run(data, [regression(data, on2)], {"app0": record()}, spec.now)
    _, [paid] = run(data, [regression(data, on2)], {"app0": record(price=yearly)}, spec.now)

    [licence] = [p for p in paid.cost.parts if p.item == "licence"]
    assert licence.recurring
    assert licence.amount == Decimal("150.00") * len(on2)
    assert paid.cost.recurring_per_year == licence.amount
    assert paid.cost.one_off == free.cost.one_off
    assert paid.score == free.score - float(licence.amount)
    assert "a year" in paid.explanation


def test_a_price_the_list_lacks_leaves_the_cost_incomplete_never_guessed() -> None:
    spec, data, findings = old_fleet()
    params = RecommendParameters(machine_class="kiosk")

    _, recs = run(data, findings, {}, spec.now, params)

    [replace, *_] = [r for r in recs if r.kind == "replace"]
    [machine] = [p for p in replace.cost.parts if p.item == "hardware"]
    assert machine.amount is None
    assert machine.source == "no kiosk price"
    assert not replace.cost.complete
    assert "cost_incomplete" in replace.flags
    assert replace.cost.one_off == sum(
        (p.amount for p in replace.cost.parts if p.amount is not None), Decimal(0)
    )
    assert "not priced: machine kiosk" in replace.explanation


def test_a_benefit_below_the_yearly_cost_never_pays_back() -> None:
    price = Cost("USD", Decimal("100"), Decimal("50"), (), True)

    figures = economics(Decimal("40.00"), price, 3)

    assert figures.payback_months is None
    assert figures.net_benefit_per_year == Decimal("-43.33")
    assert figures.roi is not None
    assert figures.roi < 0
    assert economics(None, price, 3).net_benefit_per_year is None


# -- the no-fee list: a licence the organisation has not priced ------------------------------


def faster_fleet(app: str) -> tuple[Spec, FleetData, list[str]]:
    """A fleet whose first app is ``app``, half of its hosts moved to a faster 2.0: the
    others get an upgrade to 2.0 (returned: those hosts)."""
    spec = Spec(hosts=60, rollouts=(Rollout(effect=-0.25, share=0.5, day=20),))
    data = build(spec)
    launches = replace(data.launches, apps=[app, *data.launches.apps[1:]])
    return spec, replace(data, launches=launches), hosts_on(data, 0, "1.0")


def upgrade_of(
    app: str,
    records: dict[str, ProductRecord],
    packages: Sequence[tuple[str, str]] = (),
) -> tuple[Recommendation, CostPart, int]:
    """The upgrade of ``app`` 1.0 -> 2.0 on the hosts still on 1.0, priced with the shipped
    no-fee list and no organisation price but ``records``'; its licence part and seats."""
    spec, data, on1 = faster_fleet(app)
    faster = finding(
        "version_change",
        app,
        {"from_version": "1.0", "version": "2.0"},
        hosts_on(data, 0, "2.0"),
        effect=-0.25,
        cause="version",
        direction="faster",
        data=data,
    )
    settings = costs()
    catalog = RecordCatalog(
        records,
        today=dt.datetime.fromtimestamp(spec.now, dt.UTC).date(),
        costs=settings,
        no_fee=shipped_no_fee(),
        packages={app: list(packages)},
    )
    inputs = build_inputs(data, [faster], catalog, settings, now=spec.now)
    [upgrade] = [r for r in recommend(inputs, now=spec.now) if r.kind == "upgrade"]
    [licence] = [p for p in upgrade.cost.parts if p.item == "licence"]
    return upgrade, licence, len(on1)


def unpriced(app: str) -> dict[str, ProductRecord]:
    """The catalog's record of ``app`` (as endoflife.date gives it) without a price."""
    return {app: replace(record(app, versions=OLD_VERSIONS), price=None)}


@pytest.mark.parametrize(
    ("app", "records", "packages", "licence"),
    [
        ("libreoffice", unpriced("libreoffice"), (), "MPL-2.0"),
        ("thunderbird", {}, (("dpkg", "thunderbird"),), "MPL-2.0"),
        ("mail", {}, (("dpkg", "thunderbird"), ("dpkg", "thunderbird-l10n-de")), "MPL-2.0"),
        ("pdf", {}, (("dpkg", "evince"), ("flatpak", "org.gnome.Evince")), "GPL-2.0-or-later"),
    ],
)
def test_a_product_on_the_no_fee_list_costs_labour_only_and_says_where_that_comes_from(
    app: str, records: dict[str, ProductRecord], packages: tuple[tuple[str, str]], licence: str
) -> None:
    upgrade, part, seats = upgrade_of(app, records, packages)

    assert upgrade.cost.complete
    assert "cost_incomplete" not in upgrade.flags
    assert (part.amount, part.recurring, part.seats) == (Decimal(0), False, seats)
    assert part.source == f"no licence fee: {licence}, Fleetsight default list"
    assert part.as_of == dt.date(2026, 12, 7)
    labour = [p.amount for p in upgrade.cost.parts if p.item in ("labour", "downtime")]
    assert upgrade.cost.one_off == sum((a for a in labour if a is not None), Decimal(0)) > 0
    assert upgrade.cost.recurring_per_year == 0
    [priced] = [p for p in upgrade.document["cost"]["parts"] if p["item"] == "licence"]
    assert (priced["amount"], priced["source"], priced["as_of"]) == (
        "0",
        part.source,
        "2026-12-07",
    )


def test_an_organisation_price_wins_over_the_no_fee_list() -> None:
    yearly = Price("per_seat_year", Decimal("20.00"), "USD", dt.date(2026, 9, 1), "site licence")
    records = {"libreoffice": record("libreoffice", versions=OLD_VERSIONS, price=yearly)}

    upgrade, part, seats = upgrade_of("libreoffice", records)

    assert (part.amount, part.recurring, part.source) == (
        Decimal("20.00") * seats,
        True,
        "site licence",
    )
    assert upgrade.cost.recurring_per_year == part.amount


def test_a_product_the_organisation_names_keeps_its_own_unknown_price() -> None:
    # The catalog says this app is the organisation's own product: its packages do not make
    # it free, nor does the list guess from them.
    records = {"acme-mail": replace(record("acme-mail", versions=OLD_VERSIONS), price=None)}

    upgrade, part, _ = upgrade_of("acme-mail", records, (("dpkg", "thunderbird"),))

    assert part.amount is None
    assert "cost_incomplete" in upgrade.flags


@pytest.mark.parametrize(
    ("app", "packages"),
    [
        ("acme-cad", (("dpkg", "acme-cad"),)),
        ("suite", (("dpkg", "thunderbird"), ("dpkg", "gimp"))),  # two listed products
        ("mail", (("rpm", "thunderbird"),)),  # the list names Debian packages only
    ],
)
def test_a_product_neither_priced_nor_on_the_list_stays_unknown(
    app: str, packages: tuple[tuple[str, str]]
) -> None:
    upgrade, part, _ = upgrade_of(app, {}, packages)

    assert part.amount is None
    assert part.source == "the catalog has no price for this product"
    assert not upgrade.cost.complete
    assert "cost_incomplete" in upgrade.flags
    assert "not priced: licence" in upgrade.explanation
