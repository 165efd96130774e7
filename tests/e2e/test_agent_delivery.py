"""The real agent process against a real HTTP receiver on loopback: nothing lost, nothing twice."""

from __future__ import annotations

import gzip
import json
import random
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from agent.spool import Spool
from tests.conftest import require_tool
from tests.e2e.agentproc import AgentProcess, wait_until
from tests.fakes.receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# A stand-in app: computes for 0.4 s (loading), then idles (ready), then quits.
# Busy for 0.4 s of CPU, not of wall time: on a loaded machine a wall-clock loop gets a
# small share of a core, looks idle to the cpu_settled signal, and "loads" in 0.15 s.
FAKE_APP = "import time\nwhile time.process_time() < 0.4: pass\ntime.sleep(1.5)\n"


def sequences(receiver: Receiver) -> list[int]:
    return sorted(batch["sequence"] for batch in receiver.batches.values())


def enrolled_agent(
    tmp_path: Path, receiver: Receiver, extra: str = "", **kwargs: Any
) -> AgentProcess:
    receiver.add_token("tok-e2e")
    agent = AgentProcess(tmp_path, extra=extra, **kwargs)
    result = agent.cli("enroll", receiver.url, "tok-e2e")
    assert "enrolled with" in result.stdout
    return agent


def test_every_batch_arrives_once_when_the_advisor_is_down_for_a_while(tmp_path: Path) -> None:
    app = tmp_path / "e2e-editor"
    app.symlink_to(Path(sys.executable).resolve())
    (tmp_path / "app.py").write_text(FAKE_APP)
    watched = (
        '[[apps]]\nname = "e2e-editor"\nprocess_names = ["e2e-editor"]\n'
        'ready = { signal = "cpu_settled", cpu_threshold = 0.2, settle_for = "0.3s", '
        'timeout = "10s" }\n'
    )
    with Receiver() as receiver:
        agent = enrolled_agent(tmp_path, receiver, watched).start()
        try:
            assert receiver.wait_for_batches(2, timeout=30), agent.log_text()
            receiver.stop()
            time.sleep(3)  # about three intervals go to the spool while the advisor is down
            subprocess.run([str(app), str(tmp_path / "app.py")], check=True, timeout=30)
            agent.cli("time", "--app", "login-script", "--", sys.executable, "-c", "pass")
            time.sleep(1)
            receiver.start()

            def has_launches(r: Receiver) -> bool:
                methods = {e["method"] for b in r.batches.values() for e in b["launches"]}
                return {"passive", "reported"} <= methods

            assert receiver.wait_for(has_launches, timeout=30), agent.log_text()
            assert agent.terminate() == 0
        finally:
            agent.close()
        # The final partial interval was spooled at SIGTERM, not sent: a restart ships it.
        final = agent.spooled_ids()
        assert final
        assert not final & set(receiver.batches)
        agent.start()
        try:
            assert wait_until(lambda: not agent.spooled_ids(), timeout=30), agent.log_text()
        finally:
            assert agent.terminate() == 0

    got = sequences(receiver)
    assert got == list(range(got[0], got[0] + len(got))), "a batch went missing"
    assert len(receiver.batches) == len(got)
    launches = [e for b in receiver.batches.values() for e in b["launches"]]
    passive = [e for e in launches if e["method"] == "passive"]
    assert [e["app"] for e in passive] == ["e2e-editor"]
    assert passive[0]["outcome"] == "ok"
    assert 0.2 < passive[0]["duration_seconds"] < 2.0
    reported = [e for e in launches if e["method"] == "reported"]
    assert reported[0]["app"] == "login-script"
    counts = [c for b in receiver.batches.values() for c in b["launch_counts"]]
    assert sum(c["count"] for c in counts if c["app"] == "e2e-editor") == 1
    assert any(b["inventory"] for b in receiver.batches.values())


def test_kill_9_never_loses_a_spooled_batch(tmp_path: Path) -> None:
    with Receiver() as receiver:
        agent = enrolled_agent(tmp_path, receiver, summary_interval="200ms")
        receiver.stop()  # the advisor is away: everything piles up in the spool
        committed: set[str] = set()
        rng = random.Random(7)
        try:
            for _ in range(4):
                agent.start()

                # At least two more batches each time (however slow the machine), then a
                # kill at a random moment of the next intervals.
                def grown(target: int = len(committed) + 2) -> bool:
                    return len(agent.spooled_ids()) >= target

                assert wait_until(grown, timeout=60), agent.log_text()
                time.sleep(rng.random() * 0.5)
                agent.kill9()
                with closing(sqlite3.connect(agent.state_dir / "spool.sqlite3")) as db:
                    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
                assert integrity == "ok"
                pending = agent.spooled_ids()
                assert committed <= pending, "a committed batch vanished after kill -9"
                committed = pending
            assert len(committed) >= 8
            receiver.start()
            agent.start()
            assert receiver.wait_for(lambda r: committed <= set(r.batches), timeout=60), (
                agent.log_text()
            )
        finally:
            agent.close()
    for batch_id in committed:
        assert receiver.batches[batch_id]["batch_id"] == batch_id
    assert sum(receiver.duplicates.values()) == 0


