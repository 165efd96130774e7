"""The real agent code against the real API under a real uvicorn server on loopback.

The agent's own enrolment, spool and shipper, unchanged, talk to ``create_app`` over TCP: what
the agent builds, the advisor accepts, and what the advisor answers, the agent understands
(ack, quarantine with the reason, keep on a refused credential). The store is the in-memory one;
the SQL store has its own contract tests.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from prometheus_client import CollectorRegistry

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from agent import __version__
from agent.credentials import load_credential
from agent.enroll import CREDENTIAL_FILE, enrol
from agent.errors import EnrolmentError
from agent.inventory.hardware import read_hardware
from agent.inventory.packages import parse_apt_upgradable, parse_dpkg_query
from agent.shared.wire import (
    Batch,
    HostIdentity,
    Interval,
    Inventory,
    LaunchCount,
    LaunchEvent,
    MetricSummary,
    encode_gzip,
    inventory_digest,
    new_batch_id,
    to_dict,
)
from agent.shipper import Shipper, make_client
from agent.spool import Spool
from agent.transport import HttpClient
from tests.conftest import FIXTURES

from .memory_store import MemoryStore

T0 = 1_764_000_000.0
HOST_ID = "4c1d0f2e9a8b7c6d5e4f3a2b1c0d9e8f"
_START_TIMEOUT = 30.0


class RunningAdvisor:
    """``create_app`` served by uvicorn on 127.0.0.1 (an ephemeral port) in a thread."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.registry = CollectorRegistry()
        app = create_app(self.store, ApiSettings(), clock=lambda: T0 + 5, registry=self.registry)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> RunningAdvisor:
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=_START_TIMEOUT)
        assert not self._thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def advisor() -> Iterator[RunningAdvisor]:
    # One per test: each test's agent enrols the same host id, which only its first
    # enrolment may take.
    with RunningAdvisor() as running:
        yield running


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Agent:
    """An enrolled agent: its state directory, spool and shipper, as the service wires them."""

    def __init__(self, advisor: RunningAdvisor, state_dir: Path, client: HttpClient) -> None:
        token, _ = advisor.store.create_token(department="finance", expires_at=T0 + 86400, now=T0)
        self.clock = FakeClock()
        self.enrolment = enrol(
            advisor.url,
            token,
            state_dir=state_dir,
            host_id=HOST_ID,
            hostname="fin-ws-12",
            client=client,
            clock=self.clock,
        )
        self.spool = Spool(state_dir / "spool.sqlite3", max_bytes=10**7, clock=self.clock)
        self.shipper = Shipper(
            self.spool,
            url=advisor.url,
            credential=lambda: load_credential(state_dir / CREDENTIAL_FILE),
            host_id=self.enrolment.host_id,
            client=client,
            clock=self.clock,
            rng=random.Random(7),
        )

    def spool_batch(self, batch: Batch) -> None:
        self.spool.put(batch.batch_id, batch.sequence, encode_gzip(batch))

    def close(self) -> None:
        self.spool.close()


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with make_client(timeout=30.0, ca_file=None, max_connections=2) as made:
        yield made


@pytest.fixture
def agent(advisor: RunningAdvisor, tmp_path: Path, client: HttpClient) -> Iterator[Agent]:
    made = Agent(advisor, tmp_path / "state", client)
    try:
        yield made
    finally:
        made.close()


def fixture_inventory() -> Inventory:
    """An inventory the agent's own readers build from recorded files of a Debian desktop."""
    hardware = read_hardware(
        proc_root=FIXTURES / "proc" / "desktop",
        sys_root=FIXTURES / "sys" / "desktop",
        etc_root=FIXTURES / "etc" / "desktop",
        machine=lambda: "x86_64",
    )
    managers = FIXTURES / "package-managers"
    software = parse_dpkg_query((managers / "dpkg-query.debian12.tsv").read_text()).packages
    upgradable = parse_apt_upgradable(
        (managers / "apt-list-upgradable.debian12.txt").read_text()
    ).packages
    return Inventory(
        collected_at=T0 - 30,
        digest=inventory_digest(hardware, software, upgradable),
        hardware=hardware,
        software=software,
        upgradable=upgradable,
    )


