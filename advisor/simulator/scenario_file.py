"""Reading a :class:`~advisor.simulator.scenario.Scenario` from a TOML file.

Top-level ``name``, ``agent_version``; arrays of tables ``apps``, ``departments``, ``tiers``
(each defaults to the default scenario's when absent), ``rollouts``, ``memory_pressure``,
``disk_fills``, ``trends``, ``outages``, ``noisy_hosts``, ``delivery_outages`` (absent: none);
a ``[realism]`` table. Keys are the dataclass fields; docs/simulator.md has an example.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from advisor.simulator.errors import ScenarioError
from advisor.simulator.scenario import (
    App,
    AppOutage,
    DeliveryOutage,
    Department,
    DiskFill,
    MemoryPressure,
    NoisyHosts,
    Realism,
    Scenario,
    SlowTrend,
    Tier,
    VersionRollout,
    default_scenario,
)

_LISTS: dict[str, type[Any]] = {
    "apps": App,
    "departments": Department,
    "tiers": Tier,
    "rollouts": VersionRollout,
    "memory_pressure": MemoryPressure,
    "disk_fills": DiskFill,
    "trends": SlowTrend,
    "outages": AppOutage,
    "noisy_hosts": NoisyHosts,
    "delivery_outages": DeliveryOutage,
}
_DEFAULTED = ("apps", "departments", "tiers")


def load_scenario(path: Path) -> Scenario:
    """The scenario in the TOML file at ``path``; ScenarioError says what is wrong where."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    return scenario_from_dict(data, source=str(path))


def scenario_from_dict(data: dict[str, Any], *, source: str = "scenario") -> Scenario:
    """A scenario from parsed TOML (or any plain data of the same shape), checked."""
    known = {"name", "agent_version", "realism", *_LISTS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScenarioError(f"{source}: unknown key {unknown[0]!r}; known: {sorted(known)}")
    defaults = default_scenario()
    fields: dict[str, Any] = {"name": str(data.get("name", Path(source).stem))}
    if "agent_version" in data:
        fields["agent_version"] = str(data["agent_version"])
    for key, cls in _LISTS.items():
        if key in data:
            items = data[key]
            if not isinstance(items, list):
                raise ScenarioError(f"{source}: {key} must be an array of tables ([[{key}]])")
            fields[key] = tuple(
                _build(cls, item, f"{source}: {key}[{i}]") for i, item in enumerate(items)
            )
        elif key in _DEFAULTED:
            fields[key] = getattr(defaults, key)
    if "realism" in data:
        fields["realism"] = _build(Realism, data["realism"], f"{source}: realism")
    scenario = Scenario(**fields)
    _check(scenario, source)
    return scenario


def _build(cls: type[Any], item: object, where: str) -> Any:
    if not isinstance(item, dict):
        raise ScenarioError(f"{where} must be a table")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(item) - set(names))
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r}; known: {sorted(names)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in item.items()}
    try:
        built = cls(**values)
    except TypeError as exc:
        missing = [
            n
            for n, f in names.items()
            if n not in item
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        raise ScenarioError(
            f"{where}: missing key {missing[0]!r}" if missing else f"{where}: {exc}"
        ) from exc
    for name, f in names.items():
        value = getattr(built, name)
        numeric = isinstance(f.default, float | int) and not isinstance(f.default, bool)
        if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ScenarioError(f"{where}: {name} must be a number, not {value!r}")
    return built


def _check(scenario: Scenario, source: str) -> None:
    apps = {a.name for a in scenario.apps}
    departments = {d.name for d in scenario.departments}
    if not apps or not departments or not scenario.tiers:
        raise ScenarioError(f"{source}: a scenario needs at least one app, department and tier")
    for app in scenario.apps:
        if app.base_seconds <= 0 or app.launches_per_day < 0:
            raise ScenarioError(f"{source}: app {app.name}: base_seconds must be > 0")
    for tier in scenario.tiers:
        if tier.disk not in ("ssd", "hdd") or tier.cpu not in ("low", "mid", "high"):
            raise ScenarioError(
                f"{source}: tier {tier.name}: disk is ssd or hdd, cpu is low, mid or high"
            )
    events: list[Any] = [
        *scenario.rollouts,
        *scenario.memory_pressure,
        *scenario.disk_fills,
        *scenario.trends,
        *scenario.outages,
        *scenario.delivery_outages,
    ]
    ids = [e.id for e in [*events, *scenario.noisy_hosts]]
    if len(ids) != len(set(ids)):
        raise ScenarioError(f"{source}: event ids must be unique")
    for event in events:
        if not 0.0 <= event.start <= 1.0:
            raise ScenarioError(f"{source}: event {event.id}: start is a fraction of the run, 0..1")
        single = getattr(event, "app", None)
        wanted = (single,) if single else getattr(event, "apps", ())
        for name in wanted:
            if name not in apps:
                raise ScenarioError(f"{source}: event {event.id}: no app {name!r}")
        for name in getattr(event, "departments", ()):
            if name not in departments:
                raise ScenarioError(f"{source}: event {event.id}: no department {name!r}")
