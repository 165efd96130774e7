"""Costs: licence, hardware, labour and downtime, once and yearly, never guessed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from advisor.catalog.model import Price
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.pricing import Cost, economics
from tests.advisor.recommend.fleets import (
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
