"""Loading the analysis frames from PostgreSQL: daily launch rollups against raw launches.

    .venv/bin/python bench/frames_load.py [--hosts 1000] [--days 90] [--seed 1]
        [--postgres-admin URL] [--runs 2] [--keep | --reuse URL]

Generates a fleet with the simulator's columnar path (advisor/simulator/columnar.py, scenario
``scale-20-apps``: 20 apps, about 2,300 launches per host over 90 days, one version change
per host and app, daily pressure), derives its daily launch rows with
advisor.analysis.daily.daily_launches, and bulk-loads a fresh, migrated PostgreSQL database
with binary COPY (bench/fleet_db.py): hosts, raw ``launches``, ``launch_daily`` and its
dictionaries, version spans and ``metric_rollups_daily`` (not through ingest or the rollup:
bench/ingest.py measures those). Then, each in a fresh process (so that its peak RSS is
its own), over the ``--days`` window:

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
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleet_db import (  # noqa: E402
    DAY,
    POSTGRES_ADMIN,
    START,
    create_database,
    drop_database,
    libpq,
    write_fleet,
)

from advisor.store import launch_daily  # noqa: E402
from advisor.store.analysis_data import SqlFleetFrames  # noqa: E402
from advisor.store.engine import make_engine  # noqa: E402
from advisor.store.frames import _load_launches, window_days  # noqa: E402

MEASURES = (
    "raw-launches",
    "daily-rows",
    "load-daily",
    "load-daily-and-raw",
    "incremental",
    "load-daily-pending",  # after leave_a_day_pending()
)


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
    with psycopg.connect(libpq(url)) as conn:
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
    with psycopg.connect(libpq(url)) as conn:
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
    url = args.reuse or create_database(args.postgres_admin)
    try:
        print(f"PostgreSQL, {args.hosts:,} hosts x 20 apps x {args.days} days", flush=True)
        if not args.reuse:
            written = write_fleet(url, hosts=args.hosts, days=args.days, seed=args.seed)
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
            drop_database(url, args.postgres_admin)


if __name__ == "__main__":
    main()
