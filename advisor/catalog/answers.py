"""The questions the advisor asks the catalog about one installed version, answered purely.

``now`` is always passed in. A cycle is *end-of-life* on ``now`` when its ``end_of_life`` is
``True`` or a date on or before ``now``; it is *supported* when it has been released and is not
end-of-life. A cycle whose end of life is unknown (``None``) counts as supported: the sources
say so for current releases, and calling it end-of-life would be a guess.

The upgrade cost per seat is IT labour (install hours of the roll-out method times the labour
rate) plus licence: nothing for ``free`` and ``subscription_paid``; one year's price for
``per_seat_year`` (the seat needs a running subscription); the seat price for
``perpetual_seat`` only when the upgrade leaves the installed cycle (a new major version is a
new licence, a patch is not). Without a price the licence part is unknown, and so is the total.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from advisor.catalog.costs import CostSettings
from advisor.catalog.errors import InvalidVersion
from advisor.catalog.model import Milestone, Price, ProductRecord, ProductVersion, ReleaseCycle
from advisor.catalog.versions import Scheme, compare_versions, is_valid, sort_versions


@dataclass(frozen=True, slots=True)
class UpgradeCost:
    """Per-seat cost of one upgrade. ``licence`` and ``total`` are None when unknown."""

    labour: Decimal
    licence: Decimal | None
    total: Decimal | None
    currency: str
    price_as_of: dt.date | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class UpgradeAnswer:
    """What the catalog says about ``installed`` of ``product`` on ``now``.

    ``newer``: released versions newer than the installed one, oldest first.
    ``newest_supported``: the newest version in a supported cycle (None if none is known).
    ``end_of_life_on``: the installed cycle's end-of-life date when known; ``end_of_life`` and
    ``end_of_life_soon`` (within the horizon asked for) are the verdicts.
    """

    product: str
    installed: str
    cycle: str | None
    newer: tuple[ProductVersion, ...]
    newest_in_cycle: str | None
    newest_supported: str | None
    end_of_life: bool
    end_of_life_soon: bool
    end_of_life_on: dt.date | None
    cost_per_seat: UpgradeCost | None


def _reached(milestone: Milestone, now: dt.date) -> bool:
    if isinstance(milestone, bool):
        return milestone
    return milestone is not None and milestone <= now


def is_end_of_life(cycle: ReleaseCycle, now: dt.date) -> bool:
    """Whether ``cycle`` gets no more security fixes on ``now``."""
    return _reached(cycle.end_of_life, now)


def is_supported(cycle: ReleaseCycle, now: dt.date) -> bool:
    """Whether ``cycle`` is released and not end-of-life on ``now``."""
    released = cycle.release_date is None or cycle.release_date <= now
    return released and not is_end_of_life(cycle, now)


def supported_cycles(record: ProductRecord, now: dt.date) -> list[ReleaseCycle]:
    """The product's cycles supported on ``now``, in the source's order (newest first)."""
    return [cycle for cycle in record.cycles if is_supported(cycle, now)]


def _continues(version: str, prefix: str) -> bool:
    """Whether ``version`` is in the cycle named ``prefix``: ``15.18`` in ``15``, ``8u501``
    in ``8``, but ``3.11.2`` not in ``3.1``: the cycle name must end where a token ends."""
    if not version.startswith(prefix):
        return False
    rest = version[len(prefix) :]
    if not rest:
        return True
    return not (rest[0].isdigit() and prefix[-1].isdigit()) and not (
        rest[0].isalpha() and prefix[-1].isalpha()
    )


_CYCLE_NAME = re.compile(r"[0-9A-Za-z]")


def cycle_of(record: ProductRecord, version: str) -> ReleaseCycle | None:
    """The cycle ``version`` belongs to: the longest cycle name it starts with, token-wise.

    Cycle names that are not version prefixes (Windows' ``11-24h2-e-lts``) match nothing, and
    then None is returned rather than a guess.
    """
    candidates = [
        cycle
        for cycle in record.cycles
        if _CYCLE_NAME.match(cycle.name) and _continues(version, cycle.name)
    ]
    return max(candidates, key=lambda cycle: len(cycle.name), default=None)


def _released(versions: Iterable[ProductVersion], now: dt.date) -> list[ProductVersion]:
    return [v for v in versions if v.release_date is None or v.release_date <= now]


def _latest_on(cycle: ReleaseCycle, now: dt.date) -> str | None:
    """The cycle's latest version as the source names it, if it was out on ``now``: a source
    fetched in August names August's release, which a replay of April must not offer."""
    if cycle.latest_release_date is not None and cycle.latest_release_date > now:
        return None
    return cycle.latest


def _newest(scheme: Scheme, versions: Iterable[str]) -> str | None:
    valid = [version for version in versions if is_valid(scheme, version)]
    return sort_versions(scheme, valid)[-1] if valid else None


def upgrade_cost(
    price: Price | None, costs: CostSettings, method: str, *, leaves_cycle: bool
) -> UpgradeCost:
    """The per-seat cost of an upgrade rolled out by ``method`` (see the module docstring)."""
    labour = costs.labour_cost(method)
    if price is None:
        return UpgradeCost(labour, None, None, costs.currency, None, "no licence price known")
    if price.currency != costs.currency:
        # No exchange rates here: converting silently would invent a number.
        note = f"licence priced in {price.currency}, costs in {costs.currency}"
        return UpgradeCost(labour, price.amount, None, costs.currency, price.as_of, note)
    licence = Decimal(0)
    if price.licence == "per_seat_year" or (price.licence == "perpetual_seat" and leaves_cycle):
        licence = price.amount
    return UpgradeCost(labour, licence, labour + licence, costs.currency, price.as_of)


def answer(
    record: ProductRecord,
    installed: str,
    now: dt.date,
    *,
    horizon_days: int = 90,
    costs: CostSettings | None = None,
    method: str = "package_manager",
) -> UpgradeAnswer:
    """What is newer than ``installed`` (a vendor version, see :mod:`matching`) on ``now``.

    ``horizon_days`` sets "end of life soon". The cost is that of moving to the newest
    supported version, and is left out without ``costs`` or when nothing newer is supported.
    Raises :class:`InvalidVersion` when ``installed`` is not valid in the product's scheme.
    """
    scheme = record.product.version_scheme
    if not is_valid(scheme, installed):
        raise InvalidVersion(scheme, installed, source=record.product.slug)
    released = _released(record.versions, now)
    candidates = [
        v
        for v in released
        if is_valid(scheme, v.version) and compare_versions(scheme, v.version, installed) > 0
    ]

    def by_version(a: ProductVersion, b: ProductVersion) -> int:
        return compare_versions(scheme, a.version, b.version)

    newer = tuple(sorted(candidates, key=functools.cmp_to_key(by_version)))
    cycle = cycle_of(record, installed)
    in_cycle = (
        _newest(scheme, [v.version for v in released if _continues(v.version, cycle.name)])
        if cycle
        else None
    )
    supported_latest = [
        _latest_on(c, now)
        or _newest(scheme, [v.version for v in released if _continues(v.version, c.name)])
        for c in supported_cycles(record, now)
    ]
    newest_supported = _newest(scheme, [v for v in supported_latest if v])
    eol_on = cycle.end_of_life if cycle and isinstance(cycle.end_of_life, dt.date) else None
    eol = cycle is not None and is_end_of_life(cycle, now)
    soon = eol or (eol_on is not None and eol_on <= now + dt.timedelta(days=horizon_days))
    cost = None
    if (
        costs is not None
        and newest_supported is not None
        and compare_versions(scheme, newest_supported, installed) > 0
    ):
        target = cycle_of(record, newest_supported)
        leaves = cycle is None or target is None or target.name != cycle.name
        cost = upgrade_cost(record.price, costs, method, leaves_cycle=leaves)
    return UpgradeAnswer(
        product=record.product.slug,
        installed=installed,
        cycle=cycle.name if cycle else None,
        newer=newer,
        newest_in_cycle=in_cycle,
        newest_supported=newest_supported,
        end_of_life=eol,
        end_of_life_soon=soon,
        end_of_life_on=eol_on,
        cost_per_seat=cost,
    )