def agent_batch(sequence: int, inventory: Inventory | None = None) -> Batch:
    start = T0 + 60 * (sequence - 1)
    return Batch(
        batch_id=new_batch_id(),
        sequence=sequence,
        created_at=start + 60,
        host=HostIdentity(host_id=HOST_ID, hostname="fin-ws-12", agent_version=__version__),
        intervals=[
            Interval(
                start=start,
                end=start + 60,
                metrics=[
                    MetricSummary("cpu_utilization_ratio", {}, 12, 2.4, 0.05, 0.61, 0.12, 0.5, 0.6),
                    MetricSummary(
                        "disk_io_latency_seconds",
                        {"device": "sda"},
                        12,
                        0.06,
                        0,
                        0.02,
                        0,
                        0.01,
                        0.02,
                    ),
                ],
            )
        ],
        launches=[
            LaunchEvent(
                app="firefox",
                version="128.5.0esr-1~deb12u1",
                method="passive",
                outcome="ok",
                started_at=start + 11,
                duration_seconds=1.84,
                ready_signal="cpu_settled",
                start_kind="warm",
            ),
            LaunchEvent(
                app="intranet",
                version=None,
                method="probe",
                outcome="timeout",
                started_at=start + 20,
                duration_seconds=10.0,
                ready_signal="http",
                phases={"dns": 0.002, "connect": 0.01},
                probe="intranet-home",
                detail="no answer in 10 s",
            ),
        ],
        launch_counts=[LaunchCount("firefox", "2025-11-24", "passive", 1)],
        inventory=inventory,
    )


def test_an_enrolled_agent_delivers_its_batches_and_a_retry_is_stored_once(
    advisor: RunningAdvisor, agent: Agent
) -> None:
    batches = [agent_batch(1), agent_batch(2, fixture_inventory()), agent_batch(3)]
    for batch in batches:
        agent.spool_batch(batch)

    report = agent.shipper.send_due()

    assert report.ok, report
    assert report.sent == tuple(batch.batch_id for batch in batches)
    for batch in batches:
        stored = advisor.store.batches[batch.batch_id]
        assert stored.batch == batch
        assert stored.host_id == HOST_ID
    assert advisor.store.version_history(HOST_ID)
    assert agent.enrolment.department == "finance"

    calls = advisor.store.ingest_calls
    agent.spool_batch(batches[1])  # as after an ack lost on the way back
    again = agent.shipper.send_due()

    assert again.sent == (batches[1].batch_id,)
    assert advisor.store.ingest_calls == calls + 1
    assert (
        sum(
            stored.batch.batch_id == batches[1].batch_id
            for stored in advisor.store.batches.values()
        )
        == 1
    )
    assert agent.spool.status().pending == 0


def test_an_invalid_batch_is_quarantined_with_the_field_named(
    advisor: RunningAdvisor, agent: Agent
) -> None:
    document = to_dict(agent_batch(4))
    document["launches"][1]["outcome"] = "crashed"
    broken_id = document["batch_id"]
    agent.spool.put(broken_id, 4, gzip.compress(json.dumps(document).encode()))
    good = agent_batch(5)
    agent.spool_batch(good)

    report = agent.shipper.send_due()

    assert report.quarantined == (broken_id,)
    assert report.sent == (good.batch_id,)
    (quarantined,) = agent.spool.quarantined()
    assert quarantined.reason.startswith("HTTP 422: ")
    assert "launches.1.outcome: Input should be 'ok', 'timeout' or 'failed'" in quarantined.reason
    assert broken_id not in advisor.store.batches


def test_a_revoked_hosts_shipper_gets_401_and_keeps_its_batches(
    advisor: RunningAdvisor, agent: Agent
) -> None:
    advisor.store.revoke_host(HOST_ID, now=T0)
    held = [agent_batch(6), agent_batch(7)]
    for batch in held:
        agent.spool_batch(batch)

    report = agent.shipper.send_due()

    assert report.error_kind == "auth"
    assert report.error is not None
    assert "HTTP 401" in report.error
    assert "re-enrol" in report.error
    assert report.deferred == tuple(batch.batch_id for batch in held)
    assert agent.spool.status().pending == 2
    assert agent.spool.quarantined() == []
    assert not any(batch.batch_id in advisor.store.batches for batch in held)


def test_a_refused_enrolment_shows_the_advisors_reason_to_the_operator(
    advisor: RunningAdvisor, tmp_path: Path, client: HttpClient
) -> None:
    with pytest.raises(EnrolmentError) as refused:
        enrol(
            advisor.url,
            "not-a-token",
            state_dir=tmp_path,
            host_id=HOST_ID,
            hostname="fin-ws-12",
            client=client,
        )

    message = str(refused.value)
    assert "HTTP 401" in message
    assert "does not know the enrolment token" in message
    assert not (tmp_path / CREDENTIAL_FILE).exists()


def test_an_agent_with_another_hosts_batch_is_refused_and_keeps_it(
    advisor: RunningAdvisor, agent: Agent
) -> None:
    stray = dataclasses.replace(
        agent_batch(8), host=HostIdentity("someone-else", "fin-ws-13", __version__)
    )
    agent.spool_batch(stray)

    report = agent.shipper.send_due()

    assert report.error_kind == "auth"
    assert "HTTP 403" in (report.error or "")
    assert agent.spool.status().pending == 1
    assert stray.batch_id not in advisor.store.batches
