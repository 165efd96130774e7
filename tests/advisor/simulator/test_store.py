"""A small fleet written through SqlStore on SQLite: counts and version history as planned."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import sqlalchemy as sa

from advisor.simulator import default_scenario, plan_fleet, simulate
from advisor.simulator.scenario import Reinstall
from advisor.simulator.sinks import enrol_in_store, write_to_store
from advisor.store.engine import make_engine
from advisor.store.sql import SqlStore
from tests.advisor.conftest import Databases

from .fleets import MONDAY, small_fleet


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def test_a_small_fleet_lands_in_the_database_with_the_planned_version_history(
    databases: Databases, tmp_path: Path
) -> None:
    fleet = small_fleet()
    expected = list(simulate(small_fleet()))
    store = SqlStore(make_engine(databases.sqlite_url(tmp_path)))
    try:
        enrol_in_store(store, fleet)
        stats = write_to_store(store, simulate(fleet))
        engine = store.engine
        assert stats.batches == stats.stored == len(expected)
        assert count(engine, "batches") == len(expected)
        assert count(engine, "launches") == sum(len(d.batch.launches) for d in expected)
        assert count(engine, "metric_summaries") == stats.summaries > 0
        hosts = store.list_hosts()
        assert {h.host_id: h.department for h in hosts} == {
            h.host_id: h.department for h in fleet.hosts
        }
        assert fleet.version_changes
        for change in fleet.version_changes:
            spans = [
                s
                for s in store.version_history(change.host_id)
                if s.app == change.app and s.package == change.package
            ]
            versions = [(s.version, s.since) for s in spans]
            assert (change.to_version, change.inventory_at) in versions
            before = next(s for s in spans if s.version == change.from_version)
            assert before.until == change.inventory_at
        again = write_to_store(store, simulate(small_fleet()))
        assert again.stored == 0
        assert again.duplicates == len(expected)
    finally:
        store.close()


def test_a_reinstalled_machine_is_stored_as_two_hosts_of_one_hostname(
    databases: Databases, tmp_path: Path
) -> None:
    scenario = dataclasses.replace(
        default_scenario(), reinstalls=(Reinstall("reinstalled", at=0.5),)
    )
    fleet = plan_fleet(scenario, hosts=6, days=4.0, seed=2, start=MONDAY, interval=3600.0)
    machine = next(h for h in fleet.hosts if h.new_host_id is not None)
    store = SqlStore(make_engine(databases.sqlite_url(tmp_path)))
    try:
        enrol_in_store(store, fleet)
        stats = write_to_store(store, simulate(fleet))
        assert stats.stored == stats.batches
        hosts = {h.host_id: h.hostname for h in store.list_hosts()}
        assert len(hosts) == 7
        assert hosts[machine.host_id] == hosts[str(machine.new_host_id)] == machine.hostname
        with store.engine.connect() as conn:
            per_host: dict[str, int] = dict(
                conn.execute(
                    sa.text("SELECT host_id, count(*) FROM batches GROUP BY host_id")
                ).all()
            )
        assert per_host[machine.host_id] > 0
        assert per_host[str(machine.new_host_id)] > 0
    finally:
        store.close()
