from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from advisor.catalog.answers import answer, cycle_of, upgrade_cost
from advisor.catalog.costs import CostSettings, load_costs
from advisor.catalog.errors import InvalidVersion
from advisor.catalog.model import (
    LicenceModel,
    Price,
    Product,
    ProductRecord,
    ProductVersion,
    ReleaseCycle,
)
from tests.advisor.catalog.conftest import SNAPSHOT

COSTS = Path(__file__).resolve().parents[3] / "config" / "costs.toml"


@pytest.fixture(scope="module")
def costs() -> CostSettings:
    return load_costs(COSTS)


def test_it_answers_for_postgresql_15_on_the_snapshot_date(
    endoflife_records: dict[str, ProductRecord], costs: CostSettings
) -> None:
    result = answer(endoflife_records["postgresql"], "15.18", SNAPSHOT, costs=costs)
    assert result.cycle == "15"
    assert result.newest_in_cycle == "15.19"
    assert result.newest_supported == "18.6"
    assert result.newer[0].version == "15.19"
    assert result.newer[-1].version == "18.6"
    assert not result.end_of_life
    assert result.end_of_life_on == dt.date(2027, 11, 11)
    assert not result.end_of_life_soon
    assert result.cost_per_seat is not None
    assert result.cost_per_seat.licence is None  # endoflife.date knows no prices


def test_it_says_when_the_installed_cycle_reaches_end_of_life_soon(
    endoflife_records: dict[str, ProductRecord],
) -> None:
    result = answer(endoflife_records["postgresql"], "14.20", SNAPSHOT, horizon_days=90)
    assert result.end_of_life_on == dt.date(2026, 11, 12)
    assert not result.end_of_life
    assert result.end_of_life_soon
    later = answer(endoflife_records["postgresql"], "14.20", dt.date(2026, 11, 12))
    assert later.end_of_life


def test_it_says_an_old_firefox_esr_is_end_of_life(
    endoflife_records: dict[str, ProductRecord],
) -> None:
    result = answer(endoflife_records["firefox"], "128.14.0esr", SNAPSHOT)
    assert result.cycle == "128"
    assert result.end_of_life
    assert result.newest_supported == "154.0"


def test_a_replay_never_offers_a_cycle_latest_released_after_its_day(
    endoflife_records: dict[str, ProductRecord],
) -> None:
    # The snapshot (August 2026) names 26.2.5 (2026-07-23) as 26.2's latest; on 2026-04-23
    # the newest 26.2 release out was 26.2.2.2 (2026-03-22).
    april = answer(endoflife_records["libreoffice"], "26.2.1.2", dt.date(2026, 4, 23))
    assert april.newest_supported == "26.2.2.2"
    august = answer(endoflife_records["libreoffice"], "26.2.1.2", SNAPSHOT)
    assert august.newest_supported == "26.2.5"


def test_it_ignores_versions_released_after_now(
    endoflife_records: dict[str, ProductRecord],
) -> None:
    before = answer(endoflife_records["postgresql"], "18.0", dt.date(2026, 1, 1))
    assert "18.6" not in [v.version for v in before.newer]


def test_it_picks_the_cycle_by_whole_tokens(endoflife_records: dict[str, ProductRecord]) -> None:
    python = endoflife_records["python"]
    found = cycle_of(python, "3.11.2")
    assert found is not None
    assert found.name == "3.11"
    assert cycle_of(endoflife_records["windows"], "10.0.26100") is None


def test_it_refuses_an_installed_version_its_scheme_rejects() -> None:
    record = ProductRecord(Product("erp", "ERP", version_scheme="semver"))
    with pytest.raises(InvalidVersion):
        answer(record, "5.x", SNAPSHOT)


def _erp(licence: LicenceModel, amount: str, currency: str = "USD") -> ProductRecord:
    return ProductRecord(
        Product("erp", "ERP", version_scheme="semver"),
        cycles=(
            ReleaseCycle("erp", "6", release_date=dt.date(2026, 1, 1), latest="6.1.0"),
            ReleaseCycle("erp", "5", release_date=dt.date(2025, 1, 1), end_of_life=True),
        ),
        versions=(ProductVersion("erp", "6.1.0"), ProductVersion("erp", "5.2.0")),
        price=Price(licence, Decimal(amount), currency, dt.date(2026, 2, 1)),
    )


@pytest.mark.parametrize(
    ("licence", "amount", "expected_licence"),
    [
        ("free", "0", Decimal(0)),
        ("subscription_paid", "0", Decimal(0)),
        ("per_seat_year", "150", Decimal(150)),
        ("perpetual_seat", "400", Decimal(400)),
    ],
)
def test_it_costs_an_upgrade_per_seat_by_licence_model(
    costs: CostSettings, licence: LicenceModel, amount: str, expected_licence: Decimal
) -> None:
    result = answer(_erp(licence, amount), "5.2.0", SNAPSHOT, costs=costs, method="installer")
    cost = result.cost_per_seat
    assert cost is not None
    labour = Decimal("0.5") * Decimal("29.59")
    assert cost.licence == expected_licence
    assert cost.total == labour + expected_licence
    assert cost.price_as_of == dt.date(2026, 2, 1)


def test_it_charges_no_perpetual_licence_within_a_cycle(costs: CostSettings) -> None:
    price = Price("perpetual_seat", Decimal(400), "USD", dt.date(2026, 2, 1))
    cost = upgrade_cost(price, costs, "package_manager", leaves_cycle=False)
    assert cost.licence == Decimal(0)


def test_it_leaves_the_total_open_when_currencies_differ(costs: CostSettings) -> None:
    result = answer(_erp("per_seat_year", "150", "EUR"), "5.2.0", SNAPSHOT, costs=costs)
    assert result.cost_per_seat is not None
    assert result.cost_per_seat.total is None
    assert result.cost_per_seat.note == "licence priced in EUR, costs in USD"
