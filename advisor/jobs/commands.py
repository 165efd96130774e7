"""``fleetsight-advisor jobs run rollup|retention|analysis`` and ``jobs status``.

``jobs run`` runs one job once, now, for operators and cron: it takes the job's lease like a
scheduled run (so it never runs beside another advisor's run of the same job) but ignores
ticks and backoff. Exit status 0 when it ran or another advisor was running it, 1 when it
failed.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from prometheus_client import CollectorRegistry

from advisor.config import AdvisorConfig
from advisor.jobs.metrics import JobMetrics
from advisor.jobs.tasks import JOB_TABLES, build_runners, default_owner
from advisor.store.job_state import JobStatus
from advisor.store.open import Stores, open_store
from advisor.text import printable, printable_or


def add_parser(commands: Any) -> None:
    """Add ``jobs`` to the CLI's sub-commands (``commands`` is argparse's subparsers action)."""
    jobs = commands.add_parser("jobs", help="scheduled jobs: rollups, retention and analysis")
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run a job once now (for operators and cron)")
    run.add_argument("job", choices=sorted(JOB_TABLES), help="the job to run")
    actions.add_parser("status", help="last runs of each job, and the rollup backlog")


def cmd_jobs(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """Run ``jobs run`` or ``jobs status`` on the configured database."""
    stores = open_store(config, create=args.action == "run")
    try:
        if args.action == "run":
            return _run(stores, config, args.job)
        _status(stores, time.time())
        return 0
    finally:
        stores.close()


def _run(stores: Stores, config: AdvisorConfig, job: str) -> int:
    metrics = JobMetrics(CollectorRegistry(), JOB_TABLES)
    runner = build_runners(stores, config, metrics, owner=default_owner())[job]
    report = runner.run_now()
    if report.outcome == "skipped":
        print(f"{job}: another advisor is running it now; nothing done")
        return 0
    if report.result is None:
        # A database error can quote values that agents wrote.
        print(f"{job}: {report.outcome}: {printable_or(report.error)}")
        return 1
    rows = ", ".join(f"{count} {table}" for table, count in report.result.rows.items())
    print(f"{job}: done ({rows})")
    return 0


def _status(stores: Stores, now: float) -> None:
    known = {status.job: status for status in stores.leases.job_status()}
    for job in sorted(JOB_TABLES):
        print(_describe(job, known.get(job), now))
    waiting = stores.upkeep.backlog()
    oldest = (
        f", oldest received {_when(waiting.oldest_received_at)}"
        if waiting.oldest_received_at is not None
        else ""
    )
    print(f"rollup backlog: {waiting.batches} batches{oldest}")


def _describe(job: str, status: JobStatus | None, now: float) -> str:
    if status is None or status.last_started_at is None:
        return f"{job:<10} never run"
    parts = [f"{job:<10} last run {_when(status.last_started_at)}"]
    if status.last_finished_at is not None and status.last_finished_at >= status.last_started_at:
        took = status.last_finished_at - status.last_started_at
        parts.append(f"{status.last_outcome} in {took:.1f} s, rows {status.last_rows or 0}")
    if status.last_error:
        parts.append(f"error: {printable(status.last_error)}")
    success = _when(status.last_success_at) if status.last_success_at else "never"
    parts.append(f"last success {success}")
    if status.failures:
        parts.append(f"{status.failures} failures in a row")
    expires = status.lease_expires_at
    if status.lease_owner and expires is not None and expires > now:
        owner = printable(status.lease_owner)
        parts.append(f"running now in {owner} (lease until {_when(expires)})")
    return "; ".join(parts)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))
