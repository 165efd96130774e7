"""Loading the analysis frames from PostgreSQL: daily launch rollups against raw launches.

    .venv/bin/python bench/frames_load.py [--hosts 1000] [--days 90] [--seed 1]
        [--postgres-admin URL] [--runs 2] [--keep | --reuse URL]

Generates a fleet with the simulator's columnar path (advisor/simulator/columnar.py, scenario
``scale-20-apps``: 20 apps, about 2,300 launches per host over 90 days, one version change
per host and app, daily pressure), derives its daily launch rows with
advisor.analysis.daily.daily_launches, and bulk-loads a fresh, migrated PostgreSQL database
with binary COPY: hosts, raw ``launches``, ``launch_daily`` and its dictionaries, version
spans and ``metric_rollups_daily`` (not through ingest or the rollup: bench/ingest.py
measures those). Then, each in a fresh process (so that its peak RSS is its own), over the
``--days`` window:

- raw launches, the old way: the streamed SELECT that loaded launches before issue 13;
- daily rows by binary COPY (advisor.store.launch_daily.read_rows);
- ``SqlFleetFrames.load`` with daily rows only (the job path once the analysis reads them),
  and with raw launches too (the job path today);
- an incremental reload (``incremental=True``): a load, one host-day rewritten, a load;
- ``SqlFleetFrames.load`` again after a day of launches was moved into batches not rolled
  up yet (every host's last working day: those host-days recomputed from raw launches).

Each prints seconds (every run; the first warms the database's cache), rows per second,
the process's resident size before loading and its peak (VmHWM). The database is dropped
afterwards unless ``--keep``. No assertions: figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
import sqlalchemy as sa
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.analysis.daily import daily_launches  # noqa: E402
from advisor.store import launch_daily  # noqa: E402
from advisor.store.analysis_data import SqlFleetFrames  # noqa: E402
from advisor.store.engine import make_engine  # noqa: E402
from advisor.store.frames import PRESSURE_SERIES, _load_launches, window_days  # noqa: E402
from advisor.store.migrate import upgrade  # noqa: E402

DAY = 86_400.0
START = 1_756_684_800.0  # 2025-09-01 00:00 UTC, as bench/analysis_scale.py
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COPY_ROWS = 1_000_000
MEASURES = (
    "raw-launches",
    "daily-rows",
    "load-daily",
    "load-daily-and-raw",
    "incremental",
    "load-daily-pending",  # after leave_a_day_pending()
)
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)


# -- writing -------------------------------------------------------------------------------


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


def write_fleet(conn: psycopg.Connection[Any], args: argparse.Namespace) -> dict[str, Any]:
    """The fleet of the module docstring; what was written, counted."""
    from advisor.simulator import plan_fleet
    from advisor.simulator.columnar import fleet_columns, pressure_frame
    from advisor.simulator.scenario import scale_scenario

    began = time.perf_counter()
    fleet = plan_fleet(
        scale_scenario(),
        hosts=args.hosts,
        days=args.days,
        seed=args.seed,
        start=START,
        interval=3600.0,
    )
    columns = fleet_columns(fleet)
    frame = columns.launches
    daily = daily_launches(frame)
    pressure = pressure_frame(fleet)
    generated = time.perf_counter() - began
    began = time.perf_counter()
    hosts, apps, versions = frame.hosts.host_id, frame.apps, frame.versions
    with conn.cursor() as cur:
        with cur.copy(
            "COPY hosts (host_id, hostname, department, credential_sha256, enrolled_at,"
            " agent_version, hardware) FROM STDIN"
        ) as copy:
            for i, host_id in enumerate(hosts):
                hardware = {
                    "memory_bytes": float(frame.hosts.ram_bytes[i]),
                    "cpu_cores": float(frame.hosts.cpu_cores[i]),
                    "disks": [
                        {"name": "sda", "kind": "hdd" if frame.hosts.disk_rotational[i] else "ssd"}
                    ],
                }
                copy.write_row(
                    (
                        host_id,
                        host_id,
                        frame.hosts.department[i],
                        f"{i:064x}",
                        START,
                        "0.1.0",
                        json.dumps(hardware),
                    )
                )
        for table, names in (
            ("launch_daily_hosts", hosts),
            ("launch_daily_apps", apps),
            ("launch_daily_versions", versions),
        ):
            # Codes 1.. in the frame's order: code = frame code + 1 (the migration's "" goes).
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            with cur.copy(f"COPY {table} (code, name) FROM STDIN") as copy:
                for code, name in enumerate(names, start=1):
                    copy.write_row((code, name))
            cur.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'code'), %s)", (table, len(names))
            )
        # In the order the rollup leaves them: days as they pass, a day's hosts in order.
        order = np.lexsort((daily.host, daily.day))
        copy_binary(
            cur,
            "launch_daily",
            {
                "host": (daily.host[order] + 1).astype(np.int32),
                "day": daily.day[order].astype(np.int32),
                "app": (daily.app[order] + 1).astype(np.int32),
                "version": (daily.version[order] + 1).astype(np.int32),
                "cold": daily.cold[order],
                "count": daily.count[order].astype(np.int32),
                **{name: getattr(daily, name)[order] for name in launch_daily.FIGURES},
                "sequence": np.ones(len(daily), dtype=np.int64),
            },
        )
        cur.execute(
            "INSERT INTO launch_daily_state (id, sequence, raw_from_day, kept_from_day)"
            " VALUES (1, 1, 0, 0) ON CONFLICT (id) DO UPDATE SET sequence = 1"
        )
        _write_launches(cur, frame)
        _write_spans(cur, columns.changes, hosts, apps, versions)
        _write_pressure(cur, pressure, hosts)
    conn.commit()
    written = time.perf_counter() - began
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    sizes = {
        table: conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()[0]  # type: ignore[index]
        for table in ("launches", "launch_daily")
    }
    return {
        "generate_s": generated,
        "write_s": written,
        "launches": len(frame),
        "daily_rows": len(daily),
        "launches_mb": sizes["launches"] / 2**20,
        "launch_daily_mb": sizes["launch_daily"] / 2**20,
    }


_LAUNCH_INDEXES = {
    "ix_launches_app_started_at": "launches (app, started_at)",
    "ix_launches_host_id_app_started_at": "launches (host_id, app, started_at)",
    "ix_launches_started_at": "launches (started_at)",
    "ix_launches_batch_id": "launches (batch_id)",
}


def _write_launches(cur: psycopg.Cursor[Any], frame: Any) -> None:
    """Raw launches through a numeric staging table; indexes built after (faster)."""
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
    for name in _LAUNCH_INDEXES:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    cur.execute(
        "INSERT INTO launches (host_id, batch_id, app, version, method, outcome, started_at,"
        " duration_seconds, ready_signal, start_kind, phases)"
        " SELECT (%s::text[])[host + 1], 'b' || host || '-' || floor(started_at / 3600)::int8,"
        " (%s::text[])[app + 1],"
        " NULLIF((%s::text[])[version + 1], ''), 'passive', 'ok', started_at, duration,"
        " 'cpu_settled', CASE WHEN cold THEN 'cold' ELSE 'warm' END, '{}'"
        " FROM bench_launches",
        (frame.hosts.host_id, frame.apps, frame.versions),
    )
    cur.execute("DROP TABLE bench_launches")
    for name, target in _LAUNCH_INDEXES.items():
        cur.execute(sql.SQL("CREATE INDEX {} ON " + target).format(sql.Identifier(name)))


def _write_spans(
    cur: psycopg.Cursor[Any], changes: Any, hosts: list[str], apps: list[str], versions: list[str]
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
                copy.write_row((*package, versions[changes.from_version[i]], START - DAY, at))
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


# -- measuring (one measure per process) ---------------------------------------------------


def _status_mb(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of this process, in MB. Not
    ru_maxrss: Linux carries that over from the parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed(runs: int, work: Callable[[], int]) -> tuple[list[float], int]:
    timings, rows = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        rows = work()
        timings.append(time.perf_counter() - began)
    return timings, rows


def measure(name: str, url: str, now: float, days: int, runs: int) -> dict[str, Any]:
    engine = make_engine(url)
    before = _status_mb("VmRSS")
    first_day, last_day = window_days(now, days)

    def raw() -> int:
        with engine.connect() as conn:
            return len(_load_launches(conn, start=now - days * DAY, now=now, notes=[]).host)

    def daily() -> int:
        with engine.connect() as conn:
            return len(launch_daily.read_rows(conn, from_day=first_day, to_day=last_day))

    def load(raw_launches: bool) -> Callable[[], int]:
        frames = SqlFleetFrames(engine, raw_launches=raw_launches)

        def work() -> int:
            data = frames.load(now=now, days=days)
            assert data.daily is not None
            return len(data.daily) + len(data.launches)

        return work

    works: dict[str, Callable[[], int]] = {
        "raw-launches": raw,
        "daily-rows": daily,
        "load-daily": load(False),
        "load-daily-and-raw": load(True),
        "load-daily-pending": load(False),
    }
    if name == "incremental":
        frames = SqlFleetFrames(engine, raw_launches=False, incremental=True)
        began = time.perf_counter()
        first = frames.load(now=now, days=days)
        first_s = time.perf_counter() - began
        with engine.begin() as conn:  # the rollup rewriting one host-day
            assert first.daily is not None
            launch_daily.recompute(conn, {(first.daily.hosts.host_id[0], last_day - 1)})
        timings, rows = _timed(runs, lambda: len(frames.load(now=now, days=days).daily or ()))
        timings = [first_s, *timings]
    else:
        timings, rows = _timed(runs, works[name])
    engine.dispose()
    peak = _status_mb("VmHWM")
    return {
        "measure": name,
        "seconds": timings,
        "rows": rows,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
    }


def run_measure(name: str, url: str, args: argparse.Namespace, label: str = "") -> None:
    """One measure in a fresh process (its peak RSS is its own); a line of figures."""
    now = START + args.days * DAY
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            *("--measure", name, "--url", url, "--now", str(now)),
            *("--days", str(args.days), "--runs", str(args.runs)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    row = json.loads(done.stdout.strip().splitlines()[-1])
    best = min(row["seconds"])
    print(
        f"  {label or name:<28} {row['rows']:>12,} rows  "
        f"{', '.join(f'{t:.2f}' for t in row['seconds'])} s  "
        f"{row['rows'] / best:>12,.0f} rows/s  "
        f"RSS {row['rss_before_mb']:.0f} -> peak {row['peak_rss_mb']:.0f} MB",
        flush=True,
    )


def leave_a_day_pending(url: str, days: int) -> int:
    """Every host's launches of the fleet's last working day moved into a batch of its own
    not rolled up yet (a rollup stalled for a day; an hour's worth is usual): the analysis
    recomputes those host-days from raw launches. How many launches."""
    now = START + days * DAY
    first = (int(now // DAY) - 2) * DAY  # the data ends on a Saturday: Friday
    target = sa.make_url(url).set(drivername="postgresql")
    with psycopg.connect(target.render_as_string(hide_password=False)) as conn:
        conn.execute(
            "INSERT INTO batches (host_id, batch_id, sequence, created_at, received_at)"
            " SELECT host_id, 'pending-' || host_id, 1, %s, %s FROM hosts"
            " ON CONFLICT (host_id, batch_id) DO UPDATE SET rolled_up_at = NULL",
            (now, now),
        )
        moved = conn.execute(
            "UPDATE launches SET batch_id = 'pending-' || host_id"
            " WHERE started_at >= %s AND started_at < %s",
            (first, first + DAY),
        ).rowcount
        conn.execute("ANALYZE launches")
        return moved


def settle_pending(url: str) -> None:
    """A reused database: its batches left pending by :func:`leave_a_day_pending` rolled up
    again (their launches' daily rows were written with the rest)."""
    target = sa.make_url(url).set(drivername="postgresql")
    with psycopg.connect(target.render_as_string(hide_password=False)) as conn:
        conn.execute(
            "UPDATE batches SET rolled_up_at = received_at WHERE batch_id LIKE 'pending-%%'"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--postgres-admin", default=POSTGRES_ADMIN, metavar="URL")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--reuse", metavar="URL", help="measure a database an earlier --keep run wrote"
    )
    parser.add_argument("--measure", choices=MEASURES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--now", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.url, args.now, args.days, args.runs)))
        return
    admin = sa.make_url(args.postgres_admin)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"fleetsight_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = args.reuse or admin.set(database=name).render_as_string(hide_password=False)
    if not args.reuse:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        print(f"PostgreSQL, {args.hosts:,} hosts x 20 apps x {args.days} days", flush=True)
        if not args.reuse:
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            target = sa.make_url(url).set(drivername="postgresql")
            with psycopg.connect(target.render_as_string(hide_password=False)) as conn:
                written = write_fleet(conn, args)
            print(
                f"  generated in {written['generate_s']:.1f} s, written in"
                f" {written['write_s']:.1f} s: {written['launches']:,} launches"
                f" ({written['launches_mb']:,.0f} MB with indexes), {written['daily_rows']:,}"
                f" daily rows ({written['launch_daily_mb']:,.0f} MB)",
                flush=True,
            )
        if args.reuse:
            settle_pending(url)
        for measured in MEASURES[:-1]:
            run_measure(measured, url, args)
        moved = leave_a_day_pending(url, args.days)
        run_measure("load-daily-pending", url, args, f"load-daily, {moved:,} pending")
    finally:
        if args.keep or args.reuse:
            print(f"  kept: {url}")
        else:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


if __name__ == "__main__":
    main()
