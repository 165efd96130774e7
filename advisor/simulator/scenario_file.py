"""Reading a :class:`~advisor.simulator.scenario.Scenario` from a TOML file.

Top-level ``name``, ``agent_version``; arrays of tables ``apps``, ``departments``, ``tiers``
(each defaults to the default scenario's when absent), ``rollouts``, ``memory_pressure``,
``disk_fills``, ``trends``, ``outages``, ``noisy_hosts``, ``delivery_outages``, ``holidays``,
``reinstalls`` (absent: none); a ``[realism]`` table. Keys are the dataclass fields;
docs/simulator.md lists every one with its unit and default; :func:`scenario_to_toml` writes
one out (the default scenario, say) as a starting point.

Everything is checked before a fleet is planned, and the first mistake is one line naming
the file, the table (with its index in the array) and the key::

    office.toml: rollouts[1].start: a fraction of the run, 0..1, not 1.5
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import math
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from advisor.simulator.errors import ScenarioError
from advisor.simulator.scenario import (
    App,
    AppOutage,
    DeliveryOutage,
    Department,
    DiskFill,
    Holiday,
    MemoryPressure,
    NoisyHosts,
    Realism,
    Reinstall,
    Scenario,
    SlowTrend,
    Tier,
    VersionRollout,
    default_scenario,
)

TABLES: dict[str, type[Any]] = {
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
    "holidays": Holiday,
    "reinstalls": Reinstall,
}
"""Every array of tables a scenario file may have, and the dataclass of its entries."""

_DEFAULTED = ("apps", "departments", "tiers")
_EFFECT_EVENTS = (VersionRollout, MemoryPressure, DiskFill, SlowTrend)
_EVENT_TABLES = (
    "rollouts",
    "memory_pressure",
    "disk_fills",
    "trends",
    "outages",
    "noisy_hosts",
    "delivery_outages",
    "holidays",
    "reinstalls",
)

Rule = Callable[[Any], bool]


def _fraction(v: Any) -> bool:
    return bool(0.0 <= v <= 1.0)


def _positive(v: Any) -> bool:
    return bool(v > 0)


def _not_negative(v: Any) -> bool:
    return bool(v >= 0)


def _effect(v: Any) -> bool:
    return bool(v > -1.0)


# Value rules by key (any table), then by (table class, key): the condition and what to say.
_RULES: dict[str, tuple[Rule, str]] = {
    "start": (_fraction, "a fraction of the run, 0..1"),
    "ramp": (_fraction, "a fraction of the run, 0..1"),
    "rest_start": (_fraction, "a fraction of the run, 0..1"),
    "at": (_fraction, "a fraction of the run, 0..1"),
    "share": (_fraction, "a share, 0..1"),
    "effect": (_effect, "a relative change above -1 (0.35: 35 % slower)"),
    "cold_effect": (_effect, "a relative change above -1 (0.35: 35 % slower)"),
    "warm_effect": (_effect, "a relative change above -1 (0.35: 35 % slower)"),
    "count": (_not_negative, "a count, 0 or more"),
    "hosts": (_not_negative, "a count, 0 or more"),
    "max_memory_gb": (_positive, "GB, more than 0"),
    "memory_gb": (_positive, "GB, more than 0"),
    "base_seconds": (_positive, "seconds, more than 0"),
    "launches_per_day": (_not_negative, "launches a day, 0 or more"),
    "cold_factor": (_positive, "a factor, more than 0"),
    "sigma": (_not_negative, "a log-scale spread, 0 or more"),
    "minutes": (_positive, "minutes, more than 0"),
    "slowdown": (_positive, "a factor, more than 0"),
    "timeout_share": (_fraction, "a share, 0..1"),
    "sigma_factor": (_positive, "a factor, more than 0"),
    "hours": (_positive, "hours, more than 0"),
    "skew_sigma_seconds": (_not_negative, "seconds, 0 or more"),
    "weekend_usage": (_not_negative, "a factor, 0 or more"),
    "utc_offset_hours": (lambda v: -12 <= v <= 14, "hours, -12..14"),
}
_CLASS_RULES: dict[tuple[type[Any], str], tuple[Rule, str]] = {
    (Department, "share"): (_positive, "a weight, more than 0 (shares are normalised)"),
    (Tier, "share"): (_positive, "a weight, more than 0 (shares are normalised)"),
    (Reinstall, "count"): (_positive, "a count, 1 or more"),
}


def load_scenario(path: Path) -> Scenario:
    """The scenario in the TOML file at ``path``; ScenarioError says what is wrong where."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    return scenario_from_dict(data, source=str(path))


