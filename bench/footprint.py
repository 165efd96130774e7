"""Footprint: the agent at default settings vs. Debian's prometheus-node-exporter, same run.

Both run side by side for --seconds (default 150 s, the issue asks for at least 2 minutes)
and are scraped on the same schedule. By default that schedule is the agent's sampling
interval (5 s): node_exporter measures only when scraped, so both take the same measurements
as often; `--scrape-every 15` uses Prometheus' default scrape interval instead. The agent
watches 10 apps, ships to a loopback receiver, and sees a launch of one of them every 10 s.

The agent runs from its own virtualenv (var/bench/agent-venv) with only `pip install .[agent]`,
as on a department machine; see agent_install(). It enrols with and ships to the receiver over
HTTPS, checking the certificate against the system trust store as a machine has it
(`--plain-http` for http://).

Three more peers show the floor under the agent's memory (bench/library_floor.py, from
var/bench/floor-venv): the agent's libraries doing the least its job needs, timed by
APScheduler 3 and posting with httpx (the stack the agent started on), by a plain thread with
httpx, and by a plain thread posting with http.client (what the agent uses now). Their
differences are what APScheduler and httpx would cost; the agent's distance from the third is
what its own code costs. `--no-floor` skips them.

Printed: peak and final RSS, CPU seconds over the whole run and over the steady state (after
a 20 s warm-up), and the ratio agent/node_exporter.
Targets (issue 2): agent RSS <= 35 MB, CPU <= node_exporter's.

    .venv/bin/python bench/footprint.py [--seconds 150] [--scrape-every 5]
    .venv/bin/python bench/footprint.py --desktop-packages 3000   # a desktop's inventory
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakes.receiver import Receiver  # noqa: E402
from tests.fakes.tls import hashed_store, server_context  # noqa: E402

AGENT_VENV = REPO / "var" / "bench" / "agent-venv"
RECORDED_DPKG = REPO / "tests" / "fixtures" / "package-managers" / "dpkg-query.debian12.tsv"
FLOOR_VENV = REPO / "var" / "bench" / "floor-venv"
FLOOR_NAMES = {
    "apscheduler": "floor: libs + APScheduler",
    "thread": "floor: libs, thread timer",
    "stdlib-http": "floor: no APScheduler, no httpx",
}
QUIET: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

WATCHED = [
    ("libreoffice", "soffice.bin"),
    ("firefox", "firefox-esr"),
    ("thunderbird", "thunderbird"),
    ("gimp", "gimp"),
    ("inkscape", "inkscape"),
    ("code", "code"),
    ("evince", "evince"),
    ("vlc", "vlc"),
    ("zoom", "zoom"),
    ("bench-sleeper", "sleep"),
]


@dataclass
class Usage:
    name: str
    pid: int
    rss_samples: list[int] = field(default_factory=list)
    final_pss: int = 0
    cpu_start: float = 0.0
    cpu_warm: float = 0.0
    cpu_end: float = 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process and of its children that have exited (dpkg-query,
    apt and version commands the agent runs count against it)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages (libcrypto, libc...) counted by the share each
    process has of them, which is what a machine running many programs pays."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def agent_config(state_dir: Path, metrics_port: int, advisor_url: str) -> str:
    apps = "\n".join(
        f'[[apps]]\nname = "{name}"\nprocess_names = ["{proc}"]\n'
        + ('ready = { signal = "process_start" }\n' if proc == "sleep" else "")
        for name, proc in WATCHED
    )
    return (
        f'[agent]\nstate_dir = "{state_dir}"\n'
        f'[advisor]\nurl = "{advisor_url}"\n'
        f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n'
        f'[report]\nlisten = "127.0.0.1:{metrics_port + 1}"\n' + apps
    )


def desktop_dpkg_query(scratch: Path, packages: int) -> Path:
    """A ``dpkg-query`` first on PATH that prints ``packages`` lines: the real Debian 12
    output (tests/fixtures, from ../shared/data), then copies of it under new names
    (``adduser-2``...), so the agent's inventory is as large as a desktop's. Returns the
    directory to put on PATH."""
    recorded = RECORDED_DPKG.read_text().splitlines(keepends=True)
    lines = [
        line if copy == 0 else line.replace("\t", f"-{copy + 1}\t", 1)
        for copy in range(packages // len(recorded) + 1)
        for line in recorded
    ][:packages]
    listing = scratch / "dpkg-query.tsv"
    listing.write_text("".join(lines))
    fake_bin = scratch / "desktop-bin"
    fake_bin.mkdir()
    script = fake_bin / "dpkg-query"
    script.write_text(f"#!/bin/sh\nexec cat {listing}\n")
    script.chmod(0o755)
    return fake_bin


def scrape(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return len(response.read())


def deployment_python() -> str:
    """The interpreter the install instructions give the agent: the system's ``python3``
    (``sudo python3 -m venv /opt/fleetsight``), Debian's own build on a Debian machine, not
    the development interpreter this script runs on. Debian links libpython statically; a
    shared-libpython build (pyenv's) keeps ~0.7 MB more of it resident."""
    system = Path("/usr/bin/python3")
    if system.exists():
        probe = [system, "-c", "import sys, venv, ensurepip; print(sys.version_info >= (3, 11))"]
        result = subprocess.run(probe, capture_output=True, text=True, check=False)
        if result.stdout.strip() == "True":
            return str(system)
    return sys.executable


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator > 0 else "n/a"


def venv_home(venv: Path) -> str | None:
    """The directory of the interpreter that made ``venv`` (its pyvenv.cfg ``home``)."""
    try:
        lines = (venv / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return None
    return next((line.split("=", 1)[1].strip() for line in lines if line.startswith("home")), None)


def agent_install() -> Path:
    """The agent as a department machine gets it: a virtualenv with ``pip install .[agent]``
    and nothing else, bytecode compiled by pip. Not the development virtualenv: its advisor
    and dev packages change what the agent's libraries import (httpx loads its command line's
    click, rich and pygments whenever they are installed: +5 MB of RSS). This checkout's code is
    reinstalled on every run, its dependencies when they changed."""
    python = AGENT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([deployment_python(), "-m", "venv", str(AGENT_VENV)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", f"{REPO}[agent]"], check=True)
    reinstall = ["install", "-q", "--no-deps", "--force-reinstall", str(REPO)]
    subprocess.run([python, "-m", "pip", *reinstall], check=True)
    return AGENT_VENV / "bin" / "fleetsight-agent"


def floor_install() -> Path:
    """A virtualenv with the agent's libraries, the same versions, plus APScheduler 3 and
    httpx (the two libraries the agent left for the standard library)."""
    python = FLOOR_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([deployment_python(), "-m", "venv", str(FLOOR_VENV)], check=True)
    frozen = subprocess.run(
        [AGENT_VENV / "bin" / "python", "-m", "pip", "freeze", "--exclude", "fleetsight"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    pins = [line for line in frozen if not line.startswith(("-e ", "fleetsight"))]
    extras = ["apscheduler>=3.10,<4", "httpx>=0.27,<1"]
    install = [python, "-m", "pip", "install", "-q", *pins, *extras]
    subprocess.run(install, check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--scrape-every", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument(
        "--plain-http", action="store_true", help="advisor over http:// instead of https://"
    )
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the library floors (no PyPI needed)"
    )
    parser.add_argument(
        "--desktop-packages",
        type=int,
        metavar="N",
        help="the agent's dpkg-query lists N packages (a desktop has 2,000-3,000; this VM has"
        " ~800): the recorded Debian 12 list, repeated under new names",
    )
    args = parser.parse_args()

    exporter = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
    if not Path(exporter).exists():
        print(
            "prometheus-node-exporter is not installed (apt-get install "
            "prometheus-node-exporter); `make bench` installs it as root"
        )
        return 1

    python = deployment_python()
    for venv in (AGENT_VENV, FLOOR_VENV):
        if venv_home(venv) not in (None, str(Path(python).parent)):
            shutil.rmtree(venv)  # made by another interpreter (an earlier run): make it again
    agent_program = agent_install()
    floor_python = None if args.no_floor else floor_install()
    token = "bench-token"
    tls = None if args.plain_http else server_context()
    with tempfile.TemporaryDirectory() as scratch, Receiver(tokens={token}, tls=tls) as receiver:
        # The agent checks the advisor as it would against /etc/ssl/certs.
        store_env = hashed_store(Path(scratch))
        state = Path(scratch) / "state"
        config = Path(scratch) / "agent.toml"
        config.write_text(agent_config(state, 19798, receiver.url))
        env = {**os.environ, **store_env, "FLEETSIGHT_AGENT_CONFIG": str(config)}
        if args.desktop_packages:
            fake_bin = desktop_dpkg_query(Path(scratch), args.desktop_packages)
            env["PATH"] = f"{fake_bin}{os.pathsep}{env.get('PATH', '')}"
        agent_cli = [str(agent_program)]
        subprocess.run(
            [*agent_cli, "enroll", receiver.url, token], env=env, check=True, capture_output=True
        )

        processes = {
            "fleetsight-agent": (
                subprocess.Popen([*agent_cli, "run"], env=env, **QUIET),
                "http://127.0.0.1:19798/metrics",
            ),
            "node_exporter": (
                subprocess.Popen([exporter, "--web.listen-address=127.0.0.1:19100"], **QUIET),
                "http://127.0.0.1:19100/metrics",
            ),
        }
        if floor_python is not None:
            floors = (
                (19810, "apscheduler", ["--scheduler", "apscheduler"]),
                (19811, "thread", ["--scheduler", "thread"]),
                (19812, "stdlib-http", ["--scheduler", "thread", "--http", "http.client"]),
            )
            for port, variant, options in floors:
                floor_state = Path(scratch) / f"floor-{variant}"
                floor_state.mkdir()
                floor = [floor_python, str(REPO / "bench" / "library_floor.py"), *options]
                floor += ["--listen", str(port)]
                floor += ["--url", f"{receiver.url}/floor", "--state", str(floor_state)]
                processes[FLOOR_NAMES[variant]] = (
                    subprocess.Popen(floor, env=env, **QUIET),
                    f"http://127.0.0.1:{port}/metrics",
                )
        usage = {name: Usage(name, process.pid) for name, (process, _) in processes.items()}
        for item in usage.values():
            item.cpu_start = cpu_seconds(item.pid)
        stop = threading.Event()

        def launcher() -> None:
            while not stop.wait(10):
                subprocess.run(["sleep", "0.5"], check=False)

        threading.Thread(target=launcher, daemon=True).start()
        started = time.monotonic()
        next_scrape = started + 2
        warm_marked = False
        scrape_errors = dict.fromkeys(processes, 0)
        scraped_bytes = dict.fromkeys(processes, 0)
        try:
            while (elapsed := time.monotonic() - started) < args.seconds:
                for item in usage.values():
                    item.rss_samples.append(rss_bytes(item.pid))
                if not warm_marked and elapsed >= args.warmup:
                    for item in usage.values():
                        item.cpu_warm = cpu_seconds(item.pid)
                    warm_marked = True
                if time.monotonic() >= next_scrape:
                    next_scrape += args.scrape_every
                    for name, (_, url) in processes.items():
                        try:
                            scraped_bytes[name] = scrape(url)
                        except OSError:
                            scrape_errors[name] += 1
                time.sleep(1)
            for item in usage.values():
                item.cpu_end = cpu_seconds(item.pid)
                item.rss_samples.append(rss_bytes(item.pid))
                item.final_pss = pss_bytes(item.pid)
            exited = {name: process.poll() for name, (process, _) in processes.items()}
        finally:
            stop.set()
            for process, _ in processes.values():
                process.send_signal(signal.SIGTERM)
            for process, _ in processes.values():
                process.wait(timeout=30)
        batches = len(receiver.batches)
    died = {name: code for name, code in exited.items() if code is not None}
    if died:
        print(f"exited during the run (exit codes): {died}; figures would be meaningless")
        return 1

    duration = args.seconds
    steady = duration - args.warmup
    print(f"agent and floors run on {python}")
    inventory = f", dpkg lists {args.desktop_packages} packages" if args.desktop_packages else ""
    print(
        f"footprint over {duration:.0f} s (steady state: last {steady:.0f} s), "
        f"scraped every {args.scrape_every:.0f} s, {len(WATCHED)} watched apps{inventory}"
    )
    print(
        f"{'':32} {'peak RSS':>10} {'final RSS':>10} {'final PSS':>10} {'CPU total':>10}"
        f" {'CPU steady':>11}"
        f" {'CPU %':>6} {'scrape':>8}"
    )
    rows = {}
    for name, item in usage.items():
        peak = max(item.rss_samples) / 1e6
        final = item.rss_samples[-1] / 1e6
        total = item.cpu_end - item.cpu_start
        steady_cpu = item.cpu_end - item.cpu_warm
        rows[name] = (peak, total, steady_cpu)
        print(
            f"{name:32} {peak:>8.1f}MB {final:>8.1f}MB {item.final_pss / 1e6:>8.1f}MB"
            f" {total:>9.2f}s {steady_cpu:>10.2f}s"
            f" {100 * steady_cpu / steady:>5.2f}% {scraped_bytes[name]:>7}B"
        )
    agent_row, node_row = rows["fleetsight-agent"], rows["node_exporter"]
    print(
        f"ratio agent/node_exporter: peak RSS {ratio(agent_row[0], node_row[0])}, "
        f"CPU total {ratio(agent_row[1], node_row[1])}, "
        f"CPU steady {ratio(agent_row[2], node_row[2])}"
    )
    scheme = "http" if args.plain_http else "https, system trust store"
    print(
        f"agent shipped {batches} batches to the loopback receiver ({scheme}); "
        f"scrape errors {scrape_errors}"
    )
    if FLOOR_NAMES["apscheduler"] in rows:
        with_aps, without = rows[FLOOR_NAMES["apscheduler"]][0], rows[FLOOR_NAMES["thread"]][0]
        stdlib_http = rows[FLOOR_NAMES["stdlib-http"]][0]
        print(
            f"library floor: {with_aps:.1f} MB with APScheduler, {without:.1f} MB without "
            f"(APScheduler {with_aps - without:+.1f} MB), {stdlib_http:.1f} MB without "
            f"httpx too (httpx {without - stdlib_http:+.1f} MB); agent above its floor: "
            f"{agent_row[0] - stdlib_http:+.1f} MB"
        )
    rss_ok = agent_row[0] <= 35.0
    cpu_ok = agent_row[2] <= node_row[2]
    print(
        f"target RSS <= 35 MB: {'met' if rss_ok else 'NOT met'}; "
        f"target CPU <= node_exporter (steady): {'met' if cpu_ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
