"""What a remedy costs, once and every year, and what that leaves of its benefit.

**Cost** = licence + hardware + labour + downtime, in the settings' currency
(``config/costs.toml``), as exact :class:`~decimal.Decimal` sums of the configured prices:

- **licence** per seat from the catalog (:meth:`VendorCatalog.licence`, the catalog's rule:
  a yearly subscription is a *recurring* cost, a perpetual seat one-off, a free product
  nothing); a roll-back needs none. A product the organisation's catalog has no price for
  but Fleetsight's no-fee list names (:mod:`advisor.catalog.no_fee`) costs nothing, and the
  part says where that comes from (source ``no licence fee: MPL-2.0, Fleetsight default
  list``, ``as_of`` the day the licence was checked); an imported price always wins;
- **hardware**: RAM, per host the GiB to add times the price per GB of its module type; an
  SSD of the planned size; a replacement machine of its class;
- **labour**: IT hours per seat of each roll-out method (``install_hours``) at the labour
  rate;
- **downtime**: the users' working time lost while the change is made (``downtime_hours``
  per method, :mod:`advisor.recommend.parameters`) at each host's department's wage.

A part without a price (no licence price in the catalog nor on the no-fee list, a module
type or machine class not in the price list) is listed with no amount and makes the cost
``complete=False``: the totals are then what is known, a lower bound, never a guess.

**Economics** over ``horizon_years`` (H, 3: a release's or a machine's useful life), with B
the expected benefit a year, R the recurring cost a year and O the one-off cost:

- net benefit a year = B - R - O / H (the one-off cost spread over the horizon);
- payback = O / ((B - R) / 12) months, when B > R (else never: None);
- ROI = (H (B - R) - O) / (O + H R), what the horizon returns per unit spent (None when
  nothing is spent).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from advisor.catalog.costs import CostSettings
from advisor.recommend.facts import FleetFacts
from advisor.recommend.impact import CENT
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.remedy import Remedy
from advisor.recommend.vendor import VendorCatalog

__all__ = ["Cost", "CostPart", "Economics", "cost", "economics"]

Item = Literal["licence", "hardware", "labour", "downtime"]


@dataclass(frozen=True, slots=True)
class CostPart:
    """One line of a cost: what, for how many seats, the amount (None: unknown), whether it
    recurs every year, and the price's date and source."""

    item: Item
    what: str
    seats: int
    amount: Decimal | None
    recurring: bool
    as_of: dt.date | None
    source: str
    estimate: bool = False


@dataclass(frozen=True, slots=True)
class Cost:
    """A remedy's cost (module docstring): the one-off and yearly totals of the known
    parts, and whether every part was known."""

    currency: str
    one_off: Decimal
    recurring_per_year: Decimal
    parts: tuple[CostPart, ...]
    complete: bool


@dataclass(frozen=True, slots=True)
class Economics:
    """Benefit against cost over ``horizon_years`` (module docstring); money to the cent,
    None where the benefit is unknown."""

    annual_benefit: Decimal | None
    net_benefit_per_year: Decimal | None
    payback_months: float | None
    roi: float | None
    horizon_years: int


def cost(
    remedy: Remedy,
    facts: FleetFacts,
    catalog: VendorCatalog,
    costs: CostSettings,
    params: RecommendParameters,
    *,
    only: Collection[int] | None = None,
) -> Cost:
    """What ``remedy`` costs (module docstring); ``only`` prices a subset of its hosts (a
    pilot's)."""
    hosts = [h for h in remedy.hosts if only is None or h in only]
    parts: list[CostPart] = []
    if remedy.from_version is not None and remedy.target_version is not None:
        parts.append(_licence(remedy, len(hosts), catalog, params))
    if remedy.hardware is not None:
        parts += _hardware(remedy, set(hosts), facts, costs)
    for method in remedy.methods:
        parts.append(_labour(method, len(hosts), costs))
        parts.append(_downtime(method, hosts, facts, costs, params))
    known = [p for p in parts if p.amount is not None]
    return Cost(
        currency=costs.currency,
        one_off=sum((p.amount for p in known if p.amount and not p.recurring), Decimal(0)),
        recurring_per_year=sum((p.amount for p in known if p.amount and p.recurring), Decimal(0)),
        parts=tuple(parts),
        complete=len(known) == len(parts),
    )


def _licence(
    remedy: Remedy, seats: int, catalog: VendorCatalog, params: RecommendParameters
) -> CostPart:
    assert remedy.from_version is not None
    assert remedy.target_version is not None
    if remedy.kind == "rollback":
        what = f"licence {remedy.target_version}"
        return CostPart("licence", what, seats, Decimal(0), False, None, "the seats ran it before")
    try:
        licence = catalog.licence(
            remedy.app, remedy.from_version, remedy.target_version, params.upgrade_method
        )
    except LookupError:
        return CostPart("licence", "licence", seats, None, False, None, "not in the catalog")
    amount = None if licence.per_seat is None else licence.per_seat * seats
    what = f"licence {remedy.target_version}" + (" (a year)" if licence.recurring else "")
    return CostPart(
        "licence", what, seats, amount, licence.recurring, licence.as_of, licence.source
    )


