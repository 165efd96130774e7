"""`make demo`: the agent on this machine reporting to an advisor on loopback, SQLite, no setup.

Writes var/demo/agent.toml (short intervals so something happens within a minute), starts a
real advisor (`db upgrade`, an enrolment token, `serve`), enrols the agent with that token,
then runs the real `fleetsight-agent run` and, while it runs, makes launches happen the three
ways the agent measures them: a watched demo app started (passive), a command timed with
`fleetsight-agent time` (reported), and an HTTP probe of a loopback web server (probe).
Then it shows the agent's /metrics, what the advisor stored, and the agent's spool.

Last, the advisor's main job on a fleet this machine cannot provide: the simulator sends four
weeks of 150 simulated machines through the same ingest API (scripted events: a slower and a
faster version rollout, memory pressure, disks filling, a slow trend, and things that must
not be flagged), the analysis finds what got slower, since when and why, and the vendor
catalog (endoflife.date data) says which installed versions are behind or past end of life.
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
FLEET = ["--hosts", "150", "--days", "28", "--seed", "7", "--interval", "1d"]
FLEET_DEPARTMENTS = ("finance", "engineering", "sales", "hr")
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
    """A simulated fleet through the ingest API, then the analysis and the catalog on it."""
    say("a simulated fleet: 150 machines, 4 weeks, sent to the advisor's ingest API")
    tokens = []
    for department in FLEET_DEPARTMENTS:
        tokens += ["--token", f"{department}={create_token(advisor, advisor_env, department)}"]
    truth = DEMO / "fleet-truth.json"
    subprocess.run(
        [
            *advisor,
            "simulate",
            *FLEET,
            "--advisor",
            f"http://{ADVISOR}",
            *tokens,
            "--truth",
            str(truth),
        ],
        env=advisor_env,
        check=True,
    )
    say("the analysis: what got slower, for whom, since when, and why (analyse; findings list)")
    subprocess.run([*advisor, "analyse"], env=advisor_env, check=True)
    subprocess.run([*advisor, "findings", "list", "--limit", "15"], env=advisor_env, check=True)
    print(f"(what the simulator really did, to compare: {truth.relative_to(REPO)})")
    say("the vendor catalog: installed versions behind or past end of life (catalog outdated)")
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
    outdated = subprocess.run(
        [*advisor, "catalog", "outdated", "--department", "finance"],
        env=advisor_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    print("\n".join(outdated[:8]))
    if len(outdated) > 8:
        print(f"  ... {len(outdated) - 8} more lines (`fleetsight-advisor catalog outdated`)")


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
