"""What a host's median load time would be with other hardware or another version.

The simulator knows how it makes every launch (:mod:`advisor.simulator.loadtime`), so it can
answer the counterfactual an upgrade recommendation predicts: the noise-free median load time
of an app on a host at ``t``, as it is and under a :class:`Change`; their difference is the
true saving the recommendation should have predicted::

    saving = true_saving(fleet, ["3f2a..."], "libreoffice", cold=True, t=fleet.end,
                         change=Change(disk="ssd"))   # {"3f2a...": 1.62} seconds a launch

A change replaces the host's tier by one with the changed disk, RAM or CPU class, and the
installed version's factor by the changed version's; it drops the scripted ramps it takes
away, by the rule of the event that made each ramp (an event hits the hosts that meet its
condition; a changed host that no longer meets it is no longer hit):

- **memory pressure** (``memory``, ``swap``) hits hosts with at most ``max_memory_gb`` of RAM:
  RAM above that removes it; less (4 -> 8 GB under an 8 GB event) leaves it at full strength;
- **a filling disk** (``disk_io``) is the root disk of a host with the event's disk kind: a
  disk of the other kind is a new, empty drive, so it removes the ramp;
- **a slow trend** (``cpu``) is the app's own background work growing (an index, a
  profile): another CPU class runs it faster, as it runs everything (the class's factor),
  but the work still grows, so the trend stays;
- a version change removes no ramp: none of them comes from the version.

The changed version's factor (against the app's first version, as
:class:`~advisor.simulator.fleet.Installed` holds it: the product of the steps that brought
the host there): the host's own, if the version is on the host at some point of the run (the
entry in force at ``t``, else the last before it, else the first after it), which covers the
app's first version (factor 1); else what the rollout that would deliver it to the host does:
the latest-starting rollout of that version whose departments include the host's (any
rollout of that version when none does), its effect times the host's factor of the version
it replaces (its ``from_version``, found by the same rule; without one, what the host has at
``t``). So a version that was fine on the pilot hosts and slower on the others is slower on
a host that has not had it yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from advisor.simulator.fleet import Fleet, Installed, Ramp, SimHost
from advisor.simulator.loadtime import CPU_FACTOR, DISK_COLD_FACTOR, median_load_seconds
from advisor.simulator.scenario import (
    App,
    CpuClass,
    DiskKind,
    Scenario,
    Tier,
    start_kind_effects,
)


@dataclass(frozen=True)
class Change:
    """What an upgrade changes on a host; None leaves that as it is.

    ``version`` is the app's package version as the simulator uses it (``"4:26.2.5-1"``).
    ``Change(disk="ssd", memory_gb=16)`` is a new SSD and 16 GB of RAM.
    """

    version: str | None = None
    disk: DiskKind | None = None
    memory_gb: int | None = None
    cpu: CpuClass | None = None

    def __post_init__(self) -> None:
        if self.disk is not None and self.disk not in DISK_COLD_FACTOR:
            raise ValueError(f"disk must be 'ssd' or 'hdd', not {self.disk!r}")
        if self.cpu is not None and self.cpu not in CPU_FACTOR:
            raise ValueError(f"cpu must be 'low', 'mid' or 'high', not {self.cpu!r}")
        if self.memory_gb is not None and self.memory_gb <= 0:
            raise ValueError(f"memory_gb must be more than 0, not {self.memory_gb!r}")


def median_seconds(
    fleet: Fleet, host: SimHost, app: str, cold: bool, t: float, change: Change | None = None
) -> float:
    """The noise-free median load time of ``app`` on ``host`` at true time ``t``, cold or
    warm: what the simulator multiplies by noise for a launch then; under ``change``, what
    it would be with that change made (see the module docstring for the rules).

    Outages and noisy hosts' spikes are not part of it: they come on top of the noise.
    ValueError for an app or version the scenario does not have.
    """
    scenario = fleet.scenario
    model = _app(scenario, app)
    installed = host.version_at(app, t)
    if change is None:
        return median_load_seconds(model, host.tier, installed.factor(cold), host.ramps, cold, t)
    if change.version is not None:
        cold_factor, warm_factor = version_factors(fleet, host, app, change.version, t)
        factor = cold_factor if cold else warm_factor
    else:
        factor = installed.factor(cold)
    tier = changed_tier(host.tier, change)
    ramps = [r for r in host.ramps if not removes(scenario, change, r, host.tier)]
    return median_load_seconds(model, tier, factor, ramps, cold, t)


def true_saving(
    fleet: Fleet, host_ids: Iterable[str], app: str, cold: bool, t: float, change: Change
) -> dict[str, float]:
    """Per host id, the median load time now minus under ``change`` at ``t``, in seconds
    (positive: the change makes launches faster).

    Keyed by the ids given; either id of a reinstalled machine names it (the one before the
    reinstall and the one after: :attr:`SimHost.ids`). ValueError for an id of no host.
    """
    machines = dict(fleet.identities())
    saving = {}
    for host_id in host_ids:
        host = machines.get(host_id)
        if host is None:
            raise ValueError(f"no host {host_id!r} in the fleet")
        now = median_seconds(fleet, host, app, cold, t)
        saving[host_id] = now - median_seconds(fleet, host, app, cold, t, change)
    return saving


def changed_tier(tier: Tier, change: Change) -> Tier:
    """``tier`` with the change's disk, RAM and CPU class (its name and cohort kept)."""
    return dataclasses.replace(
        tier,
        disk=tier.disk if change.disk is None else change.disk,
        memory_gb=tier.memory_gb if change.memory_gb is None else change.memory_gb,
        cpu=tier.cpu if change.cpu is None else change.cpu,
    )


