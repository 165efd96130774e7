"""What the shipper tells the operator: when it really tries again, and when delivery resumes."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.shipper import Shipper, make_client
from agent.spool import Spool
from agent.transport import HttpClient
from tests.agent.test_shipper import CREDENTIAL, HOST, FakeClock, spool_batches
from tests.fakes.receiver import Receiver

ROUND = 15.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(credentials={CREDENTIAL}) as running:
        yield running


@pytest.fixture
def spool(tmp_path: Path, clock: FakeClock) -> Iterator[Spool]:
    with Spool(tmp_path / "spool.sqlite3", max_bytes=10**7, clock=clock) as opened:
        yield opened


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with make_client(timeout=10.0, ca_file=None, max_connections=2) as made:
        yield made


@pytest.fixture
def shipper(spool: Spool, receiver: Receiver, client: HttpClient, clock: FakeClock) -> Shipper:
    return Shipper(
        spool,
        url=receiver.url,
        credential=lambda: CREDENTIAL,
        host_id=HOST.host_id,
        client=client,
        clock=clock,
        rng=random.Random(42),
        round_interval=ROUND,
    )


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_a_backoff_shorter_than_a_round_is_logged_as_the_next_round(
    shipper: Shipper,
    spool: Spool,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_batches(spool, 2)
    receiver.stop()
    caplog.set_level(logging.INFO, logger="agent.shipper")
    report = shipper.send_due()
    assert report.retry_at is not None
    [stopped] = [m for m in messages(caplog, logging.WARNING) if "stopped" in m]
    # The first backoffs are a few seconds; the round that tries again comes 15 s on.
    assert f"(in {ROUND:.0f} s)" in stopped
    assert not any("(in 1 s)" in m or "(in 3 s)" in m for m in messages(caplog, logging.WARNING))


def test_a_backoff_longer_than_a_round_is_logged_as_the_round_after_it(
    shipper: Shipper,
    spool: Spool,
    receiver: Receiver,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_batches(spool, 1)
    receiver.respond_with(429, headers={"Retry-After": "40"})
    caplog.set_level(logging.INFO, logger="agent.shipper")
    shipper.send_due()
    [stopped] = [m for m in messages(caplog, logging.WARNING) if "stopped" in m]
    # Due in 40 s: rounds at 15, 30, 45 s, so the one at 45 s sends it.
    assert "(in 45 s)" in stopped


def test_delivery_resuming_after_an_outage_is_logged_once_with_its_length_and_backlog(
    shipper: Shipper,
    spool: Spool,
    receiver: Receiver,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_batches(spool, 3)
    receiver.stop()
    caplog.set_level(logging.INFO, logger="agent.shipper")
    report = shipper.send_due()
    for _ in range(3):
        assert report.retry_at is not None
        clock.now = report.retry_at + 60
        report = shipper.send_due()
    receiver.start()
    assert report.retry_at is not None
    clock.now = report.retry_at
    outage_start = 1_764_000_000.0
    report = shipper.send_due()
    assert len(report.sent) == 3
    [resumed] = [m for m in messages(caplog, logging.INFO) if "resumed" in m]
    minutes = int((clock.now - outage_start) // 60)
    assert f"after {minutes} min" in resumed
    assert "3 batches had waited" in resumed
    spool_batches(spool, 1)
    clock.now += ROUND
    shipper.send_due()
    assert len([m for m in messages(caplog, logging.INFO) if "resumed" in m]) == 1


def test_a_single_batch_deferred_while_the_others_go_through_is_no_outage(
    shipper: Shipper,
    spool: Spool,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_batches(spool, 2)
    receiver.respond_with(500, body="database is locked")
    caplog.set_level(logging.INFO, logger="agent.shipper")
    report = shipper.send_due()
    assert len(report.sent) == 1
    assert not [m for m in messages(caplog, logging.INFO) if "resumed" in m]
