"""Under attack: real agents' ingest while hostile clients try to take the advisor down.

A fresh database (SQLite, or PostgreSQL with --backend postgresql) is migrated, --hosts hosts
plus one more (the compromised one) are enrolled through SqlStore, and each host gets
pre-generated one-minute batches (bench/ingest.py's generator: 30 summaries, 2 launches, 2
launch counts, ~2 KB gzip, fresh batch ids, increasing sequences). The real advisor runs as a
separate process (`python -m advisor serve`, one process, its log in a temporary file).

Two phases of --seconds each:

  baseline      the legit agents alone: one thread per host, sending its batches one at a time
                on a new connection like the agent (Bearer credential, gzip,
                X-Fleetsight-Batch-Id), --rate batches/s in all, spread evenly over the hosts.
                A slow answer delays that host's next batch (it then sends without waiting,
                like an agent draining its spool); a 429 is counted and not retried.
  under attack  the same load, while bench/attackers.py, in its own process, runs the attacks:
                parse bombs, slow bodies without a credential, a flood of unknown credentials,
                slow bodies from one enrolled host (see that module).

Measured per phase: the legit requests' latency (p50/p99/max from connect to the whole answer;
a request that failed without an answer counts as slower than any), their answers by status,
/healthz latency probed every 100 ms, the advisor's peak RSS (psutil every 50 ms, the process
and any children, and VmHWM) and CPU, and what the attacks sent and how they were answered.
At the end SQL checks that every batch acknowledged 200 is in the database.

Targets, under attack: legit p99 < 1 s, no 429 for legit agents, advisor peak RSS < 300 MB.
The exit status is 0 whatever the figures (a measurement), unless --check: then 1 on a miss.
For the machine's sake the advisor is killed if its RSS passes --rss-cap (reported).

    .venv/bin/python bench/attack.py [--seconds 20] [--hosts 50] [--rate 50]
        [--backend sqlite|postgresql] [--attacks bomb,slow,flood,compromised] [--check]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from advisor.store.engine import make_engine  # noqa: E402
from bench import attackers  # noqa: E402
from bench.ingest import (  # noqa: E402
    SimHost,
    enrol_hosts,
    free_port,
    fresh_database,
    render_batch,
    start_advisor,
    stop,
    wait_ready,
)

TARGET_P99_S = 1.0
TARGET_RSS_BYTES = 300e6
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 10.0  # the agent's default ([advisor] timeout)
HEALTHZ_EVERY = 0.1
RSS_EVERY = 0.05
SETTLE_SECONDS = 2.0  # between the phases
RESPONSIVE_S = 0.25  # /healthz answering within this: the advisor has recovered
RECOVERY_LIMIT_S = 60.0
BATCH_ID_HEADER = "X-Fleetsight-Batch-Id"


@dataclass(frozen=True)
class Sent:
    """One legit batch: its answer's status (None: no answer), error, seconds, stored flag."""

    batch_id: str
    status: int | None
    error: str | None
    seconds: float
    stored: bool = False