def scenario_from_dict(data: dict[str, Any], *, source: str = "scenario") -> Scenario:
    """A scenario from parsed TOML (or any plain data of the same shape), checked."""
    known = ["name", "agent_version", "realism", *TABLES]
    for key in data:
        if key not in known:
            raise ScenarioError(f"{source}: {_unknown(key, known)}")
    defaults = default_scenario()
    fields: dict[str, Any] = {"name": Path(source).stem}
    for key in ("name", "agent_version"):
        if key in data:
            if not isinstance(data[key], str) or not data[key]:
                raise ScenarioError(f"{source}: {key}: must be a non-empty string")
            fields[key] = data[key]
    for key, cls in TABLES.items():
        if key in data:
            items = data[key]
            if not isinstance(items, list):
                raise ScenarioError(f"{source}: {key}: must be an array of tables ([[{key}]])")
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


def _unknown(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
    return f"unknown key {key!r}; {hint}"


def _build(cls: type[Any], item: object, where: str) -> Any:
    """One table as ``cls``, every value checked against the field's type and rules."""
    if not isinstance(item, dict):
        raise ScenarioError(f"{where}: must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in item:
        if key not in fields:
            raise ScenarioError(f"{where}: {_unknown(key, list(fields))}")
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and name not in item:
            raise ScenarioError(f"{where}: missing key {name!r}")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in item.items():
        try:
            values[key] = _convert(hints[key], value)
        except _WrongTypeError as bad:
            raise ScenarioError(f"{where}.{key}: {bad}, not {_show(value)}") from None
        rule = _CLASS_RULES.get((cls, key)) or _RULES.get(key)
        converted = values[key]
        if rule is not None and isinstance(converted, int | float) and not rule[0](converted):
            raise ScenarioError(f"{where}.{key}: {rule[1]}, not {_show(value)}")
    per_kind = "cold_effect" in item and "warm_effect" in item
    if cls in _EFFECT_EVENTS and "effect" not in item and not per_kind:
        raise ScenarioError(
            f"{where}: missing key 'effect' (or both 'cold_effect' and 'warm_effect')"
        )
    built = cls(**values)
    _check_table(built, where)
    return built


class _WrongTypeError(ValueError):
    """A value of the wrong type; the message says what was expected."""


def _convert(hint: Any, value: Any) -> Any:
    """``value`` as the type ``hint`` wants (lists become tuples), or _WrongTypeError."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        if value not in args:
            raise _WrongTypeError("must be one of " + ", ".join(repr(a) for a in args))
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if options == [str, float] or set(options) == {str, float}:
            return _date_or_fraction(value)
        return _convert(options[0], value)
    if origin is tuple:
        if not isinstance(value, list):
            raise _WrongTypeError("must be an array")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        if len(value) != len(args):
            raise _WrongTypeError(f"must be an array of {len(args)}")
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if hint is float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _WrongTypeError("must be a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _WrongTypeError("must be a whole number")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise _WrongTypeError("must be a string")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _WrongTypeError("must be true or false")
        return value
    raise _WrongTypeError(f"must be a {hint}")  # a field type this reader does not know: a bug here


def _date_or_fraction(value: Any) -> str | float:
    """A holiday's date: an ISO date (TOML date or string) or a fraction of the run."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise _WrongTypeError(
                "must be an ISO date (2025-10-03) or a fraction of the run"
            ) from None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    raise _WrongTypeError("must be an ISO date (2025-10-03) or a fraction of the run, 0..1")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_table(built: Any, where: str) -> None:
    """What a single table must satisfy beyond its keys' types and ranges."""
    if isinstance(built, Realism):
        first, last = built.work_hours
        if not 0 <= first < last <= 24:
            raise ScenarioError(f"{where}.work_hours: [from, to] with 0 <= from < to <= 24")
        for key in ("agent_offline_days", "powered_off_days"):
            lo, hi = getattr(built, key)
            if not 0 <= lo <= hi:
                raise ScenarioError(
                    f"{where}.{key}: [shortest, longest] days, 0 <= shortest <= longest"
                )
        for f in dataclasses.fields(Realism):
            if f.name.endswith(("_share", "_rate")) and not _fraction(getattr(built, f.name)):
                raise ScenarioError(
                    f"{where}.{f.name}: a share, 0..1, not {getattr(built, f.name)!r}"
                )
        if built.time_zone:
            try:
                zoneinfo.ZoneInfo(built.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ScenarioError(
                    f"{where}.time_zone: no time zone {built.time_zone!r} (an IANA name such "
                    "as 'Europe/Berlin')"
                ) from None


def _check(scenario: Scenario, source: str) -> None:
    """What needs the whole scenario: names that must exist, ids that must be unique."""
    apps = [a.name for a in scenario.apps]
    departments = [d.name for d in scenario.departments]
    for key in _DEFAULTED:
        if not getattr(scenario, key):
            raise ScenarioError(f"{source}: {key}: a scenario needs at least one")
    seen: dict[str, str] = {}
    for table in _EVENT_TABLES:
        for i, event in enumerate(getattr(scenario, table)):
            where = f"{source}: {table}[{i}]"
            if event.id in seen:
                raise ScenarioError(
                    f"{where}.id: {event.id!r} is already the id of {seen[event.id]}"
                )
            seen[event.id] = f"{table}[{i}]"
            single = getattr(event, "app", None)
            if single is not None and single not in apps:
                raise ScenarioError(f"{where}.app: no app {single!r}; apps: {', '.join(apps)}")
            for name in getattr(event, "apps", ()):
                if name not in apps:
                    raise ScenarioError(f"{where}.apps: no app {name!r}; apps: {', '.join(apps)}")
            for key in ("departments", "pilot_departments"):
                for name in getattr(event, key, ()):
                    if name not in departments:
                        raise ScenarioError(
                            f"{where}.{key}: no department {name!r}; departments: "
                            f"{', '.join(departments)}"
                        )
    for i, rollout in enumerate(scenario.rollouts):
        _check_from_version(scenario, rollout, f"{source}: rollouts[{i}].from_version")


def _check_from_version(scenario: Scenario, rollout: VersionRollout, where: str) -> None:
    """A rollout's ``from_version`` must be a version its app can have: the first one or
    another rollout's ``to_version``, and not the version it installs."""
    wanted = rollout.from_version
    if wanted is None:
        return
    versions = [scenario.app(rollout.app).version]
    versions += [r.to_version for r in scenario.rollouts if r.app == rollout.app]
    if wanted == rollout.to_version:
        raise ScenarioError(f"{where}: {wanted!r} is the version it installs (to_version)")
    if wanted not in versions:
        known = ", ".join(dict.fromkeys(v for v in versions if v != rollout.to_version))
        raise ScenarioError(f"{where}: {rollout.app} never has {wanted!r}; versions: {known}")


def scenario_to_toml(scenario: Scenario) -> str:
    """``scenario`` as a scenario file that :func:`load_scenario` reads back equal: a
    starting point for writing one (every key written, unset optional ones left out)."""
    lines = [f"name = {_toml(scenario.name)}", f"agent_version = {_toml(scenario.agent_version)}"]
    for key in TABLES:
        for item in getattr(scenario, key):
            lines += ["", f"[[{key}]]", *_toml_fields(item)]
    lines += ["", "[realism]", *_toml_fields(scenario.realism)]
    return "\n".join(lines) + "\n"


def _toml_fields(item: Any) -> list[str]:
    return [
        f"{f.name} = {_toml(getattr(item, f.name))}"
        for f in dataclasses.fields(item)
        if getattr(item, f.name) is not None
    ]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")
