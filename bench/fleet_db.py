"""A simulated fleet written straight into a fresh PostgreSQL database, for the benchmarks.

    from fleet_db import create_database, write_fleet, drop_database

The fleet is the simulator's columnar one (advisor/simulator/columnar.py, scenario
``scale-20-apps``: 20 apps, about 2,300 launches per host over 90 days, one version change
per host and app, daily pressure), written by binary COPY as the advisor would hold it after
ingest and the rollup: hosts with their hardware, ``launch_daily`` and its dictionaries, raw
``launches`` (optional: the analysis reads the daily rows), version spans and
``metric_rollups_daily``. Not through ingest or the rollup: bench/ingest.py measures those.

A fleet larger than ``slice_hosts`` is generated and written a slice at a time (each slice its
own simulated fleet, seed ``seed + k``, host ids prefixed ``s<k>-`` after the first), so
50,000 hosts need the memory of 10,000.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
import sqlalchemy as sa
from psycopg import sql

from advisor.analysis.daily import daily_launches
from advisor.store import launch_daily
from advisor.store.engine import make_engine
from advisor.store.frames import PRESSURE_SERIES
from advisor.store.migrate import upgrade

DAY = 86_400.0
START = 1_756_684_800.0  # 2025-09-01 00:00 UTC, as bench/analysis_scale.py
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COPY_ROWS = 1_000_000
SLICE_HOSTS = 10_000
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_LAUNCH_INDEXES = {
    "ix_launches_app_started_at": "launches (app, started_at)",
    "ix_launches_host_id_app_started_at": "launches (host_id, app, started_at)",
    "ix_launches_started_at": "launches (started_at)",
    "ix_launches_batch_id": "launches (batch_id)",
}


def libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg's connection string."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(admin_url: str = POSTGRES_ADMIN, *, prefix: str = "fleetsight_bench") -> str:
    """A new, migrated database next to ``admin_url``'s; its URL."""
    admin = sa.make_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def drop_database(url: str, admin_url: str = POSTGRES_ADMIN) -> None:
    """Drop the database of ``url`` (connections to it are closed)."""
    name = sa.make_url(url).database or ""
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def copy_binary(
    cursor: psycopg.Cursor[Any], table: str, columns: dict[str, npt.NDArray[Any]]
) -> None:
    """Rows of equal-length numpy columns (int32, int64, float64 or bool) by binary COPY."""
    wire = {"int32": ">i4", "int64": ">i8", "float64": ">f8", "bool": "?"}
    layout: list[tuple[str, str]] = [("fields", ">i2")]
    for name, column in columns.items():
        layout += [(f"{name}_length", ">i4"), (name, wire[column.dtype.name])]
    n = len(next(iter(columns.values())))
    names = ", ".join(columns)
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(_SIGNATURE)
        for start in range(0, n, COPY_ROWS):
            stop = min(start + COPY_ROWS, n)
            records = np.empty(stop - start, dtype=np.dtype(layout))
            records["fields"] = len(columns)
            for name, column in columns.items():
                records[f"{name}_length"] = column.dtype.itemsize
                records[name] = column[start:stop]
            copy.write(records.tobytes())
        copy.write(b"\xff\xff")


@dataclass
class _Dictionary:
    """A ``launch_daily`` dictionary table's codes as the slices add names (codes from 1)."""

    table: str
    codes: dict[str, int] = field(default_factory=dict)

    def codes_of(self, cur: psycopg.Cursor[Any], names: list[str]) -> npt.NDArray[np.int32]:
        """The codes of ``names`` (new ones written), in their order."""
        new = [name for name in names if name not in self.codes]
        if new:
            with cur.copy(f"COPY {self.table} (code, name) FROM STDIN") as copy:
                for name in new:
                    self.codes[name] = len(self.codes) + 1
                    copy.write_row((self.codes[name], name))
            cur.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'code'), %s)",
                (self.table, len(self.codes)),
            )
        return np.array([self.codes[name] for name in names], dtype=np.int32)