def test_sigterm_spools_the_partial_interval_and_exits_cleanly(tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path, summary_interval="60s").start()
    try:
        time.sleep(2.5)
        asked = time.time()
        assert agent.terminate() == 0
        assert time.time() - asked < 15
    finally:
        agent.close()
    with Spool(agent.state_dir / "spool.sqlite3", 64 * 1024**2) as spool:
        documents = [json.loads(gzip.decompress(b.body)) for b in spool.due(float("inf"), 10)]
    # Intervals end on minute boundaries, so a run across one also holds a full interval.
    last = max(documents, key=lambda document: document["sequence"])
    assert last["created_at"] >= asked, "the interval in progress was not spooled at SIGTERM"
    cpu = [
        metric["count"]
        for document in documents
        for interval in document["intervals"]
        for metric in interval["metrics"]
        if metric["name"] == "cpu_utilization_ratio"
    ]
    assert sum(cpu) >= 5  # sampled every 200 ms for ~2.5 s, nothing lost at the stop


def test_a_batch_the_advisor_rejects_is_quarantined_and_never_retried(tmp_path: Path) -> None:
    with Receiver() as receiver:
        agent = enrolled_agent(tmp_path, receiver)
        receiver.respond_with(422, body='{"detail": "intervals.0.end: not a number"}', record=True)
        agent.start()
        try:
            assert receiver.wait_for_batches(3, timeout=30), agent.log_text()
            assert agent.terminate() == 0
        finally:
            agent.close()
        status = agent.cli("spool", "status").stdout
        quarantined = agent.cli("spool", "quarantined").stdout
    rejected = [r for r in receiver.ingest_requests() if r.status == 422]
    assert len(rejected) == 1
    batch_id = rejected[0].headers["x-fleetsight-batch-id"]
    attempts = [
        r for r in receiver.ingest_requests() if r.headers.get("x-fleetsight-batch-id") == batch_id
    ]
    assert len(attempts) == 1, "a rejected batch was sent again"
    assert "quarantined   1" in status
    assert batch_id in quarantined
    assert "422" in quarantined
    assert "intervals.0.end" in quarantined


def test_the_metrics_endpoint_passes_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool", "prometheus")
    with Receiver() as receiver:
        agent = enrolled_agent(tmp_path, receiver).start()
        try:
            assert receiver.wait_for_batches(2, timeout=30), agent.log_text()
            url = f"http://127.0.0.1:{agent.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                exposition = response.read()
        finally:
            agent.close()
    text = exposition.decode()
    for expected in (
        "fleetsight_cpu_utilization_ratio ",
        'fleetsight_agent_spool_batches{state="pending"}',
        "fleetsight_agent_sent_batches_total ",
        "fleetsight_agent_build_info{version=",
        "fleetsight_agent_collection_duration_seconds_bucket",
        'fleetsight_agent_job_runs_total{job="flush"}',
        'fleetsight_agent_job_skipped_total{job="sample"} 0.0',
    ):
        assert expected in text, f"{expected} missing from /metrics"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == b""
    assert result.stderr.strip() == b""


def dropped_batches(agent: AgentProcess) -> int:
    status = agent.cli("spool", "status").stdout
    if "dropped" not in status:
        return 0  # no spool yet
    return int(status.split("dropped")[1].split("batches")[0])


def test_a_full_spool_keeps_the_newest_batches_and_counts_every_dropped_one(
    tmp_path: Path,
) -> None:
    with Receiver() as receiver:
        # Small batches only: a batch larger than the whole spool would be dropped on arrival.
        agent = enrolled_agent(
            tmp_path,
            receiver,
            '[spool]\nmax_bytes = "6KiB"\n',
            summary_interval="200ms",
            packages=False,
        )
        receiver.stop()  # the advisor is away: the small spool overflows
        agent.start()
        try:
            assert wait_until(lambda: dropped_batches(agent) >= 3, timeout=60), agent.log_text()
            assert agent.terminate() == 0
        finally:
            agent.close()
    with Spool(agent.state_dir / "spool.sqlite3", 64 * 1024**2) as spool:
        kept = sorted(batch.sequence for batch in spool.due(float("inf"), 10_000))
        status = spool.status()
    assert kept == list(range(kept[0], kept[-1] + 1)), "the spool kept a batch but not a newer one"
    # Sequences start at 1: everything before the oldest kept batch was dropped, and counted.
    assert status.dropped_batches == kept[0] - 1
    assert status.pending_bytes <= 6 * 1024


def test_an_agent_with_a_damaged_spool_moves_it_aside_and_goes_on(tmp_path: Path) -> None:
    with Receiver() as receiver:
        agent = enrolled_agent(tmp_path, receiver)
        spool_path = agent.state_dir / "spool.sqlite3"
        damaged = b"\x00\xffnot a spool any more" * 4096
        spool_path.write_bytes(damaged)
        agent.start()
        try:
            assert receiver.wait_for_batches(2, timeout=30), agent.log_text()
            url = f"http://127.0.0.1:{agent.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                exposition = response.read().decode()
            assert agent.terminate() == 0
        finally:
            agent.close()
    [aside] = agent.state_dir.glob("spool.sqlite3.corrupt-*")
    assert aside.read_bytes() == damaged
    warnings = [line for line in agent.log_text().splitlines() if "moved it aside" in line]
    assert len(warnings) == 1
    assert str(spool_path) in warnings[0]
    assert str(aside) in warnings[0]
    assert "fleetsight_agent_spool_recovered_total 1.0" in exposition
