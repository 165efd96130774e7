from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from advisor.catalog.costs import load_costs, parse_costs
from advisor.catalog.errors import CostsError

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "costs.toml"


def test_it_loads_the_shipped_cost_defaults_with_dates_and_sources() -> None:
    costs = load_costs(SHIPPED)
    assert costs.currency == "USD"
    assert costs.ram_per_gb["DDR4"].amount == Decimal("7.50")
    assert costs.ssd[1000].amount == Decimal("118.00")
    assert costs.ssd[1000].as_of == dt.date(2026, 1, 31)
    assert all(price.source for price in costs.machines.values())
    assert all(price.estimate for price in costs.machines.values())
    assert not costs.ram_per_gb["DDR5"].estimate
    assert costs.labour_cost("package_manager") == Decimal("0.1") * Decimal("29.59")
    assert costs.wage_for("finance") == costs.default_wage


def test_it_names_the_file_and_key_of_a_bad_price() -> None:
    text = SHIPPED.read_text().replace('per_gb = "11.72"', 'per_gb = "cheap"')
    with pytest.raises(CostsError, match=r"^costs\.toml: hardware\.ram\.2\.per_gb: "):
        parse_costs(text, "costs.toml")


def test_it_names_a_missing_key() -> None:
    text = SHIPPED.read_text().replace('currency = "USD"\n', "")
    with pytest.raises(CostsError, match=r"costs\.toml: currency: Field required"):
        parse_costs(text, "costs.toml")


def test_it_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CostsError, match=r"nope\.toml: cannot read"):
        load_costs(tmp_path / "nope.toml")
