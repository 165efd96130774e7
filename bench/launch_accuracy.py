"""Passive launch timing: accuracy against known ready times, and the watcher's own CPU cost.

    .venv/bin/python bench/launch_accuracy.py [--rounds 10] [--cost-seconds 15]

Launches tests/agent/launches/fake_app.py (under unique process names) many times, with each
ready signal and ready times from 0.3 s to 5 s, half the rounds one launch at a time and half
with all four signals launching together. The true duration is from just before the launch
(``Popen``) to the moment the app wrote as its ready time. Prints the error figures and whether
the target is met (median absolute error at most max(50 ms, 5 % of the median true duration)).

Then runs the watcher idle at the default scan interval and, in the same process over the same
time, a full ``psutil.process_iter`` scan at the same rate, and prints the CPU each needs per
minute. No assertions: these are figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config import AppConfig, LaunchesSection, ReadySection  # noqa: E402
from agent.launches.recorder import LaunchRecorder  # noqa: E402
from agent.launches.watcher import LaunchWatcher  # noqa: E402
from agent.shared.wire import LaunchEvent  # noqa: E402
from tests.agent.launches.fake_app import READY_LINE, make_launcher  # noqa: E402

FAKE_APP = ROOT / "tests" / "agent" / "launches" / "fake_app.py"
READY_TIMES = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 0.4)
MODES = {"cpu_settled": "cpu", "libraries_settled": "libraries", "port": "port", "log_line": "log"}


@dataclass
class Run:
    signal: str
    after: float
    concurrent: bool
    launched_at: float
    ready_file: Path
    process: subprocess.Popen[bytes]
    event: LaunchEvent | None = None

    def true_duration(self) -> float:
        return float(self.ready_file.read_text()) - self.launched_at


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Bench:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.log = workdir / "app.log"
        self.names = {signal: "fk" + secrets.token_hex(5) for signal in MODES}
        self.launchers = {s: make_launcher(workdir, n) for s, n in self.names.items()}
        readies = {
            "cpu_settled": ReadySection(signal="cpu_settled"),
            "libraries_settled": ReadySection(signal="libraries_settled"),
            "port": ReadySection(signal="port", port=self.port),
            "log_line": ReadySection(signal="log_line", log_path=self.log, log_pattern=READY_LINE),
        }
        self.apps = [
            AppConfig(name=signal, process_names=(self.names[signal],), ready=readies[signal])
            for signal in MODES
        ]
        self.events: list[LaunchEvent] = []
        self.lock = threading.Lock()
        defaults = LaunchesSection()  # measure what ships: the configured default intervals
        self.watcher = LaunchWatcher(
            self.apps,
            LaunchRecorder(on_record=self._record),
            scan_interval=defaults.scan_interval,
            poll_interval=defaults.poll_interval,
        )
        self.count = 0

    def _record(self, event: LaunchEvent) -> None:
        with self.lock:
            self.events.append(event)

    def launch(self, signal: str, after: float, concurrent: bool) -> Run:
        self.count += 1
        ready_file = self.workdir / f"ready-{self.count}"
        command = [str(self.launchers[signal]), str(FAKE_APP), MODES[signal], "--after", str(after)]
        command += ["--ready-file", str(ready_file), "--port", str(self.port), "--log"]
        command += [str(self.log), "--libraries", "12"]
        launched_at = time.time()
        process = subprocess.Popen(command)
        return Run(signal, after, concurrent, launched_at, ready_file, process)

    def finish(self, runs: list[Run]) -> None:
        """Wait for each run's event, then stop its process (and free the port)."""
        deadline = time.monotonic() + 60
        pending = list(runs)
        while pending and time.monotonic() < deadline:
            with self.lock:
                for run in list(pending):
                    match = [e for e in self.events if e.app == run.signal]
                    if match:
                        run.event = match[0]
                        self.events.remove(match[0])
                        pending.remove(run)
            time.sleep(0.02)
        for run in runs:
            run.process.terminate()
            run.process.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def report(title: str, runs: list[Run]) -> None:
    timed = [r for r in runs if r.event and r.event.outcome == "ok" and r.ready_file.exists()]
    if not timed:
        print(f"{title:<28} no timed runs")
        return
    errors = [abs((r.event.duration_seconds or 0.0) - r.true_duration()) for r in timed if r.event]
    relative = [e / r.true_duration() for e, r in zip(errors, timed, strict=True)]
    print(
        f"{title:<28} n={len(timed):>2}  median |err| {statistics.median(errors) * 1000:6.1f} ms"
        f"  p90 |err| {percentile(errors, 0.9) * 1000:6.1f} ms"
        f"  median rel {statistics.median(relative) * 100:5.1f} %"
    )


