"""``fleetsight-advisor simulate``: its options and the run (plan, generate, send, truth).

This module is imported by ``advisor.cli`` to add the subcommand, so it imports nothing heavy
at module level; the clock is read here, at the edge, to pick a default start.
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.cli_args import duration_seconds, positive_float, positive_int

if TYPE_CHECKING:
    from advisor.simulator.fleet import Fleet
    from advisor.simulator.sinks import SinkStats

DESCRIPTION = """\
Simulate a fleet of agents: realistic batches in the real wire format, sent through the real
ingest path, with scripted events (a slow and a fast version rollout, memory pressure, disks
filling, a slow trend) and events that must not be flagged (an outage, noisy hosts, weekends,
a delivery outage). Deterministic for a seed; the ground truth is written as JSON to --truth.
Without --advisor, batches are written through the store to --database-url (or the configured
database; run `fleetsight-advisor db upgrade` first). docs/simulator.md has the details."""

EPILOG = """\
examples:
  fleetsight-advisor simulate --hosts 200 --days 14 --seed 7 \\
      --database-url sqlite:///demo.sqlite3 --truth demo-truth.json
  fleetsight-advisor simulate --hosts 50 --days 3 --advisor http://127.0.0.1:8080 \\
      --token finance=fst_... --token fst_... --truth truth.json
"""


def add_simulate_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to ``commands`` (an argparse subparsers object)."""
    sim: argparse.ArgumentParser = commands.add_parser(
        "simulate",
        help="generate a simulated fleet's batches and ground truth",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument(
        "--hosts",
        type=positive_int,
        default=100,
        metavar="N",
        help="number of simulated hosts (default: 100)",
    )
    sim.add_argument(
        "--days",
        type=positive_float,
        default=7.0,
        metavar="D",
        help="days of data to simulate (default: 7)",
    )
    sim.add_argument(
        "--seed",
        type=int,
        default=1,
        metavar="S",
        help="random seed: the same seed gives the same batches (default: 1)",
    )
    sim.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="scenario TOML file (default: the built-in scenario with every event)",
    )
    sim.add_argument(
        "--interval",
        type=duration_seconds,
        default=3600.0,
        metavar="DURATION",
        help="length of one summary interval and batch, e.g. 1m, 15m, 1h, 1d (default: 1h)",
    )
    sim.add_argument(
        "--start",
        type=_start,
        metavar="DATE",
        help="first simulated day, YYYY-MM-DD or ISO date-time in UTC "
        "(default: midnight UTC, --days days before today)",
    )
    target = sim.add_mutually_exclusive_group()
    target.add_argument(
        "--database-url",
        dest="sim_database_url",
        metavar="URL",
        help="write through the store to this SQLAlchemy URL (default: the configured database)",
    )
    target.add_argument(
        "--advisor",
        metavar="URL",
        help="POST to a running advisor at this URL instead, like agents do",
    )
    target.add_argument(
        "--dry-run",
        action="store_true",
        help="generate and count the batches without sending them anywhere",
    )
    sim.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="[DEPT=]TOKEN",
        help="with --advisor: enrolment token of a department (DEPT=TOKEN), or "
        "for every department without one (TOKEN); repeatable",
    )
    sim.add_argument(
        "--ca-file",
        type=Path,
        metavar="FILE",
        help="with --advisor: CA certificate (PEM) that issued the advisor's, e.g. its "
        "self-signed certificate; default: the system's trust store",
    )
    sim.add_argument(
        "--concurrency",
        type=positive_int,
        default=8,
        metavar="N",
        help="with --advisor: batches in flight at once (default: 8)",
    )
    sim.add_argument(
        "--truth",
        type=Path,
        required=True,
        metavar="PATH",
        help="where to write the ground truth JSON",
    )
    return sim


def run_simulate(args: argparse.Namespace, configured_database_url: str) -> int:
    """Run ``simulate`` with parsed ``args``; the store mode falls back to the configured URL."""
    from advisor.simulator.errors import SimulationError
    from advisor.simulator.fleet import plan_fleet
    from advisor.simulator.generate import simulate
    from advisor.simulator.scenario import default_scenario
    from advisor.simulator.scenario_file import load_scenario
    from advisor.simulator.truth import ground_truth, write_truth

    if args.advisor is None and args.token:
        raise SimulationError("--token goes with --advisor")
    if args.advisor is None and args.ca_file is not None:
        raise SimulationError("--ca-file goes with --advisor")
    if args.advisor is not None and not args.token:
        raise SimulationError("--advisor needs --token: an enrolment token for the hosts")
    scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
    start = args.start if args.start is not None else _default_start(args.days, time.time())
    fleet = plan_fleet(
        scenario,
        hosts=args.hosts,
        days=args.days,
        seed=args.seed,
        start=start,
        interval=args.interval,
    )
    write_truth(ground_truth(fleet), args.truth)
    started = time.perf_counter()
    deliveries = simulate(fleet)
    if args.dry_run:
        from advisor.simulator.sinks import SinkStats

        stats = SinkStats()
        for delivery in deliveries:
            stats.count(delivery, True)
    elif args.advisor is not None:
        stats = _send_http(fleet, args, deliveries)
    else:
        stats = _write_store(fleet, args.sim_database_url or configured_database_url, deliveries)
    elapsed = time.perf_counter() - started
    _report(fleet, stats, elapsed, args)
    return 0


def _write_store(fleet: Fleet, url: str, deliveries: Any) -> SinkStats:
    from advisor.simulator.sinks import enrol_in_store, write_to_store
    from advisor.store.open import open_store_at

    store = open_store_at(url, create=True).hosts
    try:
        enrol_in_store(store, fleet)
        return write_to_store(store, deliveries)
    finally:
        store.close()


def _send_http(fleet: Fleet, args: argparse.Namespace, deliveries: Any) -> SinkStats:
    from advisor.simulator.sinks import HttpSink, make_client

    tokens: dict[str, str] = {}
    default = None
    for item in args.token:
        department, sep, token = item.partition("=")
        if sep and not department.startswith("fst_"):
            tokens[department] = token
        else:
            default = item
    client = make_client(args.advisor, ca_file=args.ca_file, concurrency=args.concurrency)
    with client:
        sink = HttpSink(client, tokens=tokens, default_token=default, concurrency=args.concurrency)
        sink.enrol(fleet)
        return sink.send(deliveries)


def _report(fleet: Fleet, stats: SinkStats, elapsed: float, args: argparse.Namespace) -> None:
    target = (
        "generated only (--dry-run)"
        if args.dry_run
        else f"sent to {args.advisor}"
        if args.advisor
        else "written through the store"
    )
    rate = 1 / elapsed if elapsed > 0 else 0.0
    print(
        f"{len(fleet.hosts)} hosts x {args.days:g} days (seed {fleet.seed}, interval "
        f"{fleet.interval:g} s, scenario {fleet.scenario.name}): {target}"
    )
    print(
        f"  {stats.batches} batches ({stats.stored} new, {stats.duplicates} already stored), "
        f"{stats.launches} launches, {stats.summaries} metric summaries"
    )
    print(
        f"  {elapsed:.1f} s: {stats.batches * rate:.0f} batches/s, "
        f"{stats.launches * rate:.0f} launches/s"
    )
    print(f"  ground truth: {args.truth}")


def _default_start(days: float, now: float) -> float:
    """Midnight UTC, ``days`` (rounded up) before today: the data ends about now."""
    today = math.floor(now / 86400) * 86400
    return float(today - math.ceil(days) * 86400)


def _start(value: str) -> float:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2025-11-03 or 2025-11-03T06:00, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
