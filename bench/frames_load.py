"""Loading the analysis frames from the store: 1 million launches, SQLite and PostgreSQL.

    .venv/bin/python bench/frames_load.py [--launches 1000000] [--hosts 1000] [--apps 20]
        [--days 90] [--backend sqlite|postgresql|both] [--postgres-admin URL] [--seed 5]

Writes a fleet straight into a fresh, migrated database with bulk inserts (not through
ingest: that is bench/ingest.py's subject): hosts with hardware JSON, ``--launches`` launches
spread over ``--days`` days (a tenth of them failed or timed out, which the loader skips),
two version spans per host and app (one change each), and a daily rollup per host, day and
pressure series. Then times `SqlFleetFrames.load` (advisor.store.analysis_data) over the window (the
best of three runs, the first one warming the database's cache) and prints rows per frame,
seconds, launches per second, and the peak of Python allocations while loading (tracemalloc,
on a separate untimed run). PostgreSQL databases are created under ``--postgres-admin`` and
dropped afterwards. No assertions: figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import sqlalchemy as sa
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.store.analysis_data import SqlFleetFrames  # noqa: E402
from advisor.store.engine import make_engine  # noqa: E402
from advisor.store.frames import PRESSURE_SERIES  # noqa: E402
from advisor.store.migrate import upgrade  # noqa: E402
from advisor.store.models import DAILY, HOSTS, LAUNCHES, SPANS  # noqa: E402

DAY = 86_400.0
NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC
CHUNK = 50_000
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def write_fleet(engine: sa.Engine, args: argparse.Namespace) -> None:
    """The fleet of the module docstring, in chunks of :data:`CHUNK` rows."""
    rng = np.random.default_rng(args.seed)
    start = NOW - args.days * DAY
    host_ids = [f"host-{i:05d}" for i in range(args.hosts)]
    apps = [f"app-{i:02d}" for i in range(args.apps)]
    with engine.begin() as conn:
        conn.execute(
            HOSTS.insert(),
            [
                {
                    "host_id": host_id,
                    "hostname": host_id,
                    "department": f"dept-{i % 12}",
                    "credential_sha256": f"{i:064x}",
                    "enrolled_at": start,
                    "agent_version": "0.1.0",
                    "hardware": {
                        "memory_bytes": int(2 ** (32 + i % 3)),
                        "cpu_cores": 2 + 2 * (i % 4),
                        "disks": [{"name": "sda", "kind": "hdd" if i % 3 else "ssd"}],
                    },
                }
                for i, host_id in enumerate(host_ids)
            ],
        )
        changed_at = start + args.days * DAY / 2
        conn.execute(
            SPANS.insert(),
            [
                {
                    "host_id": host_id,
                    "source": "dpkg",
                    "package": app,
                    "arch": "amd64",
                    "app": app,
                    "version": version,
                    "since": since,
                    "until": until,
                }
                for host_id in host_ids
                for app in apps
                for version, since, until in (
                    ("1.0", start - DAY, changed_at),
                    ("1.1", changed_at, None),
                )
            ],
        )
    for rows in _launch_chunks(rng, host_ids, apps, start, args):
        with engine.begin() as conn:
            conn.execute(LAUNCHES.insert(), rows)
    series = [name for name, _ in PRESSURE_SERIES.values()]
    labels = [label for _, label in PRESSURE_SERIES.values()]
    rollups = [
        {
            "host_id": host_id,
            "name": name,
            "labels": label,
            "bucket_start": start + day * DAY,
            "count": 1440,
            "sum": 1440 * 0.05,
            "min": 0.0,
            "max": 0.5,
            "p50": 0.04,
            "p90": 0.1,
            "p99": 0.3,
            "updated_at": NOW,
        }
        for host_id in host_ids
        for day in range(args.days)
        for name, label in zip(series, labels, strict=True)
    ]
    for i in range(0, len(rollups), CHUNK):
        with engine.begin() as conn:
            conn.execute(DAILY.insert(), rollups[i : i + CHUNK])


def _launch_chunks(
    rng: np.random.Generator,
    host_ids: list[str],
    apps: list[str],
    start: float,
    args: argparse.Namespace,
) -> Iterator[list[dict[str, Any]]]:
    left = args.launches
    outcomes = np.array(["ok"] * 9 + ["timeout"])
    while left > 0:
        n = min(CHUNK, left)
        left -= n
        hosts = rng.integers(0, len(host_ids), n)
        app = rng.integers(0, len(apps), n)
        started = rng.uniform(start, NOW, n)
        duration = rng.lognormal(0.5, 0.4, n)
        outcome = outcomes[rng.integers(0, len(outcomes), n)]
        cold = rng.random(n) < 0.3
        midpoint = start + args.days * DAY / 2
        yield [
            {
                "host_id": host_ids[hosts[i]],
                "batch_id": "bench",
                "app": apps[app[i]],
                "version": "1.1" if started[i] >= midpoint else "1.0",
                "method": "passive",
                "outcome": str(outcome[i]),
                "started_at": float(started[i]),
                "duration_seconds": float(duration[i]),
                "ready_signal": "cpu_settled",
                "start_kind": "cold" if cold[i] else "warm",
                "phases": {},
            }
            for i in range(n)
        ]


def measure(engine: sa.Engine, args: argparse.Namespace, label: str) -> None:
    print(f"{label}: writing {args.launches:,} launches, {args.hosts:,} hosts ...", flush=True)
    began = time.perf_counter()
    write_fleet(engine, args)
    print(f"  written in {time.perf_counter() - began:.1f} s", flush=True)
    timings = []
    data = None
    frames = SqlFleetFrames(engine)
    for _ in range(3):
        began = time.perf_counter()
        data = frames.load(now=NOW, days=args.days)
        timings.append(time.perf_counter() - began)
    assert data is not None
    tracemalloc.start()
    frames.load(now=NOW, days=args.days)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best = min(timings)
    print(
        f"  loaded {len(data.launches):,} launches, {len(data.changes):,} version changes, "
        f"{len(data.pressure):,} host-days of pressure, {len(data.launches.hosts):,} hosts"
    )
    print(
        f"  FleetFrames.load: best {best:.2f} s of {', '.join(f'{t:.2f}' for t in timings)} "
        f"({len(data.launches) / best:,.0f} launches/s); peak Python allocations "
        f"{peak / 2**20:.0f} MiB"
    )


def run_sqlite(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.sqlite3'}")
        try:
            upgrade(engine)
            measure(engine, args, "SQLite")
        finally:
            engine.dispose()


def run_postgresql(args: argparse.Namespace) -> None:
    admin = sa.make_url(args.postgres_admin)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"fleetsight_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        engine = make_engine(admin.set(database=name).render_as_string(hide_password=False))
        try:
            upgrade(engine)
            measure(engine, args, "PostgreSQL")
        finally:
            engine.dispose()
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=1_000)
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-admin", default=POSTGRES_ADMIN, metavar="URL")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        run_sqlite(args)
    if args.backend in ("postgresql", "both"):
        run_postgresql(args)


if __name__ == "__main__":
    main()
