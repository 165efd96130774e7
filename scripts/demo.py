"""`make demo`: the agent on this machine reporting to an advisor on loopback, SQLite, no setup.

Writes var/demo/agent.toml (short intervals so something happens within a minute), starts a
real advisor (`db upgrade`, an enrolment token, `serve`), enrols the agent with that token,
then runs the real `fleetsight-agent run` and, while it runs, makes launches happen the three
ways the agent measures them: a watched demo app started (passive), a command timed with
`fleetsight-agent time` (reported), and an HTTP probe of a loopback web server (probe).
Then it shows the agent's /metrics, what the advisor stored, and the agent's spool.

Last, the advisor's main job on a fleet this machine cannot provide: the simulator sends an
office of 150 simulated machines through the same ingest API, fourteen weeks from 2026-02-23
(config/scenarios/office-upgrades.toml: a LibreOffice and a Firefox release that made launches
slower, HDD machines, 4 GB machines swapping, and decoys no upgrade fixes). It is a replay of
spring 2026, not the last weeks: the vendor catalog shipped (endoflife.date data) is a
snapshot of 2026-08-22, so the information manager's review is replayed as of day 59,
2026-04-23, inside it. With the catalog and the costs imported, the analysis says what got
slower and what that costs, the recommendations rank the upgrades by what they save against
what they cost, and the budget plan says what an amount buys and what it leaves out.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "var" / "demo"
METRICS = "127.0.0.1:19798"
REPORT = "127.0.0.1:19799"
WEB = ("127.0.0.1", 18080)
ADVISOR = "127.0.0.1:18443"
RUN_SECONDS = 40
SCENARIO = REPO / "config" / "scenarios" / "office-upgrades.toml"
FLEET_HOSTS = 150
FLEET_START = "2026-02-23"  # the scenario's dates: its events are fractions of 98 days from it
FLEET = [
    *("--scenario", str(SCENARIO), "--hosts", str(FLEET_HOSTS), "--seed", "7"),
    *("--start", FLEET_START, "--days", "98", "--interval", "1d"),
]
FLEET_DEPARTMENTS = ("it", "finance", "engineering", "sales", "hr")  # the scenario's
REVIEW_DAY = "2026-04-23"  # day 59 of the scenario, inside the catalog snapshot's validity
BUDGET = "3000"  # in the currency of config/costs.toml: buys the top ones, not all
ENDOFLIFE = REPO / "tests" / "fixtures" / "endoflife"  # endoflife.date data, MIT

# A stand-in desktop app: computes for a while (loading), then idles (ready), then quits.
DEMO_APP = """
import sys, time
busy_until = time.monotonic() + float(sys.argv[1])
while time.monotonic() < busy_until:
    sum(range(1000))
time.sleep(3)
"""


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def config_text() -> str:
    return f"""\
[agent]
state_dir = "{DEMO / "state"}"
sample_interval = "1s"
summary_interval = "10s"
log_level = "warning"

[metrics]
listen = "{METRICS}"

[report]
listen = "{REPORT}"

[inventory]
check_interval = "1h"

[[apps]]
name = "demo-editor"
process_names = ["demo-editor"]
ready = {{ signal = "cpu_settled", cpu_threshold = 0.1, settle_for = "0.5s", timeout = "20s" }}