def write_fleet(
    url: str,
    *,
    hosts: int,
    days: int,
    seed: int = 1,
    start: float = START,
    raw_launches: bool = True,
    slice_hosts: int = SLICE_HOSTS,
) -> dict[str, Any]:
    """The fleet of the module docstring, ``days`` days from ``start``, written to ``url``'s
    database (migrated, empty); what was written, counted, and how long it took."""
    from advisor.simulator import plan_fleet
    from advisor.simulator.columnar import fleet_columns, pressure_frame
    from advisor.simulator.scenario import scale_scenario

    counts = {"generate_s": 0.0, "write_s": 0.0, "launches": 0, "daily_rows": 0}
    with psycopg.connect(libpq(url)) as conn, conn.cursor() as cur:
        dictionaries = [
            _Dictionary(name)
            for name in ("launch_daily_hosts", "launch_daily_apps", "launch_daily_versions")
        ]
        for table in dictionaries:  # the migration's "" goes: codes follow the slices' names
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table.table)))
        if raw_launches:
            for name in _LAUNCH_INDEXES:  # built once at the end: faster
                cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        for k, first in enumerate(range(0, hosts, slice_hosts)):
            began = time.perf_counter()
            fleet = plan_fleet(
                scale_scenario(),
                hosts=min(slice_hosts, hosts - first),
                days=days,
                seed=seed + k,
                start=start,
                interval=3600.0,
            )
            columns = fleet_columns(fleet)
            frame = columns.launches
            daily = daily_launches(frame)
            pressure = pressure_frame(fleet)
            counts["generate_s"] += time.perf_counter() - began
            began = time.perf_counter()
            host_ids = [f"s{k}-{h}" if k else h for h in frame.hosts.host_id]
            _write_hosts(cur, frame.hosts, host_ids, start)
            codes = [
                table.codes_of(cur, names)
                for table, names in zip(
                    dictionaries, (host_ids, frame.apps, frame.versions), strict=True
                )
            ]
            _write_daily(cur, daily, *codes)
            if raw_launches:
                _write_launches(cur, frame, host_ids)
            _write_spans(cur, columns.changes, host_ids, frame.apps, frame.versions, start)
            _write_pressure(cur, pressure, host_ids)
            conn.commit()
            counts["write_s"] += time.perf_counter() - began
            counts["launches"] += len(frame)
            counts["daily_rows"] += len(daily)
            del fleet, columns, frame, daily, pressure
        began = time.perf_counter()
        cur.execute(
            "INSERT INTO launch_daily_state (id, sequence, raw_from_day, kept_from_day)"
            " VALUES (1, 1, 0, 0) ON CONFLICT (id) DO UPDATE SET sequence = 1"
        )
        if raw_launches:
            for name, target in _LAUNCH_INDEXES.items():
                cur.execute(sql.SQL("CREATE INDEX {} ON " + target).format(sql.Identifier(name)))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        counts["write_s"] += time.perf_counter() - began
        for name in ("launches", "launch_daily"):
            size = conn.execute("SELECT pg_total_relation_size(%s)", (name,)).fetchone()
            counts[f"{name}_mb"] = (size[0] if size else 0) / 2**20
    return counts


def _write_hosts(cur: psycopg.Cursor[Any], table: Any, host_ids: list[str], start: float) -> None:
    with cur.copy(
        "COPY hosts (host_id, hostname, department, credential_sha256, enrolled_at,"
        " agent_version, hardware) FROM STDIN"
    ) as copy:
        for i, host_id in enumerate(host_ids):
            hardware = {
                "memory_bytes": float(table.ram_bytes[i]),
                "cpu_cores": float(table.cpu_cores[i]),
                "disks": [{"name": "sda", "kind": "hdd" if table.disk_rotational[i] else "ssd"}],
            }
            credential = uuid.uuid5(uuid.NAMESPACE_DNS, host_id).hex * 2
            row = (host_id, host_id, table.department[i], credential, start, "0.1.0")
            copy.write_row((*row, json.dumps(hardware)))


def _write_daily(
    cur: psycopg.Cursor[Any],
    daily: Any,
    hosts: npt.NDArray[np.int32],
    apps: npt.NDArray[np.int32],
    versions: npt.NDArray[np.int32],
) -> None:
    """The daily rows in the order the rollup leaves them: days as they pass, a day's hosts
    in order."""
    order = np.lexsort((daily.host, daily.day))
    copy_binary(
        cur,
        "launch_daily",
        {
            "host": hosts[daily.host[order]],
            "day": daily.day[order].astype(np.int32),
            "app": apps[daily.app[order]],
            "version": versions[daily.version[order]],
            "cold": daily.cold[order],
            "count": daily.count[order].astype(np.int32),
            **{name: getattr(daily, name)[order] for name in launch_daily.FIGURES},
            "sequence": np.ones(len(daily), dtype=np.int64),
        },
    )


