"""``simulate``: a simulated fleet's batches (into the store or to a running advisor) and
its ground truth. The clock is read here, at the edge, to pick a default start."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from advisor.cli.args import (
    duration_seconds,
    positive_float,
    positive_int,
    start_of_day_or_instant,
)
from advisor.cli.common import add_group
from advisor.cli.progress import Progress
from advisor.cli.units import duration
from advisor.config import AdvisorConfig

if TYPE_CHECKING:
    from advisor.cli.common import Commands
    from advisor.simulator.fleet import Fleet
    from advisor.simulator.generate import Delivery
    from advisor.simulator.sinks import SinkStats

DESCRIPTION = """\
Simulate a fleet of agents: realistic batches in the real wire format, sent through the real
ingest path, with scripted events (a slow and a fast version rollout, memory pressure, disks
filling, a slow trend) and events that must not be flagged (an outage, noisy hosts, weekends,
a delivery outage). Deterministic for a seed; the ground truth is written as JSON to --truth.
Without --advisor, batches are written through the store to --database-url (or the configured
database; run `fleetsight-advisor db upgrade` first). docs/simulator.md has the details."""

EXAMPLES = """\
  fleetsight-advisor simulate --hosts 200 --days 14 --seed 7 \\
      --database-url sqlite:///demo.sqlite3 --truth demo-truth.json
  fleetsight-advisor simulate --hosts 50 --days 3 --advisor http://127.0.0.1:8080 \\
      --token finance=fst_... --token fst_... --truth truth.json
"""


def add_parser(commands: Commands) -> None:
    """Register ``simulate``."""
    sim = add_group(
        commands,
        "simulate",
        help="generate a simulated fleet's batches and ground truth",
        description=DESCRIPTION,
        examples=EXAMPLES,
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
        type=start_of_day_or_instant,
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
    sim.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``simulate``; the store mode falls back to the configured database."""
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
    start = args.start if args.start is not None else default_start(args.days, time.time())
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
    with Progress("simulate") as progress:
        deliveries = progress.track(simulate(fleet), "batches", _planned(fleet))
        if args.dry_run:
            stats = _count(deliveries)
        elif args.advisor is not None:
            stats = _send_http(fleet, args, deliveries)
        else:
            stats = _write_store(fleet, args.sim_database_url or config.database_url, deliveries)
    elapsed = time.perf_counter() - started
    _report(fleet, stats, elapsed, args)
    return 0


def _planned(fleet: Fleet) -> int:
    """About how many batches the fleet sends: one per host and interval (outages send
    fewer, so the share shown may end below 100 %)."""
    return len(fleet.hosts) * fleet.slots


def _count(deliveries: Iterable[Delivery]) -> SinkStats:
    from advisor.simulator.sinks import SinkStats

    stats = SinkStats()
    for delivery in deliveries:
        stats.count(delivery, True)
    return stats


def _write_store(fleet: Fleet, url: str, deliveries: Iterator[Delivery]) -> SinkStats:
    from advisor.simulator.sinks import enrol_in_store, write_to_store
    from advisor.store.open import open_store_at

    store = open_store_at(url, create=True).hosts
    try:
        enrol_in_store(store, fleet)
        return write_to_store(store, deliveries)
    finally:
        store.close()


def _send_http(fleet: Fleet, args: argparse.Namespace, deliveries: Iterator[Delivery]) -> SinkStats:
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
        f"{duration(fleet.interval)}, scenario {fleet.scenario.name}): {target}"
    )
    print(
        f"  {stats.batches} batches ({stats.stored} new, {stats.duplicates} already stored), "
        f"{stats.launches} launches, {stats.summaries} metric summaries"
    )
    print(
        f"  {duration(elapsed)}: {stats.batches * rate:.0f} batches/s, "
        f"{stats.launches * rate:.0f} launches/s"
    )
    print(f"  ground truth: {args.truth}")


def default_start(days: float, now: float) -> float:
    """Midnight UTC, ``days`` (rounded up) before today: the data ends about now.

    >>> default_start(1.5, 86400 * 10 + 5)
    691200.0
    """
    today = math.floor(now / 86400) * 86400
    return float(today - math.ceil(days) * 86400)