[[probes.http]]
name = "intranet"
url = "http://{WEB[0]}:{WEB[1]}/"
interval = "10s"
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> int:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    (DEMO / "bin").mkdir(parents=True)
    config = DEMO / "agent.toml"
    config.write_text(config_text())
    # Named "demo-editor" so the agent sees its launches like those of a real app.
    demo_app = DEMO / "bin" / "demo-editor"
    demo_app.symlink_to(Path(sys.executable).resolve())
    (DEMO / "bin" / "demo_app.py").write_text(DEMO_APP)
    env = {**os.environ, "FLEETSIGHT_AGENT_CONFIG": str(config)}
    agent = [sys.executable, "-m", "agent"]

    say(f"configuration ({config.relative_to(REPO)})")
    subprocess.run([*agent, "check-config"], env=env, check=True)

    say("one measurement of this machine (fleetsight-agent collect --once), abridged")
    collected = subprocess.run(
        [*agent, "collect", "--once"], env=env, check=True, capture_output=True, text=True
    )
    show_collected(collected.stdout)

    say(f"the advisor on {ADVISOR} with SQLite (fleetsight-advisor db upgrade, token, serve)")
    advisor_env = {
        **os.environ,
        "FLEETSIGHT_ADVISOR_STATE_DIR": str(DEMO / "advisor"),
        "FLEETSIGHT_ADVISOR_SERVER_LISTEN": ADVISOR,
    }
    advisor = [sys.executable, "-m", "advisor"]
    subprocess.run([*advisor, "db", "upgrade"], env=advisor_env, check=True)
    token = create_token(advisor, advisor_env, "demo", show=True)
    serving = subprocess.Popen([*advisor, "serve"], env=advisor_env)
    wait_for_advisor()

    say("enrolling the agent (fleetsight-agent enroll URL -, the token on stdin)")
    subprocess.run(
        [*agent, "enroll", f"http://{ADVISOR}", "-"], input=token, text=True, env=env, check=True
    )

    web = http.server.ThreadingHTTPServer(WEB, QuietHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()

    say(f"the agent running for {RUN_SECONDS}s (fleetsight-agent run --print-batches)")
    print(
        "meanwhile: demo-editor is launched 3 times (passive timing, ~0.6-1.2 s of work),\n"
        "a login script is timed with `fleetsight-agent time`, an HTTP probe runs every 10 s",
        flush=True,
    )
    running = subprocess.Popen(
        [*agent, "run", "--for", f"{RUN_SECONDS}s", "--print-batches"], env=env
    )
    try:
        time.sleep(3)
        for work in ("0.6", "1.2", "0.9"):
            subprocess.Popen([str(demo_app), str(DEMO / "bin" / "demo_app.py"), work])
            time.sleep(6)
        subprocess.run(
            [*agent, "time", "--app", "login-script", "--", "sleep", "0.4"], env=env, check=False
        )
        time.sleep(4)
        say(f"the agent's Prometheus endpoint (http://{METRICS}/metrics), a few lines")
        show_metrics()
    finally:
        running.wait(timeout=RUN_SECONDS + 30)
        web.shutdown()
        web.server_close()

    say("what the advisor stored (fleetsight-advisor host list, and its database)")
    subprocess.run([*advisor, "host", "list"], env=advisor_env, check=True)
    show_stored(DEMO / "advisor" / "advisor.sqlite3")

    say("the agent's spool (fleetsight-agent spool status)")
    subprocess.run([*agent, "spool", "status"], env=env, check=True)
    print(
        "\nThe last batch, spooled as the agent stopped, goes to the advisor on its next start;\n"
        "while the advisor is away, batches wait in the spool (bounded, crash-safe)."
    )
    try:
        show_fleet(advisor, advisor_env)
    finally:
        serving.terminate()
        serving.wait(timeout=30)
    return 0


def create_token(
    advisor: list[str], advisor_env: dict[str, str], department: str, *, show: bool = False
) -> str:
    """A one-hour enrolment token for ``department`` (`fleetsight-advisor token create`)."""
    created = subprocess.run(
        [*advisor, "token", "create", "--department", department, "--expires", "1h"],
        env=advisor_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if show:
        print(created.rstrip())
    return next(word for word in created.split() if word.startswith("fst_"))


def show_fleet(advisor: list[str], advisor_env: dict[str, str]) -> None:
    """A simulated office through the ingest API, then an information manager's review of it.

    A replay of spring 2026 rather than the last weeks: the review happens as of
    ``REVIEW_DAY``, inside the validity of the vendor catalog snapshot (2026-08-22).
    """
    say(f"a simulated office: {FLEET_HOSTS} machines, 14 weeks from {FLEET_START}, sent to ingest")
    print(
        f"A replay of spring 2026, reviewed as of {REVIEW_DAY} (day 59), not the last weeks:\n"
        "the vendor catalog shipped is an endoflife.date snapshot of 2026-08-22.",
        flush=True,
    )
    tokens = []
    for department in FLEET_DEPARTMENTS:
        tokens += ["--token", f"{department}={create_token(advisor, advisor_env, department)}"]
    truth = DEMO / "fleet-truth.json"
    simulate = [*FLEET, "--advisor", f"http://{ADVISOR}", *tokens, "--truth", str(truth)]
    subprocess.run([*advisor, "simulate", *simulate], env=advisor_env, check=True)

    say("the vendor catalog and the costs (catalog import endoflife, org, costs)")
    for kind, source in (
        ("endoflife", ENDOFLIFE),
        ("org", REPO / "config" / "catalog.toml"),  # aliases, open-source licences
        ("costs", REPO / "config" / "costs.toml"),  # labour rate and install hours
    ):
        subprocess.run(
            [*advisor, "catalog", "import", kind, str(source)],
            env=advisor_env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    print("imported: release dates and end of life, licences, the labour rate, install hours")

    say(
        f"the analysis as of {REVIEW_DAY}: what got slower, for whom, since when, why, "
        "and what the waiting costs (analyse --at; findings list)"
    )
    subprocess.run([*advisor, "analyse", "--at", REVIEW_DAY], env=advisor_env, check=True)
    subprocess.run([*advisor, "findings", "list", "--limit", "10"], env=advisor_env, check=True)
    print(f"(what the simulator really did, to compare: {truth.relative_to(REPO)})")

    say(
        "the recommendations: upgrades and hardware ranked by what they save a year "
        "against what they cost (recommend --at; recommendations list)"
    )
    subprocess.run([*advisor, "recommend", "--at", REVIEW_DAY], env=advisor_env, check=True)
    subprocess.run(
        [*advisor, "recommendations", "list", "--limit", "10"], env=advisor_env, check=True
    )

    say(f"the budget: what {BUDGET} buys, what it leaves out and why (budget plan --amount)")
    subprocess.run([*advisor, "budget", "plan", "--amount", BUDGET], env=advisor_env, check=True)


def wait_for_advisor() -> None:
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://{ADVISOR}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the advisor did not start; see its messages above")


def show_stored(database: Path) -> None:
    import sqlite3
    import statistics

    with sqlite3.connect(database) as db:
        batches = db.execute("SELECT count(*) FROM batches").fetchone()[0]
        summaries = db.execute("SELECT count(*) FROM metric_summaries").fetchone()[0]
        spans = db.execute("SELECT count(*) FROM version_spans").fetchone()[0]
        durations: dict[tuple[str, str], list[float]] = {}
        query = "SELECT app, method, duration_seconds FROM launches WHERE outcome = 'ok'"
        for app, method, seconds in db.execute(query):
            durations.setdefault((app, method), []).append(seconds)
    print(
        f"stored: {batches} batches, {summaries} resource summaries, "
        f"{spans} package versions with their history"
    )
    for (app, method), values in sorted(durations.items()):
        print(
            f"  {app:<14} {method:<9} {len(values)} launches, "
            f"median load time {statistics.median(values):.3f} s"
        )


def show_collected(text: str) -> None:
    import json

    batch = json.loads(text)
    inventory = batch["inventory"] or {}
    hardware = inventory.get("hardware", {})
    disks = ", ".join(f"{d['name']} ({d['kind']})" for d in hardware.get("disks", []))
    print(f"host        {batch['host']['hostname']} ({batch['host']['host_id'][:12]}…)")
    print(
        f"hardware    {hardware.get('cpu_model')}, {hardware.get('cpu_threads')} threads, "
        f"{hardware.get('memory_bytes', 0) / 1024**3:.1f} GiB RAM; disks: {disks or 'none'}"
    )
    print(
        f"os          {hardware.get('os_name')} {hardware.get('os_version') or ''}, "
        f"kernel {hardware.get('kernel')}"
    )
    print(
        f"software    {len(inventory.get('software', []))} installed packages, "
        f"{len(inventory.get('upgradable', []))} upgradable"
    )
    for interval in batch["intervals"]:
        print(f"resources   {len(interval['metrics'])} series, e.g.:")
        for metric in interval["metrics"][:12]:
            labels = ",".join(f"{k}={v}" for k, v in metric["labels"].items())
            name = metric["name"] + (f"{{{labels}}}" if labels else "")
            print(f"  {name:<48} max {metric['max']:.4g}")


def show_metrics() -> None:
    try:
        with urllib.request.urlopen(f"http://{METRICS}/metrics", timeout=5) as response:
            lines = response.read().decode().splitlines()
    except OSError as exc:
        print(f"(could not scrape: {exc})")
        return
    wanted = (
        "fleetsight_launch_duration_seconds_count",
        "fleetsight_agent_launches_total",
        "fleetsight_agent_spool_batches",
        "fleetsight_cpu_utilization_ratio",
        "fleetsight_memory_available_bytes",
        "fleetsight_pressure_io_some_ratio",
    )
    for line in lines:
        if line.startswith(wanted):
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
