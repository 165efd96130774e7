"""The analysis job end to end from PostgreSQL, with one advisor and with two.

    .venv/bin/python bench/analysis_job.py [--hosts 10000] [--hosts 50000] [--days 90]
        [--advisors 1] [--advisors 2] [--no-raw-launches] [--keep | --reuse URL ...]
        [--write-only] [--postgres-admin URL]

For each size (default 10,000 hosts, then 50,000): a fresh PostgreSQL database with the
simulator's fleet (bench/fleet_db.py: 20 apps, 90 days, daily launch rollups and pressure as
the rollup leaves them), its days ending at 00:00 UTC today, so that the advisors' wall clock
is at the end of the analysis window. Then, for each number of advisors (default 1, then 2),
that many fresh processes each do what ``serve``'s scheduler does at an analysis tick: open
the stores from an advisor config (``[database] url``, ``[analysis] window_days``), build
the job runners (advisor.jobs.tasks.build_runners) and call the analysis runner's ``tick()``
once: list the parts (one per app), claim each part's lease and tick, load its frames
(advisor.store.analysis_data.SqlFleetFrames), analyse them, record the findings. The
processes start their tick at the same instant (after their imports). Between runs the job
and findings tables are emptied, so each run does the same work.

Prints per run the wall time from the common start to the last process's end (the target:
10,000 hosts under 60 s with one advisor), and per process: the parts it ran, its seconds
loading and analysing, its resident size before the tick and its peak (VmHWM). The 50,000-host
line shows time and memory growth against 10,000 (ratios: the machine is shared and noisy).
``--no-raw-launches`` leaves the raw launches out of the database (the job reads only the
daily rows; the 50,000-host database is 5 times smaller without them). The database is
dropped afterwards unless ``--keep``; ``--write-only --keep`` writes the databases and stops,
``--reuse URL`` (once per ``--hosts``, in the same order) measures databases written so,
first upgraded to this advisor's schema. No assertions: figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleet_db import (  # noqa: E402
    DAY,
    POSTGRES_ADMIN,
    create_database,
    drop_database,
    libpq,
    write_fleet,
)

SIZES = (10_000, 50_000)
ADVISORS = (1, 2)
TARGET_SECONDS = 60.0
_RESET = (
    "TRUNCATE job_state, finding_events, finding_history, findings, analysis_runs"
    " RESTART IDENTITY CASCADE"
)


def _status_mb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak) of this process in MB (not ru_maxrss: Linux carries
    that over from the parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def advisor_tick(config_path: str, go_at: float) -> dict[str, Any]:
    """One advisor process: the analysis runner's tick, as ``serve``'s scheduler calls it."""
    from prometheus_client import CollectorRegistry

    import advisor.analysis.fleet  # noqa: F401  - imported before the start, as a warm advisor
    from advisor.config import load_config
    from advisor.jobs.analysis import AnalysisWork
    from advisor.jobs.metrics import JobMetrics
    from advisor.jobs.names import ANALYSIS
    from advisor.jobs.tasks import JOB_TABLES, build_runners, default_owner
    from advisor.store.open import open_store

    config = load_config(Path(config_path))
    stores = open_store(config)
    metrics = JobMetrics(CollectorRegistry(), JOB_TABLES)
    runner = build_runners(stores, config, metrics, owner=default_owner())[ANALYSIS]
    work = runner.work
    assert isinstance(work, AnalysisWork)
    before = _status_mb("VmRSS")
    time.sleep(max(0.0, go_at - time.time()))
    started = time.time()
    report = runner.tick()
    ended = time.time()
    stores.close()
    return {
        "outcome": report.outcome,
        "error": report.error,
        "parts": len(work.outcomes),
        "launches": sum(o.launches for o in work.outcomes),
        "load_s": sum(o.load_seconds for o in work.outcomes),
        "analyse_s": sum(o.analyse_seconds for o in work.outcomes),
        "findings": sum(o.summary.new + o.summary.pending for o in work.outcomes),
        "started": started,
        "ended": ended,
        "rss_before_mb": before,
        "peak_rss_mb": _status_mb("VmHWM"),
    }


def upgrade_schema(url: str) -> None:
    """A reused database brought to this advisor's schema (a new revision may rebuild a
    table: minutes at fleet scale)."""
    from advisor.store.engine import make_engine
    from advisor.store.migrate import upgrade

    engine = make_engine(url)
    began = time.perf_counter()
    upgrade(engine)
    engine.dispose()
    print(f"  schema upgraded in {time.perf_counter() - began:.0f} s", flush=True)


def run_advisors(url: str, advisors: int, days: int) -> dict[str, Any]:
    """``advisors`` processes ticking together on ``url``'s database; their figures."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(_RESET)
    with tempfile.TemporaryDirectory() as state:
        config = Path(state) / "advisor.toml"
        config.write_text(
            f'[advisor]\nstate_dir = "{state}"\n[database]\nurl = "{url}"\n'
            f"[analysis]\nwindow_days = {days}\n"
        )
        go_at = time.time() + 8.0 + 2.0 * advisors  # after every process's imports
        children = [
            subprocess.Popen(
                [sys.executable, __file__, "--advisor", str(config), "--go-at", str(go_at)],
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            for _ in range(advisors)
        ]
        rows = []
        for child in children:
            out, _ = child.communicate()
            if child.returncode != 0:
                raise SystemExit(f"an advisor process failed ({child.returncode})")
            rows.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(r["ended"] for r in rows) - min(r["started"] for r in rows)
    return {"advisors": advisors, "wall_s": wall, "processes": rows}


def report(hosts: int, run: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    rows = run["processes"]
    parts = sum(r["parts"] for r in rows)
    launches = sum(r["launches"] for r in rows)
    target = f" (target < {TARGET_SECONDS:.0f} s)" if hosts == 10_000 else ""
    print(
        f"  {run['advisors']} advisor(s): {run['wall_s']:6.1f} s{target}, {parts} parts,"
        f" {launches:,} launches",
        flush=True,
    )
    for i, r in enumerate(rows, 1):
        print(
            f"    process {i}: {r['outcome']}, {r['parts']:>2} parts, load {r['load_s']:5.1f} s,"
            f" analysis {r['analyse_s']:5.1f} s, RSS {r['rss_before_mb']:.0f} MB -> peak"
            f" {r['peak_rss_mb']:.0f} MB" + (f", {r['error']}" if r["error"] else ""),
            flush=True,
        )
    if baseline is not None:
        peak = max(r["peak_rss_mb"] for r in rows)
        base_peak = max(r["peak_rss_mb"] for r in baseline["processes"])
        print(
            f"    against {baseline['hosts']:,} hosts, same advisors:"
            f" time x{run['wall_s'] / baseline['wall_s']:.2f},"
            f" peak memory x{peak / base_peak:.2f}"
            f" (hosts x{hosts / baseline['hosts']:.1f})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, action="append", help="a size (repeatable)")
    parser.add_argument("--advisors", type=int, action="append", help="advisors (repeatable)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-raw-launches", action="store_true")
    parser.add_argument("--postgres-admin", default=POSTGRES_ADMIN, metavar="URL")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--reuse", metavar="URL", action="append", help="a database an earlier --keep wrote"
    )
    parser.add_argument("--write-only", action="store_true", help="write the databases, stop")
    parser.add_argument("--advisor", metavar="CONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--go-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.advisor:
        print(json.dumps(advisor_tick(args.advisor, args.go_at)))
        return
    sizes = args.hosts or list(SIZES)
    advisors = args.advisors or list(ADVISORS)
    start = (time.time() // DAY) * DAY - args.days * DAY
    baselines: dict[int, dict[str, Any]] = {}
    reused = args.reuse or []
    if reused and len(reused) != len(sizes):
        parser.error("give one --reuse URL per --hosts, in the same order")
    for k, hosts in enumerate(sizes):
        url = reused[k] if reused else create_database(args.postgres_admin)
        try:
            print(f"PostgreSQL, {hosts:,} hosts x 20 apps x {args.days} days", flush=True)
            if reused:
                upgrade_schema(url)
            else:
                written = write_fleet(
                    url,
                    hosts=hosts,
                    days=args.days,
                    seed=args.seed,
                    start=start,
                    raw_launches=not args.no_raw_launches,
                )
                print(
                    f"  generated in {written['generate_s']:.0f} s, written in"
                    f" {written['write_s']:.0f} s: {written['daily_rows']:,} daily rows"
                    f" ({written['launch_daily_mb']:,.0f} MB), {written['launches']:,} launches"
                    + ("" if not args.no_raw_launches else " (raw launches not written)"),
                    flush=True,
                )
            for count in [] if args.write_only else advisors:
                run = run_advisors(url, count, args.days)
                run["hosts"] = hosts
                report(hosts, run, baselines.get(count))
                baselines.setdefault(count, run)
        finally:
            if args.keep or reused:
                print(f"  kept: {url}")
            else:
                drop_database(url, args.postgres_admin)


if __name__ == "__main__":
    main()