@dataclass
class Phase:
    name: str
    sent: list[Sent] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)  # seconds; inf when it failed
    peak_rss: int = 0
    cpu_s: float = 0.0
    attacks: dict[str, Any] = field(default_factory=dict)
    recovery_s: float = 0.0  # from the end of the phase until /healthz is quick again
    killed: str = ""  # why the bench killed the advisor, if it did


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetsight-attack-") as tmp:
        phases, loss = run(args, Path(tmp))
    print_report(args, phases, loss)
    missed = misses(phases[-1], loss)
    return 1 if args.check and missed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50.0, help="legit batches/s in all")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--attacks", default=",".join(attackers.ATTACKS))
    parser.add_argument("--bomb-connections", type=int, default=4)
    parser.add_argument("--bomb-mib", type=int, default=16)
    parser.add_argument("--slow-sockets", type=int, default=40)
    parser.add_argument("--compromised-sockets", type=int, default=40)
    parser.add_argument("--trickle", type=float, default=5.0, help="s between slow body bytes")
    parser.add_argument("--flood-rate", type=float, default=200.0)
    parser.add_argument("--flood-connections", type=int, default=4)
    parser.add_argument(
        "--rss-cap",
        type=float,
        default=min(8e9, psutil.virtual_memory().available / 2),
        help="bytes; the advisor is killed past this (protects the machine)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, tmp: Path) -> tuple[list[Phase], Loss]:
    with fresh_database(args.backend, tmp) as url:
        hosts = enrol_hosts(url, args.hosts + 1)
        legit, compromised = hosts[:-1], hosts[-1]
        per_host = math.ceil(args.seconds * args.rate / args.hosts) + 2
        queues = [iter(pregenerate(host, 2 * per_host)) for host in legit]
        flood_body = tmp / "flood-batch.gz"
        flood_body.write_bytes(render_batch(compromised, uuid.uuid4().hex, 0))
        port = free_port()
        with (tmp / "advisor.log").open("wb") as log:
            advisor = start_advisor(url, port, tmp, 1, output=log)
            try:
                wait_ready(port)
                baseline = run_phase("baseline", advisor, port, legit, queues, args, None)
                time.sleep(SETTLE_SECONDS)
                attack = attackers_process(args, port, compromised.credential, flood_body)
                under = run_phase("under attack", advisor, port, legit, queues, args, attack)
            finally:
                stop(advisor)
        loss = check_stored([baseline, under], url)
    return [baseline, under], loss


def pregenerate(host: SimHost, count: int) -> list[tuple[str, bytes]]:
    """``count`` batches of ``host``, in the order it sends them."""
    batches = []
    for round_index in range(count):
        batch_id = uuid.uuid4().hex
        batches.append((batch_id, render_batch(host, batch_id, round_index)))
    return batches


def attackers_process(
    args: argparse.Namespace, port: int, credential: str, flood_body: Path
) -> subprocess.Popen[str]:
    """bench/attackers.py, its payloads built, waiting for "go"."""
    command = [sys.executable, "-m", "bench.attackers", "--port", str(port)]
    command += ["--seconds", str(args.seconds), "--attacks", args.attacks]
    command += ["--bomb-connections", str(args.bomb_connections), "--bomb-mib", str(args.bomb_mib)]
    command += ["--slow-sockets", str(args.slow_sockets), "--trickle", str(args.trickle)]
    command += ["--compromised-sockets", str(args.compromised_sockets)]
    command += ["--flood-rate", str(args.flood_rate), "--flood-body", str(flood_body)]
    command += ["--flood-connections", str(args.flood_connections)]
    env = dict(os.environ, **{attackers.CREDENTIAL_ENV: credential})
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        proc.wait()
        raise RuntimeError("bench/attackers.py did not start: its error is above")
    return proc


def run_phase(
    name: str,
    advisor: subprocess.Popen[bytes],
    port: int,
    hosts: list[SimHost],
    queues: list[Iterator[tuple[str, bytes]]],
    args: argparse.Namespace,
    attack: subprocess.Popen[str] | None,
) -> Phase:
    """One phase: the legit agents (and the attackers, when given) for --seconds."""
    phase = Phase(name)
    print(f"{name}: {args.seconds:.0f} s...", flush=True)
    cpu_before = cpu_seconds(advisor.pid)
    hwm_before = vm_hwm(advisor.pid)
    stop_sampling = threading.Event()
    started = time.monotonic()
    deadline = started + args.seconds
    if attack is not None:
        assert attack.stdin is not None
        attack.stdin.write("go\n")
        attack.stdin.flush()
    samplers = [
        threading.Thread(target=sample_rss, args=(advisor, phase, args.rss_cap, stop_sampling)),
        threading.Thread(target=probe_healthz, args=(port, phase, deadline)),
    ]
    interval = args.hosts / args.rate  # each host's seconds between batches
    agents = [
        threading.Thread(
            target=agent,
            args=(port, host, queue, started + interval * i / len(hosts), interval, deadline),
            kwargs={"out": phase.sent},
        )
        for i, (host, queue) in enumerate(zip(hosts, queues, strict=True))
    ]
    for thread in samplers + agents:
        thread.start()
    for thread in agents:
        thread.join()
    if attack is not None:
        phase.attacks = attack_results(attack, args.seconds)
    # Work the attack left in the advisor (a bomb being parsed) still counts for its memory.
    phase.recovery_s = wait_responsive(port, max(0.0, time.monotonic() - deadline))
    stop_sampling.set()
    for thread in samplers:
        thread.join()
    phase.cpu_s = cpu_seconds(advisor.pid) - cpu_before
    hwm_after = vm_hwm(advisor.pid)
    if hwm_after > hwm_before:  # a new high-water mark was set in this phase
        phase.peak_rss = max(phase.peak_rss, hwm_after)
    return phase


def agent(
    port: int,
    host: SimHost,
    batches: Iterator[tuple[str, bytes]],
    first_at: float,
    interval: float,
    deadline: float,
    *,
    out: list[Sent],
) -> None:
    """One host's agent: its next batch every ``interval`` s from ``first_at``, one at a time;
    nothing new is started after ``deadline``."""
    next_at = first_at
    while next_at < deadline and time.monotonic() < deadline:
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        batch_id, body = next(batches)
        out.append(post_batch(port, host.credential, batch_id, body))  # list.append: atomic
        next_at += interval


def post_batch(port: int, credential: str, batch_id: str, body: bytes) -> Sent:
    headers = {
        "Authorization": f"Bearer {credential}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        BATCH_ID_HEADER: batch_id,
        "X-Fleetsight-Sent-At": f"{time.time():.3f}",
    }
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
    except (OSError, http.client.HTTPException) as exc:
        error = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        return Sent(batch_id, None, error, time.perf_counter() - started)
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    stored = False
    if response.status == 200:
        stored = bool(json.loads(answer).get("stored"))
    return Sent(batch_id, response.status, None, seconds, stored)


def probe_healthz(port: int, phase: Phase, deadline: float) -> None:
    """GET /healthz every HEALTHZ_EVERY s until ``deadline`` (a slow answer delays the next)."""
    next_at = time.monotonic()
    while next_at < deadline:
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        started = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
        finally:
            conn.close()
        phase.healthz.append(time.perf_counter() - started if ok else math.inf)
        next_at = max(next_at + HEALTHZ_EVERY, time.monotonic())


def wait_responsive(port: int, already: float) -> float:
    """Seconds from the end of the phase (``already`` ago) until /healthz answers within
    RESPONSIVE_S (inf if not within RECOVERY_LIMIT_S)."""
    started = time.monotonic() - already
    while time.monotonic() - started < RECOVERY_LIMIT_S:
        asked = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, port, timeout=RESPONSIVE_S * 4)
        try:
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            ok = False
        finally:
            conn.close()
        if ok and time.perf_counter() - asked < RESPONSIVE_S:
            return time.monotonic() - started
        time.sleep(HEALTHZ_EVERY)
    return math.inf


