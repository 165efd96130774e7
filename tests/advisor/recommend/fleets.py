"""Small fleets, findings, a catalog and costs for the recommendation engine's tests.

Fleets come from the analysis' seeded generator (tests/advisor/analysis/fleetframes.py); a
vendor fix is added on top of its rollout (:func:`with_fix`: some hosts of the regressed
2.0 move on to 3.0, which undoes the regression). Findings are made by hand, naming the
hosts the generator's events touched, so each test knows the truth it checks against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np

from advisor.analysis.findings import (
    Cause,
    Direction,
    Effect,
    Evidence,
    Finding,
    Kind,
    Quantiles,
    finding_key,
)
from advisor.analysis.frames import FleetData, LaunchFrame, VersionChanges
from advisor.catalog.costs import CostSettings, parse_costs
from advisor.catalog.model import Price, Product, ProductRecord, ProductVersion, ReleaseCycle
from advisor.recommend.engine import Recommendation, RecommendInputs, build_inputs, recommend
from advisor.recommend.facts import FleetFacts
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.vendor import RecordCatalog
from tests.advisor.analysis.fleetframes import DAY, MONDAY, MemoryPressure, Rollout, Spec, build

SHIPPED_COSTS = Path(__file__).resolve().parents[3] / "config" / "costs.toml"
FINANCE_WAGE = """
[wages.departments.finance]
amount = "45.00"
as_of = 2026-01-01
source = "HR pay scale 2026"
"""


def costs() -> CostSettings:
    """The shipped cost settings (default wage 30.00) with a finance wage of 45.00."""
    return parse_costs(SHIPPED_COSTS.read_text() + FINANCE_WAGE, "costs.toml")


def with_fix(data: FleetData, *, share: float, day: float, effect: float, seed: int) -> FleetData:
    """``data`` (a fleet with app0's rollout 1.0 -> 2.0) with ``share`` of the 2.0 hosts
    moving on to 3.0 around ``day``, which undoes a regression of ``effect`` on their launches
    after the move (cold and warm alike)."""
    rng = np.random.default_rng(seed)
    frame = data.launches
    moved_before = np.unique(data.changes.host[data.changes.app == 0])
    movers = moved_before[rng.random(moved_before.size) < share]
    at = np.full(len(frame.hosts), np.inf)
    at[movers] = MONDAY + (day + 2 * rng.random(movers.size)) * DAY
    after = (frame.app == 0) & (frame.version == 2) & (frame.started_at >= at[frame.host])
    versions = [*frame.versions, "3.0"]
    version = frame.version.copy()
    version[after] = 3
    duration = np.where(after, frame.duration / (1 + effect), frame.duration)
    launches = replace(frame, versions=versions, version=version, duration=duration)
    changes = VersionChanges(
        host=np.r_[data.changes.host, movers].astype(np.int32),
        app=np.r_[data.changes.app, np.zeros(movers.size)].astype(np.int32),
        at=np.r_[data.changes.at, at[movers]],
        from_version=np.r_[data.changes.from_version, np.full(movers.size, 2)].astype(np.int32),
        to_version=np.r_[data.changes.to_version, np.full(movers.size, 3)].astype(np.int32),
    )
    return replace(data, launches=launches, changes=changes)


def hosts_on(data: FleetData, app: int, version: str) -> list[str]:
    """Host ids whose latest launch of ``app`` was of ``version``."""
    frame: LaunchFrame = data.launches
    code = frame.versions.index(version)
    rows = np.flatnonzero(frame.app == app)
    order = rows[np.lexsort((frame.started_at[rows], frame.host[rows]))]
    last = np.r_[frame.host[order][1:] != frame.host[order][:-1], True]
    hosts = frame.host[order][last][frame.version[order][last] == code]
    return sorted(frame.hosts.host_id[h] for h in hosts.tolist())


def host_ids(data: FleetData, mask: np.ndarray) -> list[str]:
    return sorted(data.launches.hosts.host_id[i] for i in np.flatnonzero(mask).tolist())


def finding(
    kind: Kind,
    app: str,
    scope: dict[str, str],
    hosts: list[str],
    *,
    effect: float,
    cause: Cause,
    data: FleetData,
    direction: Direction = "slower",
    width: float = 0.05,
) -> Finding:
    """A finding as the analysis would make it, naming ``hosts`` (their departments too)."""
    table = data.launches.hosts
    department = dict(zip(table.host_id, table.department, strict=True))
    return Finding(
        key=finding_key(kind, app, scope),
        kind=kind,
        app=app,
        scope=scope,
        direction=direction,
        effect=Effect(effect, effect - width, effect + width),
        cause=cause,
        confidence=0.9,
        since=MONDAY + 30 * DAY,
        detected_at=MONDAY + 60 * DAY,
        hosts=tuple(sorted(hosts)),
        departments=tuple(sorted({department[h] for h in hosts})),
        evidence=Evidence(
            before=Quantiles(500, 1.0, 1.5, 3.0),
            after=Quantiles(500, 1.0 * (1 + effect), 1.5 * (1 + effect), 3.0 * (1 + effect)),
            p_value=1e-9,
            q_value=1e-8,
            method="made by hand for the recommendation tests",
        ),
    )


def record(
    app: str = "app0",
    versions: tuple[tuple[str, dt.date], ...] = (
        ("1.0", dt.date(2023, 1, 10)),
        ("2.0", dt.date(2023, 11, 1)),
        ("3.0", dt.date(2023, 12, 20)),
    ),
    *,
    end_of_life: dict[str, dt.date | bool] | None = None,
    price: Price | None = None,
) -> ProductRecord:
    """A product whose every major version is a cycle (``1`` holds ``1.0``), PEP 440
    ordered, end of life as given (default: none), free unless ``price`` says otherwise."""
    eol = end_of_life or {}
    cycles = tuple(
        ReleaseCycle(
            product=app,
            name=version.split(".")[0],
            release_date=released,
            end_of_life=eol.get(version.split(".")[0], False),
            latest=version,
        )
        for version, released in reversed(versions)
    )
    return ProductRecord(
        product=Product(app, app.title(), version_scheme="pep440"),
        cycles=cycles,
        versions=tuple(ProductVersion(app, v, released) for v, released in versions),
        price=price or Price("free", Decimal(0), "USD", dt.date(2024, 1, 1), "free software"),
    )


def true_seconds(
    facts: FleetFacts,
    hosts: list[str],
    saved: Callable[[int, bool], float],
    apps: tuple[int, ...] = (0, 1),
) -> float:
    """The launch-weighted mean of the seconds a change truly saves per launch of ``apps``
    on ``hosts``: ``saved(app, cold)`` per launch of the app's start kind, weighted by the
    facts' launches a day (the rows with a level, as the engine weighs them)."""
    usage = facts.usage
    code = {h: i for i, h in enumerate(facts.hosts.host_id)}
    rows = np.flatnonzero(
        np.isin(usage.host, [code[h] for h in hosts])
        & np.isin(usage.app, apps)
        & np.isfinite(usage.level)
    )
    weights = usage.launches_per_day[rows]
    values = np.array(
        [saved(int(a), bool(c)) for a, c in zip(usage.app[rows], usage.cold[rows], strict=True)]
    )
    return float(weights @ values / weights.sum())


def base_seconds(app: int, cold: bool) -> float:
    """fleetframes' median load time of ``app`` before any event: 1 s for app0, +0.5 s per
    app after it, twice that for a cold start."""
    return (1.0 + 0.5 * app) * (2.0 if cold else 1.0)


OLD_VERSIONS = (("1.0", dt.date(2023, 1, 10)), ("2.0", dt.date(2023, 11, 1)))


def run(
    data: FleetData,
    findings: Sequence[Finding],
    records: dict[str, ProductRecord],
    now: float,
    params: RecommendParameters | None = None,
) -> tuple[RecommendInputs, list[Recommendation]]:
    settings = costs()
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    catalog = RecordCatalog(records, today=today, costs=settings)
    inputs = build_inputs(data, findings, catalog, settings, now=now, params=params)
    return inputs, recommend(inputs, now=now, params=params)


def regression(data: FleetData, hosts: list[str], app: str = "app0") -> Finding:
    return finding(
        "version_change",
        app,
        {"from_version": "1.0", "version": "2.0"},
        hosts,
        effect=0.3,
        cause="version",
        data=data,
    )


def regressed_fleet(*, fix_share: float = 0.0, seed: int = 0) -> tuple[Spec, FleetData]:
    spec = Spec(hosts=60, seed=seed, rollouts=(Rollout(effect=0.3, share=0.8, day=20),))
    data = build(spec)
    if fix_share:
        data = with_fix(data, share=fix_share, day=38, effect=0.3, seed=seed)
    return spec, data


def memory_fleet(seed: int = 0) -> tuple[Spec, FleetData, list[Finding]]:
    spec = Spec(
        hosts=60,
        seed=seed,
        low_ram_share=0.3,
        memory=MemoryPressure(effect=0.4, day=25, ramp_days=10, ram_gb=4.0),
    )
    data = build(spec)
    low = host_ids(data, data.launches.hosts.ram_bytes <= 4 * 2**30)
    found = [
        finding(
            "pressure",
            f"app{a}",
            {"pressure": "memory"},
            low,
            effect=0.4,
            cause="memory",
            data=data,
        )
        for a in (0, 1)
    ]
    return spec, data, found


def hdd_fleet(seed: int = 0) -> tuple[Spec, FleetData, list[Finding]]:
    spec = Spec(hosts=60, seed=seed, hdd_share=0.3, hdd_cold_factor=2.0, hdd_io=0.1)
    data = build(spec)
    hdd = host_ids(data, data.launches.hosts.disk_rotational)
    return spec, data, [tier(data, "hdd", hdd, 1.0, a) for a in (0, 1)]


def old_fleet(seed: int = 0) -> tuple[Spec, FleetData, list[Finding]]:
    spec = Spec(hosts=60, seed=seed, old_share=0.25)
    data = build(spec)
    old = host_ids(data, data.launches.hosts.disk_rotational)
    return spec, data, [tier(data, "hdd+ram<=4gb+cores<=2", old, 1.9, a) for a in (0, 1)]


def tier(data: FleetData, name: str, hosts: list[str], effect: float, app: int) -> Finding:
    return finding(
        "hardware_tier",
        f"app{app}",
        {"tier": name, "start": "cold"},
        hosts,
        effect=effect,
        cause="hardware_tier",
        data=data,
    )


OLD_COLD, OLD_WARM = 2.0 * 1.3 * 1.12, 1.05 * 1.3 * 1.12  # fleetframes' old machines