def _write_launches(cur: psycopg.Cursor[Any], frame: Any, host_ids: list[str]) -> None:
    """Raw launches through a numeric staging table."""
    cur.execute(
        "CREATE UNLOGGED TABLE bench_launches (host int4, app int4, version int4, cold bool,"
        " started_at float8, duration float8)"
    )
    copy_binary(
        cur,
        "bench_launches",
        {
            "host": frame.host.astype(np.int32),
            "app": frame.app.astype(np.int32),
            "version": frame.version.astype(np.int32),
            "cold": frame.cold,
            "started_at": frame.started_at,
            "duration": frame.duration,
        },
    )
    cur.execute(
        "INSERT INTO launches (host_id, batch_id, app, version, method, outcome, started_at,"
        " duration_seconds, ready_signal, start_kind, phases)"
        " SELECT (%s::text[])[host + 1], 'b' || host || '-' || floor(started_at / 3600)::int8,"
        " (%s::text[])[app + 1],"
        " NULLIF((%s::text[])[version + 1], ''), 'passive', 'ok', started_at, duration,"
        " 'cpu_settled', CASE WHEN cold THEN 'cold' ELSE 'warm' END, '{}'"
        " FROM bench_launches",
        (host_ids, frame.apps, frame.versions),
    )
    cur.execute("DROP TABLE bench_launches")


def _write_spans(
    cur: psycopg.Cursor[Any],
    changes: Any,
    hosts: list[str],
    apps: list[str],
    versions: list[str],
    start: float,
) -> None:
    """Each (host, app)'s versions as a chain of spans, from its changes; the last one open."""
    order = np.lexsort((changes.at, changes.app, changes.host)).tolist()
    pairs = [(int(changes.host[i]), int(changes.app[i])) for i in order]
    with cur.copy(
        "COPY version_spans (host_id, source, package, arch, app, version, since, until) FROM STDIN"
    ) as copy:
        for k, i in enumerate(order):
            host, app = pairs[k]
            at = float(changes.at[i])
            package = (hosts[host], "dpkg", apps[app], "amd64", apps[app])
            if k == 0 or pairs[k - 1] != pairs[k]:
                copy.write_row((*package, versions[changes.from_version[i]], start - DAY, at))
            following = k + 1 < len(order) and pairs[k + 1] == pairs[k]
            until = float(changes.at[order[k + 1]]) if following else None
            copy.write_row((*package, versions[changes.to_version[i]], at, until))


def _write_pressure(cur: psycopg.Cursor[Any], pressure: Any, hosts: list[str]) -> None:
    """One daily rollup per host, day and pressure series reported (1,440 one-minute
    summaries at the day's mean; the disk's maximum as its value)."""
    cur.execute(
        "CREATE UNLOGGED TABLE bench_pressure (host int4, series int4, day float8, value float8)"
    )
    columns = list(PRESSURE_SERIES)
    for series, name in enumerate(columns):
        value = getattr(pressure, name)
        keep = ~np.isnan(value)
        copy_binary(
            cur,
            "bench_pressure",
            {
                "host": pressure.host[keep].astype(np.int32),
                "series": np.full(int(keep.sum()), series, dtype=np.int32),
                "day": pressure.day[keep],
                "value": value[keep],
            },
        )
    names = [PRESSURE_SERIES[c][0] for c in columns]
    labels = [PRESSURE_SERIES[c][1] for c in columns]
    cur.execute(
        "INSERT INTO metric_rollups_daily (host_id, name, labels, bucket_start, count, sum, min,"
        " max, p50, p90, p99, updated_at) SELECT (%s::text[])[host + 1],"
        " (%s::text[])[series + 1], (%s::text[])[series + 1], day, 1440, 1440 * value, 0,"
        " value, value, value, value, day FROM bench_pressure",
        (hosts, names, labels),
    )
    cur.execute("DROP TABLE bench_pressure")