def sample_rss(
    advisor: subprocess.Popen[bytes], phase: Phase, cap: float, done: threading.Event
) -> None:
    """The advisor's RSS (with any children) every RSS_EVERY s into ``phase.peak_rss``; the
    advisor is killed past ``cap``."""
    while not done.wait(RSS_EVERY):
        try:
            parent = psutil.Process(advisor.pid)
            rss = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
        except psutil.Error:
            return  # gone
        phase.peak_rss = max(phase.peak_rss, rss)
        if rss > cap and advisor.poll() is None:
            phase.killed = f"RSS {rss / 1e6:,.0f} MB passed the cap of {cap / 1e6:,.0f} MB"
            advisor.kill()


def vm_hwm(pid: int) -> int:
    """The process's peak RSS so far (VmHWM), in bytes; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU seconds of the advisor and its children so far; 0 when it is gone."""
    try:
        parent = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [parent, *parent.children(recursive=True)])
    except psutil.Error:
        return 0.0


def attack_results(attack: subprocess.Popen[str], seconds: float) -> dict[str, Any]:
    """What bench/attackers.py reports once its deadline has passed."""
    try:
        output, _ = attack.communicate(timeout=seconds + attackers.REQUEST_TIMEOUT + 30)
    except subprocess.TimeoutExpired:
        attack.kill()
        attack.wait()
        return {}
    lines = output.strip().splitlines()
    parsed: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    return parsed


@dataclass(frozen=True)
class Loss:
    acknowledged: int
    missing: int
    unacknowledged_stored: int


def check_stored(phases: list[Phase], url: str) -> Loss:
    """Every batch answered 200 stored:true must be in the database."""
    acknowledged = {s.batch_id for p in phases for s in p.sent if s.status == 200 and s.stored}
    attempted = {s.batch_id for p in phases for s in p.sent}
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            stored = set(conn.execute(sa.text("SELECT batch_id FROM batches")).scalars())
    finally:
        engine.dispose()
    return Loss(
        acknowledged=len(acknowledged),
        missing=len(acknowledged - stored),
        unacknowledged_stored=len((attempted - acknowledged) & stored),
    )


# -- report ---------------------------------------------------------------------------------


def percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile; inf stands for a request that got no answer."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def seconds_text(value: float, never: str = "no answer") -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return never
    return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"


def latencies(phase: Phase) -> list[float]:
    return [s.seconds if s.status is not None else math.inf for s in phase.sent]


def legit_counts(phase: Phase) -> dict[str, str]:
    statuses = Counter(s.status for s in phase.sent if s.status is not None)
    errors = Counter(s.error for s in phase.sent if s.error is not None)
    other = {k: v for k, v in statuses.items() if k not in (200, 429)}
    return {
        "legit batches sent": str(len(phase.sent)),
        "  answered 200": str(statuses[200]),
        "  answered 429": str(statuses[429]),
        "  answered other": _breakdown(sum(other.values()), other),
        "  no answer (error)": _breakdown(sum(errors.values()), errors),
    }


def _breakdown(total: int, parts: dict[Any, int]) -> str:
    if not parts:
        return str(total)
    return f"{total} (" + ", ".join(f"{k}: {v}" for k, v in sorted(parts.items())) + ")"


