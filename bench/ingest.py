"""Ingest: many simulated agents POST realistic batches to a real advisor over loopback.

For each backend a fresh database is created and migrated, --hosts hosts are enrolled through
SqlStore, and each host gets pre-generated gzip batches (one minute of one host: 30 metric
summaries named like the agent's series, 2 launch events, 2 launch counts, no inventory) with
distinct batch ids and increasing sequences. The real advisor runs as a separate process
(`python -m advisor serve`, log level warning) and wrk (Debian package wrk) with
bench/ingest.lua POSTs the batches for --seconds, each with its host's bearer credential,
Content-Encoding: gzip and X-Fleetsight-Batch-Id.

Variants: SQLite with one advisor process; PostgreSQL with one; PostgreSQL with `serve --workers
2` (two processes on one socket, one per core: what a fleet's advisor runs; SQLite takes one
writer at a time, so it gets one).

Printed per variant: batches/s answered 2xx, rows/s stored (summaries + launches), p50/p99
latency, answers by status and socket errors, a check with SQL that the database holds exactly
the batches acknowledged (plus at most those in flight when wrk stopped), then the ceiling: a
plain bulk insert of the same rows for the same number of batches into the same database (COPY
on PostgreSQL, executemany on SQLite; no HTTP, validation or idempotency) and the ratio full
ingest / plain insert. Target (issue 3, PostgreSQL on this 2-core machine): >= 500 batches/s
with p99 < 250 ms and no errors.

    .venv/bin/python bench/ingest.py [--seconds 60] [--hosts 2000]
        [--backend sqlite|postgresql|both] [--connections 64] [--max-rate 1500]

PostgreSQL: $FLEETSIGHT_BENCH_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432
/test (trust auth, as for the tests); the database fleetsight_bench_<pid>_<n> is dropped at the
end. Batches are generated for --max-rate batches/s over the run; if wrk runs out it starts the
files again and the report says how many batches were resent.
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import psycopg
import sqlalchemy as sa
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from advisor.store.engine import make_engine  # noqa: E402
from advisor.store.migrate import upgrade  # noqa: E402
from advisor.store.open import open_store_at  # noqa: E402
from advisor.store.sql import canonical_labels  # noqa: E402
from agent.shared.wire import (  # noqa: E402
    Batch,
    HostIdentity,
    Interval,
    LaunchCount,
    LaunchEvent,
    MetricSummary,
    encode,
)

LUA_SCRIPT = Path(__file__).resolve().parent / "ingest.lua"
ADMIN_URL = os.environ.get(
    "FLEETSIGHT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_BATCHES_PER_SECOND = 500
TARGET_P99_MS = 250
WRK_THREADS = 2
PARTITIONS = WRK_THREADS  # one batch file per wrk thread
CEILING_CHUNK = 500  # batches per transaction of the plain bulk insert
T0 = 1_764_000_000.0

# One minute of one host, as the agent's collectors name the series (metricdefs.py).
MACHINE_SERIES = [
    "cpu_utilization_ratio",
    "cpu_iowait_ratio",
    "cpu_steal_ratio",
    "load1",
    "load5",
    "load15",
    "memory_available_bytes",
    "memory_used_ratio",
    "swap_used_bytes",
    "swap_in_bytes_per_second",
    "swap_out_bytes_per_second",
    "major_page_faults_per_second",
    "pressure_cpu_some_ratio",
    "pressure_cpu_full_ratio",
    "pressure_memory_some_ratio",
    "pressure_memory_full_ratio",
    "pressure_io_some_ratio",
    "pressure_io_full_ratio",
    "network_receive_bytes_per_second",
    "network_transmit_bytes_per_second",
    "network_errors_per_second",
]
LABELLED_SERIES = [
    ("disk_used_ratio", {"mountpoint": "/"}),
    ("disk_free_bytes", {"mountpoint": "/"}),
    ("disk_io_latency_seconds", {"device": "nvme0n1"}),
    ("disk_io_utilization_ratio", {"device": "nvme0n1"}),
    ("disk_read_bytes_per_second", {"device": "nvme0n1"}),
    ("disk_write_bytes_per_second", {"device": "nvme0n1"}),
    ("app_cpu_utilization_ratio", {"app": "firefox"}),
    ("app_rss_bytes", {"app": "firefox"}),
    ("app_processes", {"app": "firefox"}),
]
SUMMARY_COLUMNS = [
    "host_id",
    "batch_id",
    "interval_start",
    "interval_end",
    "name",
    "labels",
    "count",
    "sum",
    "min",
    "max",
    "p50",
    "p90",
    "p99",
]
LAUNCH_COLUMNS = [
    "host_id",
    "batch_id",
    "app",
    "version",
    "method",
    "outcome",
    "started_at",
    "duration_seconds",
    "ready_signal",
    "start_kind",
    "phases",
    "probe",
    "detail",
]

# Values the JSON template carries, replaced per batch (floats print as repr).
S_BATCH_ID = "SENTINELBATCHID"
S_SEQUENCE = 987654321987
S_CREATED, S_START, S_END, S_LAUNCH1, S_LAUNCH2 = (
    1111111101.5,
    1111111102.5,
    1111111103.5,
    1111111104.5,
    1111111105.5,
)


@dataclass
class SimHost:
    host_id: str
    credential: str
    batch: Batch  # the host's minute with sentinel ids and times
    template: str


@dataclass
class WrkResult:
    duration_s: float
    responses: int
    sent: int
    wrapped: int
    stored_true: int
    stored_false: int
    statuses: dict[str, int]
    errors: dict[str, int]
    quantiles: list[tuple[float, float]]  # (percent, microseconds)
    cpu_s: float

    def percentile(self, percent: float) -> float:
        """The latency at ``percent`` in milliseconds (nearest point printed by wrk)."""
        return min(self.quantiles, key=lambda q: abs(q[0] - percent))[1] / 1000


@dataclass
class Outcome:
    title: str
    backend: str
    wrk: WrkResult
    p50_ms: float
    p99_ms: float
    stored: int
    summaries: int
    launches: int
    advisor_cpu_s: float
    ceiling_rows_per_s: float = 0.0
    ceiling_method: str = ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--max-rate", type=int, default=1500, help="batches/s to generate enough batches for"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    if wrk is None:
        return 1
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    variants = [(backend, 1) for backend in backends]
    if "postgresql" in backends:
        variants.append(("postgresql", 2))  # serve --workers 2
    print(
        f"ingest benchmark: {args.hosts} hosts, {args.seconds} s per variant, wrk "
        f"{WRK_THREADS} threads x {args.connections} connections, {os.cpu_count()} CPUs"
    )
    outcomes = []
    for backend, workers in variants:
        with tempfile.TemporaryDirectory(prefix="fleetsight-bench-") as tmp:
            outcomes.append(run_variant(wrk, backend, workers, args, Path(tmp)))
        print_outcome(outcomes[-1], args)
    return 0


def ensure_wrk() -> str | None:
    """The wrk binary, installed from Debian's packages when running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        print("bench/ingest.py needs wrk: sudo apt-get install -y wrk", file=sys.stderr)
        return None
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, check=False, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(install, check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """A new, migrated database URL; a PostgreSQL one is dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'advisor.sqlite3'}"
        _migrate(url)
        yield url
        return
    admin = sa.make_url(ADMIN_URL)
    name = f"fleetsight_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = admin.set(database=name).render_as_string(hide_password=False)
        _migrate(url)
        yield url
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def run_variant(
    wrk: str, backend: str, workers: int, args: argparse.Namespace, tmp: Path
) -> Outcome:
    title = f"{'PostgreSQL' if backend == 'postgresql' else 'SQLite'}, 1 advisor, " + (
        "1 process" if workers == 1 else f"serve --workers {workers}"
    )
    print(f"\n== {title} ==", flush=True)
    with fresh_database(backend, tmp) as url:
        started = time.perf_counter()
        hosts = enrol_hosts(url, args.hosts)
        needed = math.ceil(args.max_rate * args.seconds * 1.05) + args.connections
        prefix = tmp / "batches"
        mean_size = write_partitions(hosts, needed, prefix)
        print(
            f"  setup: {len(hosts)} hosts enrolled, {needed} batches generated "
            f"(gzip {mean_size:.0f} B each on average) in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        port = free_port()
        proc = start_advisor(url, port, tmp, workers)
        try:
            wait_ready(port)
            cpu_before = _cpu_with_children(proc.pid)
            result = run_wrk(wrk, port, prefix, args.seconds, WRK_THREADS, args.connections)
            advisor_cpu = _cpu_with_children(proc.pid) - cpu_before
        finally:
            stop(proc)
        stored, summaries, launches = count_rows(url)
        p50, p99 = result.percentile(50), result.percentile(99)
        outcome = Outcome(
            title, backend, result, p50, p99, stored, summaries, launches, advisor_cpu
        )
        print(f"  ceiling: plain bulk insert of the rows of {stored} batches...", flush=True)
        outcome.ceiling_rows_per_s, outcome.ceiling_method = plain_insert(url, hosts, stored)
    return outcome


def enrol_hosts(url: str, count: int) -> list[SimHost]:
    """Enrol ``count`` hosts through the store and build each one's batch template."""
    store = open_store_at(url).hosts
    rng = random.Random(42)
    try:
        now = time.time()
        token, _ = store.create_token(department="bench", expires_at=now + 86400, now=now)
        hosts = []
        for index in range(count):
            host_id = uuid.UUID(int=rng.getrandbits(128)).hex
            hostname = f"bench-ws-{index:05d}"
            enrolment = store.enrol(
                token=token, host_id=host_id, hostname=hostname, agent_version="0.1.0", now=now
            )
            batch = minute_of(host_id, hostname, rng)
            hosts.append(SimHost(host_id, enrolment.credential, batch, encode(batch).decode()))
        return hosts
    finally:
        store.close()


def minute_of(host_id: str, hostname: str, rng: random.Random) -> Batch:
    """One minute of one host: 30 summaries of 12 samples, 2 launches, 2 launch counts."""
    series: list[tuple[str, dict[str, str]]] = [(name, {}) for name in MACHINE_SERIES]
    series += LABELLED_SERIES
    metrics = []
    for name, labels in series:
        scale = 1e9 if name.endswith("bytes") else 1e6 if "per_second" in name else 1.0
        values = sorted(rng.random() * scale for _ in range(12))
        metrics.append(
            MetricSummary(
                name=name,
                labels=dict(labels),
                count=12,
                sum=round(sum(values), 6),
                min=round(values[0], 6),
                max=round(values[-1], 6),
                p50=round(values[6], 6),
                p90=round(values[10], 6),
                p99=round(values[11], 6),
            )
        )
    launches = [
        LaunchEvent(
            app="firefox",
            version="128.5.0esr-1~deb12u1",
            method="passive",
            outcome="ok",
            started_at=S_LAUNCH1,
            duration_seconds=round(1 + rng.random() * 2, 3),
            ready_signal="window_mapped",
            start_kind="cold",
        ),
        LaunchEvent(
            app="libreoffice",
            version="4:7.4.7-1+deb12u8",
            method="passive",
            outcome="ok",
            started_at=S_LAUNCH2,
            duration_seconds=round(0.5 + rng.random(), 3),
            ready_signal="cpu_settled",
            start_kind="warm",
        ),
    ]
    return Batch(
        batch_id=S_BATCH_ID,
        sequence=S_SEQUENCE,
        created_at=S_CREATED,
        host=HostIdentity(host_id=host_id, hostname=hostname, agent_version="0.1.0"),
        intervals=[Interval(start=S_START, end=S_END, metrics=metrics)],
        launches=launches,
        launch_counts=[
            LaunchCount(app="firefox", day="2025-11-24", method="passive", count=1),
            LaunchCount(app="libreoffice", day="2025-11-24", method="passive", count=1),
        ],
    )


def batch_times(round_index: int) -> dict[float, float]:
    """The sentinel times of a host's batch number ``round_index`` mapped to real ones."""
    created = T0 + 60 * round_index
    return {
        S_CREATED: created + 0.25,
        S_START: created - 60,
        S_END: created,
        S_LAUNCH1: created - 41.5,
        S_LAUNCH2: created - 12.75,
    }


def render_batch(host: SimHost, batch_id: str, round_index: int) -> bytes:
    """The gzip body of ``host``'s batch number ``round_index`` (sequence ``round_index + 1``)."""
    text = host.template.replace(S_BATCH_ID, batch_id).replace(
        str(S_SEQUENCE), str(round_index + 1)
    )
    for sentinel, value in batch_times(round_index).items():
        text = text.replace(repr(sentinel), repr(value))
    return gzip.compress(text.encode(), compresslevel=6, mtime=0)


def write_partitions(hosts: list[SimHost], needed: int, prefix: Path) -> float:
    """Write ``needed`` batches, hosts round-robin, into PARTITIONS files; mean gzip size."""
    files = [Path(f"{prefix}.{i}").open("wb") for i in range(PARTITIONS)]  # noqa: SIM115
    total = 0
    try:
        for index in range(needed):
            round_index, host_index = divmod(index, len(hosts))
            host = hosts[host_index]
            batch_id = uuid.uuid4().hex
            body = render_batch(host, batch_id, round_index)
            total += len(body)
            out = files[index % PARTITIONS]
            out.write(f"{len(body)} {batch_id} {host.credential}\n".encode())
            out.write(body)
    finally:
        for out in files:
            out.close()
    return total / needed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_advisor(
    url: str, port: int, tmp: Path, workers: int, output: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m advisor serve` on 127.0.0.1:``port``; its log to ``output`` (else ours)."""
    config = tmp / "advisor.toml"
    config.write_text("")
    env = dict(os.environ, FLEETSIGHT_ADVISOR_ADVISOR_LOG_LEVEL="warning")
    command = [sys.executable, "-m", "advisor", "--config", str(config), "--state-dir", str(tmp)]
    command += ["--database-url", url, "serve", "--listen", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers)]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=output)


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the advisor on port {port} is not ready after {timeout:.0f} s")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cpu_with_children(pid: int) -> float:
    """CPU seconds of the advisor and of its worker processes, while they run."""
    parent = psutil.Process(pid)
    total = 0.0
    for process in [parent, *parent.children(recursive=True)]:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def run_wrk(
    wrk: str, port: int, prefix: Path, seconds: int, threads: int, connections: int
) -> WrkResult:
    """Run wrk against the advisor; its figures and CPU time (os.wait4 gives the child's own
    rusage). Thread N reads the batch file PREFIX.N."""
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["--latency", "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}", "--", str(prefix)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{output}")
    return parse_wrk(output, usage.ru_utime + usage.ru_stime)


def parse_wrk(output: str, cpu_s: float) -> WrkResult:
    values: dict[str, int] = {}
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    quantiles: list[tuple[float, float]] = []
    for line in output.splitlines():
        parts = line.split()
        if not parts or parts[0] != "BENCH":
            continue
        if parts[1] == "status":
            statuses[parts[2]] = int(parts[3])
        elif parts[1] == "error":
            errors[parts[2]] = int(parts[3])
        elif parts[1] == "q":
            quantiles.append((float(parts[2]), float(parts[3])))
        else:
            values[parts[1]] = int(parts[2])
    return WrkResult(
        duration_s=values["duration_us"] / 1e6,
        responses=values["responses"],
        sent=values["sent"],
        wrapped=values["wrapped"],
        stored_true=values["stored_true"],
        stored_false=values["stored_false"],
        statuses=statuses,
        errors=errors,
        quantiles=quantiles,
        cpu_s=cpu_s,
    )


def count_rows(url: str) -> tuple[int, int, int]:
    """Batches, metric summaries and launches stored in the database."""
    engine = make_engine(url)
    counts = []
    try:
        with engine.connect() as conn:
            for table in ("batches", "metric_summaries", "launches"):
                query = f"SELECT count(*) FROM {table}"  # noqa: S608 - constant names
                counts.append(int(conn.execute(sa.text(query)).scalar_one()))
    finally:
        engine.dispose()
    return counts[0], counts[1], counts[2]


def plain_rows(host: SimHost, batch_id: str, round_index: int) -> tuple[list[Any], list[Any]]:
    """The summary and launch rows of one batch, as the ingest stores them."""
    times = batch_times(round_index)
    interval = host.batch.intervals[0]
    summaries = [
        (
            host.host_id,
            batch_id,
            times[interval.start],
            times[interval.end],
            m.name,
            canonical_labels(m.labels),
            m.count,
            m.sum,
            m.min,
            m.max,
            m.p50,
            m.p90,
            m.p99,
        )
        for m in interval.metrics
    ]
    launches = [
        (
            host.host_id,
            batch_id,
            e.app,
            e.version,
            e.method,
            e.outcome,
            times[e.started_at],
            e.duration_seconds,
            e.ready_signal,
            e.start_kind,
            "{}",
            e.probe,
            e.detail,
        )
        for e in host.batch.launches
    ]
    return summaries, launches


def plain_insert(url: str, hosts: list[SimHost], batches: int) -> tuple[float, str]:
    """Rows/s of a plain bulk insert of the rows of ``batches`` batches, CEILING_CHUNK batches
    per transaction; only the database work is timed, not building the rows."""
    elapsed = 0.0
    rows = 0
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        copies = [
            sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            for table, columns in (
                ("metric_summaries", SUMMARY_COLUMNS),
                ("launches", LAUNCH_COLUMNS),
            )
        ]
        with psycopg.connect(conninfo) as conn:
            for chunk in _chunks(hosts, batches):
                started = time.perf_counter()
                with conn.transaction(), conn.cursor() as cursor:
                    for copy_sql, table_rows in zip(copies, chunk, strict=True):
                        with cursor.copy(copy_sql) as copy:
                            for row in table_rows:
                                copy.write_row(row)
                elapsed += time.perf_counter() - started
                rows += len(chunk[0]) + len(chunk[1])
        method = "COPY"
    else:
        lite = sqlite3.connect(parsed.database or "", isolation_level=None)
        try:
            lite.execute("PRAGMA journal_mode=WAL")
            lite.execute("PRAGMA synchronous=NORMAL")
            inserts = [
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - constants
                f"({', '.join('?' for _ in columns)})"
                for table, columns in (
                    ("metric_summaries", SUMMARY_COLUMNS),
                    ("launches", LAUNCH_COLUMNS),
                )
            ]
            for chunk in _chunks(hosts, batches):
                started = time.perf_counter()
                lite.execute("BEGIN")
                for statement, table_rows in zip(inserts, chunk, strict=True):
                    lite.executemany(statement, table_rows)
                lite.execute("COMMIT")
                elapsed += time.perf_counter() - started
                rows += len(chunk[0]) + len(chunk[1])
        finally:
            lite.close()
        method = "executemany"
    return (rows / elapsed if elapsed else 0.0), method


def _chunks(hosts: list[SimHost], batches: int) -> Iterator[tuple[list[Any], list[Any]]]:
    for first in range(0, batches, CEILING_CHUNK):
        summaries: list[Any] = []
        launches: list[Any] = []
        for index in range(first, min(first + CEILING_CHUNK, batches)):
            round_index, host_index = divmod(index, len(hosts))
            more_summaries, more_launches = plain_rows(
                hosts[host_index], f"plain-{index}", round_index
            )
            summaries += more_summaries
            launches += more_launches
        yield summaries, launches


def print_outcome(o: Outcome, args: argparse.Namespace) -> None:
    w = o.wrk
    ok = sum(count for status, count in w.statuses.items() if status.startswith("2"))
    batches_per_s = ok / w.duration_s
    rows_per_s = (o.summaries + o.launches) / w.duration_s
    socket_errors = {k: v for k, v in w.errors.items() if k != "status"}
    non_2xx = {k: v for k, v in w.statuses.items() if not k.startswith("2")}
    errors_total = sum(socket_errors.values()) + sum(non_2xx.values())
    in_flight = w.sent - w.responses
    is_pg = o.backend == "postgresql"

    def verdict(met: bool) -> str:
        return ("met" if met else "NOT met") if is_pg else "target is for PostgreSQL"

    rows_per_batch = (o.summaries + o.launches) / o.stored if o.stored else 0
    print(f"  duration                  {w.duration_s:.1f} s")
    print(
        f"  batches/s (2xx)           {batches_per_s:8.1f}   target >= "
        f"{TARGET_BATCHES_PER_SECOND} ({verdict(batches_per_s >= TARGET_BATCHES_PER_SECOND)})"
    )
    print(
        f"  rows/s stored             {rows_per_s:8.0f}   ({rows_per_batch:.0f} rows per batch: "
        f"summaries + launches)"
    )
    print(f"  latency p50               {o.p50_ms:8.1f} ms")
    print(
        f"  latency p99               {o.p99_ms:8.1f} ms  target < {TARGET_P99_MS} ms "
        f"({verdict(o.p99_ms < TARGET_P99_MS)})"
    )
    print(
        "  answers by status         "
        + ", ".join(f"{k}: {v}" for k, v in sorted(w.statuses.items()))
    )
    print(
        "  socket errors             "
        + ", ".join(f"{k} {v}" for k, v in sorted(socket_errors.items()))
    )
    print(f"  errors (non-2xx+socket)   {errors_total}   target 0 ({verdict(errors_total == 0)})")
    expected_summaries = o.stored * 30
    expected_launches = o.stored * 2
    consistent = (
        w.stored_true <= o.stored <= w.stored_true + max(in_flight, 0)
        and w.stored_false == 0
        and o.summaries == expected_summaries
        and o.launches == expected_launches
    )
    print(
        f"  stored check              {o.stored} batches in the database, {w.stored_true} "
        f"answered 200 stored:true, {w.stored_false} stored:false, {in_flight} sent but "
        f"unanswered when wrk stopped; {o.summaries} summaries (= 30 x batches: "
        f"{o.summaries == expected_summaries}), {o.launches} launches (= 2 x batches: "
        f"{o.launches == expected_launches}) -> {'OK' if consistent else 'MISMATCH'}"
    )
    if w.wrapped:
        print(f"  WARNING: wrk ran out of batches {w.wrapped} times: raise --max-rate")
    ratio = rows_per_s / o.ceiling_rows_per_s if o.ceiling_rows_per_s else 0.0
    print(
        f"  plain bulk insert         {o.ceiling_rows_per_s:8.0f} rows/s ({o.ceiling_method}, "
        f"same rows of {o.stored} batches, {CEILING_CHUNK} batches per transaction; "
        f"{o.ceiling_rows_per_s / rows_per_batch if rows_per_batch else 0:.0f} batches/s)"
    )
    print(f"  full ingest / plain       {ratio:8.2f}")
    print(
        f"  CPU seconds               advisor {o.advisor_cpu_s:.1f}, wrk {w.cpu_s:.1f} "
        f"(of {w.duration_s * (os.cpu_count() or 1):.0f} available)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
