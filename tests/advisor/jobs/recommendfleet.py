"""A simulated fleet with a version rollout, a vendor fix and a rollout of the fix, written
through the store's ingest, for the recommendation job's tests.

The fleet is the recommendation engine's test fleet (tests/advisor/recommend/fleets.py): 60
hosts in finance and sales, apps ``app0`` and ``app1``; 80 % of the hosts move app0 from 1.0
to 2.0 around day 20, which makes it 30 % slower; 30 % of those move on to 3.0 around day 38,
which undoes it (the fleet's evidence that 3.0 is better). Then, around ``ROLLOUT_DAY``, every
host still on 2.0 moves to 3.0 (the rollout the advisor recommended): ``good`` undoes the
regression there too, otherwise the move makes those hosts another 30 % slower (a bad
rollout). Runs happen at ``RUN1`` (the recommendation is made), ``RUN2`` (the rollout shows)
and ``RUN3`` (its 14 days have passed).

Each host sends one batch a week (its launches, a pressure summary a day), an inventory at
the start (hardware, the apps' versions) and one at each version change, so the version
history dates every change; the batches are then rolled up.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from advisor.analysis.findings import Finding
from advisor.analysis.frames import FleetData
from advisor.catalog.model import ProductRecord
from advisor.store.analysis_data import SqlUpkeep
from advisor.store.catalog import SqlCatalogStore
from advisor.store.findings import SqlFindings
from advisor.store.sql import SqlStore
from agent.shared.wire import (
    Batch,
    Disk,
    Hardware,
    HostIdentity,
    InstalledPackage,
    Interval,
    Inventory,
    LaunchEvent,
)
from agent.summary import summarise
from tests.advisor.analysis.fleetframes import DAY, MONDAY, Rollout, Spec, build
from tests.advisor.recommend.fleets import costs, hosts_on, record, regression, with_fix

DAYS = 68
FIX_DAY = 38
ROLLOUT_DAY = 48
RUN1 = MONDAY + 46.5 * DAY
RUN2 = MONDAY + 52.5 * DAY
RUN3 = RUN2 + 14 * DAY
WEEK = 7 * DAY
SLOWER_BY = 0.3
PRESSURE = (
    ("memory_pressure", "pressure_memory_some_ratio"),
    ("swap_in_bytes_per_second", "swap_in_bytes_per_second"),
    ("io_pressure", "pressure_io_some_ratio"),
    ("cpu_pressure", "pressure_cpu_some_ratio"),
)


@dataclass(frozen=True)
class LoopFleet:
    """The fleet, the hosts the rollout moves (those on 2.0 before it), and its truth."""

    data: FleetData
    before_rollout: FleetData
    rolled: list[str]
    good: bool

    @property
    def finding(self) -> Finding:
        """The regression the analysis would report at RUN1 (1.0 -> 2.0, +30 %)."""
        return regression(self.before_rollout, self.rolled)

    @property
    def catalog(self) -> ProductRecord:
        return record()


def loop_fleet(*, good: bool = True, seed: int = 0) -> LoopFleet:
    spec = Spec(hosts=60, days=DAYS, seed=seed, rollouts=(Rollout(effect=0.3, share=0.8, day=20),))
    fixed = with_fix(build(spec), share=0.3, day=FIX_DAY, effect=0.3, seed=seed)
    rolled = hosts_on(fixed, 0, "2.0")
    # with_fix divides the moved launches by 1 + effect: 0.3 undoes the regression, the
    # other way makes them SLOWER_BY slower.
    effect = 0.3 if good else 1 / (1 + SLOWER_BY) - 1
    data = with_fix(fixed, share=1.0, day=ROLLOUT_DAY, effect=effect, seed=seed + 1)
    return LoopFleet(data, fixed, rolled, good)


def write_loop_fleet(store: SqlStore, fleet: LoopFleet) -> None:
    """Enrol the hosts, ingest their batches, roll them up; import the catalog and costs and
    record the regression finding as a run at RUN1 would."""
    write(store, fleet.data)
    catalog = SqlCatalogStore(store.engine)
    catalog.import_records([fleet.catalog], kind="org", source="test catalog", now=MONDAY)
    catalog.import_costs(costs(), source="costs.toml", now=MONDAY)
    SqlFindings(store.engine).record_run([fleet.finding], now=RUN1)


def write(store: SqlStore, data: FleetData) -> None:
    """``data`` through ingest (module docstring), then rolled up."""
    frame = data.launches
    table = frame.hosts
    end = MONDAY + DAYS * DAY
    tokens = {}
    for department in sorted(set(table.department)):
        tokens[department], _ = store.create_token(
            department=department, expires_at=end + DAY, now=MONDAY - DAY
        )
    for host_id, department in zip(table.host_id, table.department, strict=True):
        store.enrol(
            token=tokens[department],
            host_id=host_id,
            hostname=f"{host_id}.example",
            agent_version="0.1",
            now=MONDAY - DAY,
        )
    launches = _launches_by_host(data)
    pressure = _pressure_by_host(data)
    changes = _changes_by_host(data)
    for h, host_id in enumerate(table.host_id):
        hw = _hardware(
            float(table.ram_bytes[h]), bool(table.disk_rotational[h]), table.cpu_cores[h]
        )
        # (when, the inventory sent then; None: the week's launches and pressure)
        sends: list[tuple[float, Inventory | None]] = []
        versions = dict.fromkeys(frame.apps, "1.0")
        sends.append((MONDAY, _inventory(MONDAY, hw, versions)))
        for at, app, version in changes[h]:
            versions[app] = version
            sends.append((at, _inventory(at, hw, versions)))
        for week in range(0, DAYS, 7):
            sends.append((MONDAY + week * DAY + WEEK - 1.0, None))
        sends.sort(key=lambda s: s[0])
        for sequence, (at, inventory) in enumerate(sends, start=1):
            if inventory is not None:
                batch = _batch(host_id, sequence, inventory=inventory)
            else:
                week_start = at + 1.0 - WEEK
                batch = _batch(
                    host_id,
                    sequence,
                    launches=[e for e in launches[h] if week_start <= e.started_at < at + 1.0],
                    intervals=[i for i in pressure[h] if week_start <= i.start < at + 1.0],
                )
            store.ingest(host_id, batch, received_at=at + 60.0, sent_at=None)
    SqlUpkeep(store.engine).roll_up(now=end + DAY)


def _launches_by_host(data: FleetData) -> dict[int, list[LaunchEvent]]:
    frame = data.launches
    found: dict[int, list[LaunchEvent]] = defaultdict(list)
    for host, app, version, at, seconds, cold in zip(
        frame.host.tolist(),
        frame.app.tolist(),
        frame.version.tolist(),
        frame.started_at.tolist(),
        frame.duration.tolist(),
        frame.cold.tolist(),
        strict=True,
    ):
        found[host].append(
            LaunchEvent(
                app=frame.apps[app],
                version=frame.versions[version] or None,
                method="passive",
                outcome="ok",
                started_at=at,
                duration_seconds=seconds,
                ready_signal="cpu_settled",
                start_kind="cold" if cold else "warm",
            )
        )
    return found


def _pressure_by_host(data: FleetData) -> dict[int, list[Interval]]:
    p = data.pressure
    found: dict[int, list[Interval]] = defaultdict(list)
    columns = [(metric, np.asarray(getattr(p, column))) for column, metric in PRESSURE]
    for i, (host, day) in enumerate(zip(p.host.tolist(), p.day.tolist(), strict=True)):
        metrics = [
            summarise(metric, {}, [float(values[i])])
            for metric, values in columns
            if np.isfinite(values[i])
        ]
        found[host].append(
            Interval(start=day + 12 * 3600.0, end=day + 12 * 3600.0 + 60, metrics=metrics)
        )
    return found


def _changes_by_host(data: FleetData) -> dict[int, list[tuple[float, str, str]]]:
    frame, c = data.launches, data.changes
    found: dict[int, list[tuple[float, str, str]]] = defaultdict(list)
    for host, app, at, to in zip(
        c.host.tolist(), c.app.tolist(), c.at.tolist(), c.to_version.tolist(), strict=True
    ):
        found[host].append((at, frame.apps[app], frame.versions[to]))
    return {h: sorted(v) for h, v in found.items()} | defaultdict(list)


def _hardware(ram_bytes: float, hdd: bool, cores: float) -> Hardware:
    return Hardware(
        cpu_model="Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz",
        cpu_cores=int(cores),
        cpu_threads=int(cores),
        cpu_max_mhz=4100.0,
        memory_bytes=int(ram_bytes),
        swap_bytes=2**30,
        disks=[Disk("sda", "hdd" if hdd else "ssd", 5 * 10**11, None, hdd)],
        machine_vendor=None,
        machine_model=None,
        bios_date=None,
        os_name="Debian GNU/Linux",
        os_version="12",
        kernel="6.1.0-26-amd64",
        arch="x86_64",
    )


def _inventory(at: float, hw: Hardware, versions: dict[str, str]) -> Inventory:
    return Inventory(
        collected_at=at,
        digest=f"{sorted(versions.items())}",
        hardware=hw,
        software=[
            InstalledPackage(app, version, "dpkg", "amd64", app)
            for app, version in sorted(versions.items())
        ],
        upgradable=[],
    )


def _batch(
    host_id: str,
    sequence: int,
    *,
    launches: list[LaunchEvent] | None = None,
    intervals: list[Interval] | None = None,
    inventory: Inventory | None = None,
) -> Batch:
    return Batch(
        batch_id=f"{host_id}-{sequence:05d}",
        sequence=sequence,
        created_at=MONDAY + sequence,
        host=HostIdentity(host_id=host_id, hostname=f"{host_id}.example", agent_version="0.1"),
        intervals=intervals or [],
        launches=launches or [],
        inventory=inventory,
    )


def today(t: float) -> dt.date:
    return dt.datetime.fromtimestamp(t, dt.UTC).date()