def removes(scenario: Scenario, change: Change, ramp: Ramp, tier: Tier) -> bool:
    """Whether ``change`` to a host of ``tier`` takes ``ramp`` away (module docstring)."""
    if ramp.cause in ("memory", "swap"):
        if change.memory_gb is None:
            return False
        pressure = next(p for p in scenario.memory_pressure if p.id == ramp.event_id)
        return change.memory_gb > pressure.max_memory_gb
    if ramp.cause == "disk_io":
        return change.disk is not None and change.disk != tier.disk
    return False


def version_factors(
    fleet: Fleet, host: SimHost, app: str, version: str, t: float
) -> tuple[float, float]:
    """The cold and warm load-time factors (against the app's first version) ``version`` of
    ``app`` would have on ``host`` at ``t`` (module docstring); ValueError if the scenario
    never installs that version."""
    return _factors(fleet, host, app, version, t, frozenset())


def _factors(
    fleet: Fleet, host: SimHost, app: str, version: str, t: float, resolving: frozenset[str]
) -> tuple[float, float]:
    own = _own_entry(host.versions[app], version, t)
    if own is not None:
        return own.cold_factor, own.warm_factor
    scenario = fleet.scenario
    rollouts = [r for r in scenario.rollouts if r.app == app and r.to_version == version]
    if not rollouts:
        known = [scenario.app(app).version]
        known += [r.to_version for r in scenario.rollouts if r.app == app]
        raise ValueError(
            f"{app} has no version {version!r} in scenario {scenario.name!r}; versions: "
            + ", ".join(dict.fromkeys(known))
        )
    if version in resolving:
        raise ValueError(f"the rollouts of {app} to {version!r} replace each other in a circle")
    reaching = [r for r in rollouts if not r.departments or host.department in r.departments]
    # max() keeps the first of equals: reversed, the later of two rollouts starting together.
    rollout = max(reversed(reaching or rollouts), key=lambda r: r.start)
    if rollout.from_version is None:
        replaced = host.version_at(app, t)
        base = replaced.cold_factor, replaced.warm_factor
    else:
        base = _factors(fleet, host, app, rollout.from_version, t, resolving | {version})
    cold, warm = start_kind_effects(rollout)
    return base[0] * (1 + cold), base[1] * (1 + warm)


def _own_entry(entries: list[Installed], version: str, t: float) -> Installed | None:
    """The host's own install of ``version``: in force at ``t``, else the last before, else
    the first after (entries are in time order)."""
    mine = [e for e in entries if e.version == version]
    before = [e for e in mine if e.since <= t]
    if before:
        return before[-1]
    return mine[0] if mine else None


def _app(scenario: Scenario, app: str) -> App:
    try:
        return scenario.app(app)
    except KeyError:
        names = ", ".join(a.name for a in scenario.apps)
        raise ValueError(f"no app {app!r} in scenario {scenario.name!r}; apps: {names}") from None