def accuracy(bench: Bench, rounds: int, verbose: bool) -> None:
    runs: list[Run] = []
    signals = list(MODES)
    for round_ in range(rounds):
        concurrent = round_ >= rounds // 2
        batch: list[Run] = []
        for index, signal in enumerate(signals):
            after = READY_TIMES[(round_ + index * 3) % len(READY_TIMES)]
            if signal == "port" and concurrent:
                after = max(after, 0.3)
            run = bench.launch(signal, after, concurrent)
            batch.append(run)
            if not concurrent:
                bench.finish([run])
        if concurrent:
            bench.finish(batch)
        runs.extend(batch)
        print(f"round {round_ + 1}/{rounds} done", file=sys.stderr)

    outcomes = [run.event.outcome if run.event else "missing" for run in runs]
    timed = [r for r in runs if r.event and r.event.outcome == "ok" and r.ready_file.exists()]
    errors = [abs((r.event.duration_seconds or 0.0) - r.true_duration()) for r in timed if r.event]
    true_median = statistics.median(r.true_duration() for r in timed)
    starts = [abs(r.event.started_at - r.launched_at) for r in timed if r.event]
    print("== passive launch timing: accuracy ==")
    print(
        f"launches: {len(runs)}  outcomes: "
        + ", ".join(f"{o}={outcomes.count(o)}" for o in sorted(set(outcomes)))
    )
    print(
        f"true durations: {min(r.true_duration() for r in timed):.2f} s to "
        f"{max(r.true_duration() for r in timed):.2f} s, median {true_median:.2f} s"
    )
    report("all", runs)
    report("one at a time", [r for r in runs if not r.concurrent])
    report("four launching together", [r for r in runs if r.concurrent])
    for signal in MODES:
        report(f"  {signal}", [r for r in runs if r.signal == signal])
    print(
        f"start time |err| median {statistics.median(starts) * 1000:.1f} ms "
        f"(started_at vs. the moment before Popen)"
    )
    within = sum(
        1 for e, r in zip(errors, timed, strict=True) if e <= max(0.050, 0.05 * r.true_duration())
    )
    print(f"runs within max(50 ms, 5 %) of their own duration: {within}/{len(timed)}")
    if verbose:
        for run in runs:
            measured = run.event.duration_seconds if run.event else None
            true = run.true_duration() if run.ready_file.exists() else None
            print(
                f"    {run.signal:<18} after {run.after:4.1f}  together={run.concurrent!s:<5}"
                f"  true {true}  measured {measured}  {run.event.outcome if run.event else ''}"
            )
    median_error = statistics.median(errors)
    target = max(0.050, 0.05 * true_median)
    verdict = "MET" if median_error <= target else "NOT met"
    print(
        f"target: median |err| <= max(50 ms, 5 % of {true_median:.2f} s) = "
        f"{target * 1000:.0f} ms -> {median_error * 1000:.1f} ms: {verdict}"
    )
    stats = bench.watcher.stats
    print(
        f"watcher while timing: {stats.polls} polls, {stats.poll_cpu_seconds:.3f} CPU s "
        f"({stats.poll_cpu_seconds / max(1, len(runs)) * 1000:.1f} ms per launch)"
    )


def cost(seconds: float, apps: list[AppConfig]) -> None:
    """The idle watcher alone, then a psutil scan alone at the same rate, as long each."""
    interval = LaunchesSection().scan_interval
    watcher = LaunchWatcher(apps, LaunchRecorder(), scan_interval=interval)
    watcher.start()
    time.sleep(seconds)
    watcher.stop()
    stats = watcher.stats
    watcher_minutes = stats.scans * interval / 60
    psutil_cpu = 0.0
    psutil_scans = 0
    due = time.monotonic()
    while psutil_scans < stats.scans:
        cpu = time.thread_time()
        for _ in psutil.process_iter(["name", "exe", "cmdline", "create_time"]):
            pass
        psutil_cpu += time.thread_time() - cpu
        psutil_scans += 1
        due += interval
        time.sleep(max(0.0, due - time.monotonic()))
    processes = sum(1 for name in os.listdir("/proc") if name.isdigit())  # noqa: PTH208
    ours = stats.scan_cpu_seconds / watcher_minutes
    theirs = psutil_cpu / (psutil_scans * interval / 60)
    print("== passive launch timing: cost of noticing launches ==")
    print(f"processes in /proc: {processes}; one scan every {interval} s; {seconds:.0f} s each")
    print(
        f"watcher scan loop : {stats.scans:>4} scans, {ours:.4f} CPU s per minute "
        f"({stats.scan_cpu_seconds / max(1, stats.scans) * 1e6:.0f} us per scan, "
        f"{stats.processes_inspected} new processes inspected)"
    )
    print(
        f"psutil full scan  : {psutil_scans:>4} scans, {theirs:.4f} CPU s per minute "
        f"({psutil_cpu / max(1, psutil_scans) * 1e6:.0f} us per scan)"
    )
    print(f"ratio psutil / watcher: {theirs / ours if ours else float('inf'):.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of four launches")
    parser.add_argument("--cost-seconds", type=float, default=15.0)
    parser.add_argument("--verbose", action="store_true", help="print every run")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetsight-bench-") as workdir:
        bench = Bench(Path(workdir))
        bench.watcher.start()
        while bench.watcher.stats.scans < 1:
            time.sleep(0.01)
        try:
            accuracy(bench, options.rounds, options.verbose)
        finally:
            bench.watcher.stop()
        cost(options.cost_seconds, bench.apps)


if __name__ == "__main__":
    main()