def _hardware(
    remedy: Remedy, hosts: set[int], facts: FleetFacts, costs: CostSettings
) -> list[CostPart]:
    plan = remedy.hardware
    assert plan is not None
    parts: list[CostPart] = []
    chosen = [i for i, h in enumerate(plan.hosts) if h in hosts]
    if plan.ram_add_gib is not None and plan.ram_type is not None:
        gib: Counter[str] = Counter()
        for i in chosen:
            gib[plan.ram_type[i]] += plan.ram_add_gib[i]
        for module, total in sorted(gib.items()):
            seats = sum(1 for i in chosen if plan.ram_type[i] == module)
            price = costs.ram_per_gb.get(module)
            what = f"RAM {total} GiB {module}"
            if price is None:
                parts.append(
                    CostPart("hardware", what, seats, None, False, None, f"no {module} price")
                )
                continue
            parts.append(
                CostPart(
                    "hardware",
                    what,
                    seats,
                    price.amount * total,
                    False,
                    price.as_of,
                    price.source,
                    price.estimate,
                )
            )
    if plan.ssd_gb is not None:
        price = costs.ssd.get(plan.ssd_gb)
        what = f"SSD {plan.ssd_gb} GB"
        if price is None:
            parts.append(CostPart("hardware", what, len(chosen), None, False, None, "no price"))
        else:
            parts.append(
                CostPart(
                    "hardware",
                    what,
                    len(chosen),
                    price.amount * len(chosen),
                    False,
                    price.as_of,
                    price.source,
                    price.estimate,
                )
            )
    if plan.machine_class is not None:
        classes = Counter(plan.machine_class[i] for i in chosen)
        for machine, seats in sorted(classes.items()):
            price = costs.machines.get(machine)
            what = f"machine {machine}"
            if price is None:
                parts.append(
                    CostPart("hardware", what, seats, None, False, None, f"no {machine} price")
                )
                continue
            parts.append(
                CostPart(
                    "hardware",
                    what,
                    seats,
                    price.amount * seats,
                    False,
                    price.as_of,
                    price.source,
                    price.estimate,
                )
            )
    return parts


def _labour(method: str, seats: int, costs: CostSettings) -> CostPart:
    rate = costs.labour_rate
    hours = costs.install_hours.get(method)
    what = f"IT labour ({method})"
    if hours is None:
        return CostPart("labour", what, seats, None, False, None, f"no install hours for {method}")
    return CostPart(
        "labour",
        f"IT labour ({method}, {hours} h a seat)",
        seats,
        hours * rate.amount * seats,
        False,
        rate.as_of,
        rate.source,
        rate.estimate,
    )


def _downtime(
    method: str,
    hosts: list[int],
    facts: FleetFacts,
    costs: CostSettings,
    params: RecommendParameters,
) -> CostPart:
    hours = params.downtime_hours.get(method)
    what = f"users' time ({method})"
    if hours is None:
        return CostPart(
            "downtime", what, len(hosts), None, False, None, f"no downtime hours for {method}"
        )
    departments = Counter(facts.hosts.department[h] for h in hosts)
    amount = sum(
        (hours * costs.wage_for(d or None).amount * n for d, n in departments.items()),
        Decimal(0),
    )
    wages = [costs.wage_for(d or None) for d in sorted(departments)]
    oldest = min((w.as_of for w in wages), default=None)
    return CostPart(
        "downtime",
        f"users' time ({method}, {hours} h a seat)",
        len(hosts),
        amount,
        False,
        oldest,
        "; ".join(sorted({w.source for w in wages})) or "wages",
        any(w.estimate for w in wages),
    )


def economics(annual_benefit: Decimal | None, price: Cost, horizon_years: int) -> Economics:
    """Net benefit a year, payback and ROI (module docstring).

    >>> from decimal import Decimal as D
    >>> e = economics(D("1200.00"), Cost("USD", D("600"), D("0"), (), True), 3)
    >>> e.net_benefit_per_year, e.payback_months, e.roi
    (Decimal('1000.00'), 6.0, 5.0)
    """
    if annual_benefit is None:
        return Economics(None, None, None, None, horizon_years)
    one_off, recurring = price.one_off, price.recurring_per_year
    yearly = annual_benefit - recurring
    net = (yearly - one_off / horizon_years).quantize(CENT, rounding=ROUND_HALF_EVEN)
    payback = round(float(one_off / (yearly / 12)), 1) if yearly > 0 else None
    spent = one_off + horizon_years * recurring
    roi = round(float((horizon_years * yearly - one_off) / spent), 3) if spent > 0 else None
    return Economics(annual_benefit, net, payback, roi, horizon_years)
