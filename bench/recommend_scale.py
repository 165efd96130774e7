"""The recommendation job at fleet scale, from PostgreSQL, through the real job path.

    .venv/bin/python bench/recommend_scale.py [--hosts 2000] [--hosts 10000] [--days 90]
        [--keep | --reuse URL ...] [--postgres-admin URL]

For each size (default 2,000 hosts, then 10,000): a fresh PostgreSQL database with the
simulator's fleet (bench/fleet_db.py: scale-20-apps, 20 apps, 90 days of daily launch
rollups, version spans and daily pressure ending at 00:00 UTC today), the vendor catalog
(the endoflife.date data in tests/fixtures/endoflife, config/catalog.toml) and the cost
settings (config/costs.toml) imported with `catalog import`, and one analysis with
`fleetsight-advisor analyse` for the findings (not timed: bench/analysis_job.py measures it).
``--reuse URL`` measures a database an earlier ``--keep`` wrote, its recommendations and
audit log emptied first.

Then, each in a fresh process that opens the stores from an advisor config as `serve` does:

1. **the scheduled tick**: `build_runners(...)["recommend"].tick()`, which sees the analysis
   finished and runs: the loop (nothing approved yet), the facts of the last 14 days a part
   of the daily rows at a time, the engine, `propose`;
2. **a second run** after the top three recommendations were approved (`recommend`'s path:
   the job's work with ``always``): the loop reads their hosts' inventories, the engine runs
   again and the approved keys keep their figures;
3. **a verification**: the three approved ones marked rolled out 20 days ago, their hosts'
   inventories rewritten to show the change (the launch data has none, so each should
   measure about 0),
   then a run: the loop measures them (changed hosts against the others over the same days,
   every app a part at a time, 34 days read) and verifies them, the engine runs again;
4. for comparison, the same 14 days' facts from **one load of the whole fleet** (what the job
   would hold without parts): load and facts only.

Prints each run's wall time (the target: 10,000 hosts under 30 s), its phases (facts: load
and facts of every part; engine; the rest is the catalog, the loop and the store), what it
proposed, and the process's peak resident size (VmHWM, not ru_maxrss: Linux carries that over
across fork and exec). No assertions: figures for docs/benchmarks.md.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from fleet_db import (  # noqa: E402
    DAY,
    POSTGRES_ADMIN,
    create_database,
    drop_database,
    libpq,
    write_fleet,
)

SIZES = (2_000, 10_000)
TARGET_SECONDS = 30.0
ADVISOR = [sys.executable, "-m", "advisor"]
ENDOFLIFE = ROOT / "tests" / "fixtures" / "endoflife"
APPROVED = 3
_RESET = (
    "TRUNCATE recommendations, recommendation_departments, audit_log RESTART IDENTITY CASCADE;"
    " DELETE FROM job_state WHERE job LIKE 'recommend%'"
)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, config_path: str) -> dict[str, Any]:
    """One advisor process: ``tick`` (the scheduled run), ``again`` (approve the top three,
    then a run as ``recommend`` makes it), ``verify`` (those three rolled out 20 days ago,
    then a run) or ``whole`` (one load of the whole fleet's days)."""
    from prometheus_client import CollectorRegistry

    import advisor.recommend.engine  # noqa: F401  - imported before the clock starts, as a warm advisor
    from advisor.config import load_config
    from advisor.jobs.metrics import JobMetrics
    from advisor.jobs.names import RECOMMEND
    from advisor.jobs.recommend import RecommendWork
    from advisor.jobs.tasks import JOB_TABLES, build_runners, default_owner, recommend_settings
    from advisor.store.open import open_store

    config = load_config(Path(config_path))
    stores = open_store(config)
    before = _status_mb("VmRSS")
    started = time.perf_counter()
    result: dict[str, Any] = {}
    if mode == "whole":
        from advisor.recommend.facts import fleet_facts
        from advisor.recommend.parameters import RecommendParameters

        params = RecommendParameters()
        now = time.time()
        data = stores.frames.load(now=now, days=params.recent_days)
        loaded = time.perf_counter()
        facts = fleet_facts(data, now=now, params=params)
        result = {
            "load_s": loaded - started,
            "facts_s": time.perf_counter() - loaded,
            "daily_rows": len(data.daily) if data.daily is not None else 0,
            "usage_rows": len(facts.usage),
        }
    else:
        if mode == "verify":
            from advisor.store.recommendations import RecommendationFilter

            approved = stores.recommendations.list(RecommendationFilter(state="approved"))
            changed = [h for stored in approved for h in stored.hosts]
            hardware = refitted(stores.engine, changed)
            for stored in approved:
                stores.recommendations.mark_rolled_out(
                    stored.key, now=time.time() - 20 * DAY, detail={"changed": list(stored.hosts)}
                )
        if mode == "again":
            top = stores.recommendations.list(limit=APPROVED)
            for stored in top:  # approved a month ago, so "verify" can roll them out since
                stores.recommendations.decide(
                    stored.key, verdict="approve", actor="bench", now=time.time() - 30 * DAY
                )
        if mode in ("again", "verify"):
            work = RecommendWork(
                stores,
                recommend_settings(config),
                owner=default_owner(),
                lease_seconds=config.jobs.lease,
                always=True,
            )
            started = time.perf_counter()
            report_outcome = "success"
            try:
                work(time.time(), lambda: None)
            except Exception as exc:  # a figure, not a test: say what broke
                report_outcome = f"failure: {exc}"
            if mode == "verify":
                refitted(stores.engine, changed, back=hardware)  # the database as it was
        else:
            metrics = JobMetrics(CollectorRegistry(), JOB_TABLES)
            runner = build_runners(stores, config, metrics, owner=default_owner())[RECOMMEND]
            job = runner.work
            assert isinstance(job, RecommendWork)
            work = job
            report = runner.tick()
            report_outcome = report.outcome + (f": {report.error}" if report.error else "")
        outcome = work.last
        result = {"outcome": report_outcome}
        if outcome is not None:
            s = outcome.summary
            result.update(
                {
                    "hosts": outcome.hosts,
                    "apps": outcome.apps,
                    "parts": outcome.parts,
                    "findings": outcome.findings,
                    "facts_s": outcome.load_seconds,
                    "engine_s": outcome.engine_seconds,
                    "new": s.new if s else None,
                    "updated": s.updated if s else None,
                    "obsoleted": s.obsoleted if s else None,
                    "kept": len(outcome.kept),
                    "waiting": len(outcome.loop.waiting),
                    "verified": [
                        (
                            key,
                            _span(realised.seconds_per_launch),
                            realised.hosts,
                            realised.control_hosts,
                        )
                        for key, realised in outcome.loop.verified + outcome.loop.reopened
                    ],
                    "proposed": len(outcome.recommendations),
                    "top": [
                        (r.title, str(r.net_benefit_per_year), r.economics.payback_months)
                        for r in outcome.recommendations[:5]
                    ],
                    "notes": list(outcome.notes),
                }
            )
    result["wall_s"] = time.perf_counter() - started
    result["rss_before_mb"] = before
    result["peak_rss_mb"] = _status_mb("VmHWM")
    stores.close()
    return result


def refitted(
    engine: Any, host_ids: list[str], back: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The hosts' inventories show 16 GiB and an SSD (what the refit would do); with ``back``
    (what an earlier call returned), their hardware as it was. Returns the hardware replaced."""
    import sqlalchemy as sa

    from advisor.store.models import HOSTS

    replaced = {}
    with engine.begin() as conn:
        for host_id in host_ids:
            hardware = conn.execute(
                sa.select(HOSTS.c.hardware).where(HOSTS.c.host_id == host_id)
            ).scalar_one()
            replaced[host_id] = hardware
            if back is not None:
                new = back[host_id]
            else:
                new = {**hardware, "memory_bytes": 16 * 2**30}
                new["disks"] = [{"name": "sda", "kind": "ssd"}]
            conn.execute(HOSTS.update().where(HOSTS.c.host_id == host_id).values(hardware=new))
    return replaced


def _span(span: Any) -> str | None:
    if span is None:
        return None
    return f"{span.estimate:.3f} [{span.low:.3f}, {span.high:.3f}]"


def in_child(mode: str, config: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--config", str(config)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def advisor(config: Path, *args: str) -> float:
    """Run a ``fleetsight-advisor`` command on the bench's database; its wall time."""
    began = time.perf_counter()
    subprocess.run(
        [*ADVISOR, "--config", str(config), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return time.perf_counter() - began


def prepare(config: Path) -> None:
    """The catalog and costs imported, and one analysis for the findings."""
    advisor(config, "catalog", "import", "endoflife", str(ENDOFLIFE))
    advisor(config, "catalog", "import", "org", str(ROOT / "config" / "catalog.toml"))
    advisor(config, "catalog", "import", "costs", str(ROOT / "config" / "costs.toml"))
    took = advisor(config, "analyse")
    print(f"  catalog and costs imported; analysis (not timed here) {took:.0f} s", flush=True)


def report(hosts: int, name: str, run: dict[str, Any], base: dict[str, Any] | None) -> None:
    target = f" (target < {TARGET_SECONDS:.0f} s)" if hosts == 10_000 and name != "whole" else ""
    if name == "whole":
        print(
            f"  whole-fleet load of the same days: {run['wall_s']:.1f} s"
            f" (load {run['load_s']:.1f} s, facts {run['facts_s']:.1f} s),"
            f" {run['daily_rows']:,} daily rows,"
            f" peak {run['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    else:
        print(
            f"  {name}: {run['outcome']}, {run['wall_s']:.1f} s{target}: facts"
            f" {run.get('facts_s', 0):.1f} s ({run.get('parts')} parts, {run.get('hosts')} hosts,"
            f" {run.get('apps')} apps), engine {run.get('engine_s', 0):.1f} s;"
            f" {run.get('findings')} findings -> {run.get('proposed')} proposed"
            f" ({run.get('new')} new, {run.get('updated')} updated, {run.get('obsoleted')}"
            f" obsoleted, {run.get('kept')} kept as decided, {run.get('waiting')} approved"
            f" waiting); RSS {run['rss_before_mb']:.0f} MB -> peak {run['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        for title, money, payback in run.get("top") or []:
            months = "never" if payback is None else f"{payback:.1f} months"
            print(f"      {title}: net {money} a year, payback {months}", flush=True)
        for key, seconds, hosts_changed, controls in run.get("verified") or []:
            print(
                f"      measured {key}: {seconds} s a launch saved, {hosts_changed} changed"
                f" hosts against {controls}",
                flush=True,
            )
        for note in run.get("notes") or []:
            print(f"      note: {note}", flush=True)
    if base is not None:
        then = base["run"]
        print(
            f"    against {base['hosts']:,} hosts: time x{run['wall_s'] / then['wall_s']:.2f},"
            f" peak memory x{run['peak_rss_mb'] / then['peak_rss_mb']:.2f}"
            f" (hosts x{hosts / base['hosts']:.1f})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, action="append", help="a size (repeatable)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres-admin", default=POSTGRES_ADMIN, metavar="URL")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--reuse", metavar="URL", action="append", help="a database --keep wrote")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.config)))
        return
    sizes = args.hosts or list(SIZES)
    reused = args.reuse or []
    if reused and len(reused) != len(sizes):
        parser.error("give one --reuse URL per --hosts, in the same order")
    start = (time.time() // DAY) * DAY - args.days * DAY
    bases: dict[str, dict[str, Any]] = {}
    for k, hosts in enumerate(sizes):
        url = reused[k] if reused else create_database(args.postgres_admin)
        try:
            with tempfile.TemporaryDirectory() as state:
                config = Path(state) / "advisor.toml"
                config.write_text(
                    f'[advisor]\nstate_dir = "{state}"\nlog_level = "warning"\n'
                    f'[database]\nurl = "{url}"\n[analysis]\nwindow_days = {args.days}\n'
                )
                print(f"PostgreSQL, {hosts:,} hosts x 20 apps x {args.days} days", flush=True)
                if not reused:
                    written = write_fleet(
                        url,
                        hosts=hosts,
                        days=args.days,
                        seed=args.seed,
                        start=start,
                        raw_launches=False,
                    )
                    print(
                        f"  written in {written['generate_s'] + written['write_s']:.0f} s:"
                        f" {written['daily_rows']:,} daily rows",
                        flush=True,
                    )
                    prepare(config)
                else:
                    with psycopg.connect(libpq(url), autocommit=True) as conn:
                        conn.execute(_RESET)  # the runs start from the analysis again
                for name in ("tick", "again", "verify", "whole"):
                    run = in_child(name, config)
                    report(hosts, name, run, bases.get(name))
                    bases.setdefault(name, {"hosts": hosts, "run": run})
        finally:
            if args.keep or reused:
                print(f"  kept: {url}")
            else:
                drop_database(url, args.postgres_admin)


if __name__ == "__main__":
    main()
