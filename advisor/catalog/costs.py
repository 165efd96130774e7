"""Cost settings and the hardware price list (``config/costs.toml``) as frozen values.

Every price is a :class:`DatedPrice`: an amount with the day it was true, its source, and
whether it is an estimate, so a recommendation can show how old its cost figures are. Money is
:class:`~decimal.Decimal`; amounts are strings or numbers in the file (strings keep cents exact).
:func:`parse_costs` is pure; :func:`load_costs` reads the file. Errors are
:class:`~advisor.catalog.errors.CostsError` naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor.catalog.errors import CostsError
from advisor.catalog.validation import first_error

DEFAULT_COSTS_PATH = Path("config/costs.toml")

_Money = Annotated[Decimal, Field(ge=0)]


@dataclass(frozen=True, slots=True)
class DatedPrice:
    """An amount in the settings' currency, true on ``as_of`` according to ``source``."""

    amount: Decimal
    as_of: dt.date
    source: str
    estimate: bool = False


@dataclass(frozen=True, slots=True)
class CostSettings:
    """Labour, wages, working time and hardware prices, all in ``currency``.

    ``install_hours`` maps a roll-out method (``package_manager``, ``installer``, ``reimage``,
    ``ram``, ``ssd``, ``replace``) to IT hours per seat. ``ram_per_gb`` is keyed by module type
    (``DDR4``), ``ssd`` by size in GB, ``machines`` by class (``office-laptop``).
    """

    currency: str
    labour_rate: DatedPrice
    install_hours: dict[str, Decimal]
    default_wage: DatedPrice
    wages: dict[str, DatedPrice]
    working_days_per_year: int
    working_hours_per_day: Decimal
    ram_per_gb: dict[str, DatedPrice]
    ssd: dict[int, DatedPrice]
    machines: dict[str, DatedPrice]

    def wage_for(self, department: str | None) -> DatedPrice:
        """The hourly wage of ``department``, or the default when it has none configured."""
        return self.wages.get(department or "", self.default_wage)

    def labour_cost(self, method: str) -> Decimal:
        """IT labour per seat for ``method``; raises :class:`KeyError` for an unknown method."""
        return self.install_hours[method] * self.labour_rate.amount


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Price(_Strict):
    amount: _Money
    as_of: dt.date
    source: str = Field(min_length=1)
    estimate: bool = False

    def value(self) -> DatedPrice:
        return DatedPrice(self.amount, self.as_of, self.source, self.estimate)


class _Ram(_Strict):
    type: str = Field(min_length=1)
    per_gb: _Money
    as_of: dt.date
    source: str = Field(min_length=1)
    estimate: bool = False


class _Ssd(_Price):
    size_gb: int = Field(gt=0)


class _Machine(_Price):
    machine_class: str = Field(alias="class", min_length=1)


class _Hardware(_Strict):
    ram: list[_Ram]
    ssd: list[_Ssd]
    machine: list[_Machine]


class _Wages(_Strict):
    default: _Price
    departments: dict[str, _Price] = {}


class _Costs(_Strict):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    working_days_per_year: int = Field(gt=0, le=366)
    working_hours_per_day: Decimal = Field(gt=0, le=24)
    labour_rate: _Price
    install_hours: dict[str, Annotated[Decimal, Field(ge=0)]]
    wages: _Wages
    hardware: _Hardware


def parse_costs(text: str, source: str) -> CostSettings:
    """Cost settings from TOML ``text``; ``source`` names the file in errors."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CostsError(f"bad TOML: {exc}", source=source) from exc
    try:
        parsed = _Costs.model_validate(document)
    except ValidationError as exc:
        key, message = first_error(exc)
        raise CostsError(message, source=source, key=key) from exc
    hardware = parsed.hardware
    return CostSettings(
        currency=parsed.currency,
        labour_rate=parsed.labour_rate.value(),
        install_hours=dict(parsed.install_hours),
        default_wage=parsed.wages.default.value(),
        wages={name: price.value() for name, price in parsed.wages.departments.items()},
        working_days_per_year=parsed.working_days_per_year,
        working_hours_per_day=parsed.working_hours_per_day,
        ram_per_gb={
            ram.type: DatedPrice(ram.per_gb, ram.as_of, ram.source, ram.estimate)
            for ram in hardware.ram
        },
        ssd={ssd.size_gb: ssd.value() for ssd in hardware.ssd},
        machines={machine.machine_class: machine.value() for machine in hardware.machine},
    )


def load_costs(path: Path = DEFAULT_COSTS_PATH) -> CostSettings:
    """Read and parse the cost settings file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CostsError(f"cannot read: {exc.strerror}", source=str(path)) from exc
    return parse_costs(text, str(path))
