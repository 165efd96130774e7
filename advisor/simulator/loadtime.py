"""The load-time model without its noise: the median a launch is drawn around.

Median = base x hardware tier (CPU class, RAM, disk on cold starts) x version x cold factor
x scripted ramps at ``t``. :mod:`advisor.simulator.launches` draws each launch's duration as
this median times log-normal noise, and :mod:`advisor.simulator.counterfactual` asks it what
the median would be on other hardware or another version: both go through
:func:`median_load_seconds`, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from advisor.simulator.fleet import Ramp, SimHost
from advisor.simulator.scenario import App, Tier

CPU_FACTOR = {"low": 1.3, "mid": 1.0, "high": 0.85}
DISK_COLD_FACTOR = {"hdd": 2.0, "ssd": 1.0}
DISK_WARM_FACTOR = {"hdd": 1.05, "ssd": 1.0}


def ram_factor(memory_gb: int) -> float:
    """Load-time factor of a RAM size: small machines page more while loading."""
    if memory_gb <= 4:
        return 1.12
    if memory_gb <= 8:
        return 1.03
    return 1.0


def tier_factor(tier: Tier, cold: bool) -> float:
    """The load-time factor of a hardware tier for a cold or warm start."""
    disk = DISK_COLD_FACTOR[tier.disk] if cold else DISK_WARM_FACTOR[tier.disk]
    return CPU_FACTOR[tier.cpu] * ram_factor(tier.memory_gb) * disk


def hardware_factor(host: SimHost, cold: bool) -> float:
    """The load-time factor of the host's hardware tier for a cold or warm start."""
    return tier_factor(host.tier, cold)


def median_load_seconds(
    app: App, tier: Tier, version_factor: float, ramps: Iterable[Ramp], cold: bool, t: float
) -> float:
    """The median load time of ``app`` at ``t`` on ``tier`` with a version whose factor (for
    this start kind) is ``version_factor``, under those of ``ramps`` that touch the app.

    The multiplications run in one fixed order: a seed's launches depend on it to the bit.
    """
    median = app.base_seconds * tier_factor(tier, cold) * version_factor
    if cold:
        median *= app.cold_factor
    for ramp in ramps:
        if ramp.apps is None or app.name in ramp.apps:
            median *= 1.0 + ramp.effect(cold) * ramp.progress(t)
    return median