def rows(phase: Phase) -> dict[str, str]:
    times = latencies(phase)
    answered = [t for t in times if not math.isinf(t)]
    failed = sum(math.isinf(h) for h in phase.healthz)
    return legit_counts(phase) | {
        "legit latency p50": seconds_text(percentile(times, 50)),
        "legit latency p99": seconds_text(percentile(times, 99)),
        "legit latency max": seconds_text(percentile(times, 100)),
        "legit p99 of those answered": seconds_text(percentile(answered, 99)),
        "/healthz p99 (every 100 ms)": seconds_text(percentile(phase.healthz, 99)),
        "/healthz max": seconds_text(percentile(phase.healthz, 100)),
        "/healthz probes (failed)": f"{len(phase.healthz)} ({failed})",
        "quick again after the phase": seconds_text(
            phase.recovery_s, f"not in {RECOVERY_LIMIT_S:.0f} s"
        ),
        "advisor peak RSS": f"{phase.peak_rss / 1e6:,.0f} MB",
        "advisor CPU": f"{phase.cpu_s:.1f} s",
    }


def print_report(args: argparse.Namespace, phases: list[Phase], loss: Loss) -> None:
    baseline, under = phases
    print(
        f"\nUnder attack: {args.hosts} hosts, {args.rate:g} legit batches/s, {args.seconds:g} s "
        f"per phase, {'PostgreSQL' if args.backend == 'postgresql' else 'SQLite'}, one advisor "
        f"process, {os.cpu_count()} CPUs"
    )
    left, right = rows(baseline), rows(under)
    print(f"{'':30} {'baseline':>18} {'under attack':>30}")
    for key, value in left.items():
        print(f"{key:30} {value:>18} {right[key]:>30}")
    for phase in phases:
        if phase.killed:
            print(f"  ({phase.name}: the bench killed the advisor: {phase.killed})")
    print("\nattacks (under attack phase):")
    for name, result in under.attacks.items():
        print(f"  {attack_line(name, result)}")
    if not under.attacks:
        print("  no report from bench/attackers.py")
    print("\ntargets, under attack:")
    for line in verdicts(under):
        print(f"  {line}")
    print(
        f"stored check: {loss.acknowledged} batches acknowledged 200 stored:true, "
        f"{loss.missing} of them missing from the database "
        f"({'OK' if loss.missing == 0 else 'LOST'}); {loss.unacknowledged_stored} more "
        "stored whose answer did not arrive"
    )
    sys.stdout.flush()


def attack_line(name: str, result: dict[str, Any]) -> str:
    titles = {
        "bomb": f"parse bomb ({result.get('connections')} connections)",
        "slow": f"slow bodies ({result.get('sockets')} sockets)",
        "compromised": f"compromised host's slow bodies ({result.get('sockets')} sockets)",
        "flood": f"unknown credentials ({result.get('rate', 0):g}/s)",
    }
    outcomes = ", ".join(f"{k} x{v}" for k, v in result["outcomes"].items()) or "none"
    text = f"{titles.get(name, name)}: {result['label']}; {result['sent']} sent: {outcomes}"
    if result.get("answer_p50_s") is not None:
        text += (
            f"; answered in p50 {seconds_text(result['answer_p50_s'])}, "
            f"max {seconds_text(result['answer_max_s'])}"
        )
    if result.get("closed_hold_max_s") is not None:
        text += (
            f"; held until the advisor closed them: p50 "
            f"{seconds_text(result['closed_hold_p50_s'])}, max "
            f"{seconds_text(result['closed_hold_max_s'])}"
        )
    return text


def _targets(phase: Phase) -> list[tuple[str, bool, str]]:
    p99 = percentile(latencies(phase), 99)
    too_many = sum(1 for s in phase.sent if s.status == 429)
    return [
        (f"legit p99 < {TARGET_P99_S:g} s", p99 < TARGET_P99_S, seconds_text(p99)),
        ("no 429 for legit agents", too_many == 0, f"{too_many} x 429"),
        (
            f"advisor peak RSS < {TARGET_RSS_BYTES / 1e6:.0f} MB",
            phase.peak_rss < TARGET_RSS_BYTES and not phase.killed,
            f"{phase.peak_rss / 1e6:,.0f} MB",
        ),
    ]


def verdicts(phase: Phase) -> list[str]:
    return [
        f"{name:32} {'met' if met else 'NOT met'} ({value})" for name, met, value in _targets(phase)
    ]


def misses(phase: Phase, loss: Loss) -> bool:
    return loss.missing > 0 or not all(met for _, met, _ in _targets(phase))


if __name__ == "__main__":
    sys.exit(main())
