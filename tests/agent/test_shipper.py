"""The shipper against a real HTTP server on loopback (tests/fakes/receiver.py).

The clock is fake: "waiting" for a backoff is moving the clock, never sleeping.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import __version__
from agent.errors import TransportError
from agent.shared.wire import Batch, HostIdentity, encode_gzip, new_batch_id
from agent.shipper import Shipper, make_client, tls_verification
from agent.spool import Spool
from agent.transport import HttpClient
from tests.fakes.receiver import Receiver, RecordedRequest, Reply
from tests.fakes.tls import https_server

T0 = 1_764_000_000.0
CREDENTIAL = "s3cret-credential"
HOST = HostIdentity(host_id="host-1", hostname="fin-ws-12", agent_version=__version__)


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


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


def make_shipper(
    spool: Spool,
    receiver: Receiver,
    client: HttpClient,
    clock: FakeClock,
    credential: str | None = CREDENTIAL,
    url: str | None = None,
) -> Shipper:
    return Shipper(
        spool,
        url=url or receiver.url,
        credential=lambda: credential,
        host_id=HOST.host_id,
        client=client,
        clock=clock,
        rng=random.Random(42),
        max_backoff=900.0,
    )


def spool_batches(spool: Spool, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        batch = Batch(
            batch_id=new_batch_id(),
            sequence=spool.allocate_sequence(),
            created_at=T0,
            host=HOST,
        )
        spool.put(batch.batch_id, batch.sequence, encode_gzip(batch))
        ids.append(batch.batch_id)
    return ids


def drain(shipper: Shipper, clock: FakeClock, spool: Spool, rounds: int = 50) -> None:
    """Run rounds, jumping the clock past any hold, until the spool is empty."""
    for _ in range(rounds):
        report = shipper.send_due()
        if spool.status().pending == 0:
            return
        clock.now = max(clock.now + 1, report.retry_at or 0.0)
    raise AssertionError(f"spool not drained after {rounds} rounds: {spool.status()}")


@pytest.fixture
def shipper(spool: Spool, receiver: Receiver, client: HttpClient, clock: FakeClock) -> Shipper:
    return make_shipper(spool, receiver, client, clock)


def test_every_batch_arrives_once(shipper: Shipper, spool: Spool, receiver: Receiver) -> None:
    ids = spool_batches(spool, 5)
    report = shipper.send_due()
    assert list(report.sent) == ids
    assert report.ok
    assert list(receiver.batches) == ids
    assert receiver.duplicates == {}
    assert spool.status().pending == 0
    assert shipper.stats.batches_sent == 5
    assert shipper.stats.last_success_time == T0


def test_it_sends_gzip_json_with_bearer_and_batch_headers(
    shipper: Shipper, spool: Spool, receiver: Receiver
) -> None:
    [batch_id] = spool_batches(spool, 1)
    shipper.send_due()
    [request] = receiver.ingest_requests()
    assert request.headers["authorization"] == f"Bearer {CREDENTIAL}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["x-fleetsight-batch-id"] == batch_id
    assert float(request.headers["x-fleetsight-sent-at"]) == T0
    assert request.headers["user-agent"] == f"fleetsight-agent/{__version__}"
    assert json.loads(gzip.decompress(request.body))["batch_id"] == batch_id
    assert receiver.batches[batch_id]["host"]["host_id"] == HOST.host_id
    assert shipper.stats.bytes_sent == len(request.body)


def test_a_receiver_down_for_a_while_gets_everything_once_when_back(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    first = spool_batches(spool, 3)
    receiver.stop()
    report = shipper.send_due()
    assert report.error_kind == "transient"
    assert report.sent == ()
    assert set(report.deferred) == set(first)
    assert report.retry_at is not None
    assert report.retry_at > T0
    # Still down: several rounds, each after the previous hold, the spool keeps everything.
    for _ in range(4):
        clock.now = report.retry_at
        second = spool_batches(spool, 1)
        report = shipper.send_due()
        assert report.error_kind == "transient"
        assert report.retry_at is not None
    assert spool.status().pending == 7
    # Each round tried one or two batches: the second failure in a row stops it.
    assert 5 <= shipper.stats.consecutive_failures <= 10
    assert shipper.stats.send_errors["transient"] == shipper.stats.consecutive_failures
    receiver.start()
    assert report.retry_at is not None
    clock.now = report.retry_at
    drain(shipper, clock, spool)
    assert len(receiver.batches) == 7
    assert set(first) | set(second) <= set(receiver.batches)
    assert receiver.duplicates == {}
    assert shipper.stats.consecutive_failures == 0


def test_a_batch_that_fails_waits_its_own_backoff_and_the_others_go_on(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    first, second = spool_batches(spool, 2)
    receiver.respond_with(500, body="database is locked")
    report = shipper.send_due()
    assert report.error_kind == "transient"
    assert "HTTP 500" in (report.error or "")
    assert report.deferred == (first,)
    assert report.sent == (second,)
    assert report.retry_at is not None
    clock.now = report.retry_at - 0.001
    assert shipper.send_due().sent == ()
    assert len(receiver.ingest_requests()) == 2
    clock.now = report.retry_at
    assert shipper.send_due().sent == (first,)
    [row] = [r for r in receiver.ingest_requests() if r.status == 500]
    assert row.headers["x-fleetsight-batch-id"] == first


def test_when_two_batches_fail_in_a_row_nothing_is_tried_before_the_backoff(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    spool_batches(spool, 3)
    receiver.respond_with(500, body="database is locked", times=2)
    report = shipper.send_due()
    assert report.error_kind == "transient"
    assert report.sent == ()
    assert len(report.deferred) == 3
    assert report.retry_at is not None
    assert len(receiver.ingest_requests()) == 2
    clock.now = report.retry_at - 0.001
    spool_batches(spool, 1)
    assert shipper.send_due().sent == ()
    assert len(receiver.ingest_requests()) == 2
    drain(shipper, clock, spool)
    assert len(receiver.batches) == 4


def test_backoff_grows_with_consecutive_failures_up_to_the_cap(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    spool_batches(spool, 1)
    receiver.stop()
    waits = []
    for _ in range(20):
        report = shipper.send_due()
        assert report.retry_at is not None
        waits.append(report.retry_at - clock.now)
        clock.now = report.retry_at
    assert max(waits) <= 900.0
    assert max(waits[10:]) > 100.0 > max(waits[:3])


def test_an_answer_lost_after_the_advisor_stored_it_is_resent_and_not_duplicated(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    [batch_id] = spool_batches(spool, 1)
    receiver.disconnect(record=True)
    report = shipper.send_due()
    assert report.error_kind == "transient"
    assert spool.status().pending == 1
    drain(shipper, clock, spool)
    assert list(receiver.batches) == [batch_id]
    assert receiver.duplicates == {batch_id: 1}
    assert [r.status for r in receiver.ingest_requests()] == [None, 409]


def test_a_timeout_keeps_the_batch_for_later(
    spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    [batch_id] = spool_batches(spool, 1)
    receiver.respond_with(200, delay=30.0)
    with make_client(timeout=1.0, ca_file=None, max_connections=2) as impatient:
        shipper = make_shipper(spool, receiver, impatient, clock)
        report = shipper.send_due()
        assert report.error_kind == "transient"
        assert "timed out" in (report.error or "")
        assert spool.status().pending == 1
        drain(shipper, clock, spool)
    assert list(receiver.batches) == [batch_id]


def test_it_honours_retry_after_on_throttling(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    spool_batches(spool, 3)
    receiver.respond_with(429, {"Retry-After": "120"})
    report = shipper.send_due()
    assert report.error_kind == "throttled"
    assert report.retry_at is not None
    assert report.retry_at >= T0 + 120
    assert len(report.deferred) == 3
    clock.now = T0 + 119
    spool_batches(spool, 1)
    assert shipper.send_due().sent == ()
    assert len(receiver.ingest_requests()) == 1
    clock.now = report.retry_at
    assert len(shipper.send_due().sent) == 4
    assert shipper.stats.send_errors["throttled"] == 1


def test_a_503_holds_that_batch_for_retry_after_and_the_others_go_on(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    first, *others = spool_batches(spool, 3)
    receiver.respond_with(503, {"Retry-After": "120"}, body='{"detail": "database trouble"}')
    report = shipper.send_due()
    assert report.sent == tuple(others)
    assert report.deferred == (first,)
    assert report.retry_at is not None
    assert report.retry_at >= T0 + 120
    assert "Retry-After: 120" in (report.error or "")
    clock.now = T0 + 119
    assert shipper.send_due().sent == ()
    clock.now = report.retry_at
    assert shipper.send_due().sent == (first,)


def test_a_503_on_every_batch_holds_everything_for_retry_after(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    spool_batches(spool, 3)
    receiver.respond_with(503, {"Retry-After": "120"}, times=2)
    report = shipper.send_due()
    assert report.error_kind == "transient"
    assert len(report.deferred) == 3
    assert report.retry_at is not None
    assert report.retry_at >= T0 + 120
    clock.now = T0 + 119
    spool_batches(spool, 1)
    assert shipper.send_due().sent == ()
    assert len(receiver.ingest_requests()) == 2
    clock.now = report.retry_at
    assert len(shipper.send_due().sent) == 4


def test_it_honours_retry_after_given_as_a_date(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    spool_batches(spool, 1)
    # T0 is Mon, 24 Nov 2025 16:00:00 GMT.
    receiver.respond_with(503, {"Retry-After": "Mon, 24 Nov 2025 16:10:00 GMT"})
    report = shipper.send_due()
    assert report.retry_at is not None
    assert report.retry_at >= T0 + 600
    clock.now = T0 + 599
    assert shipper.send_due().sent == ()


def test_throttling_is_never_shorter_than_the_backoff(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    spool_batches(spool, 1)
    receiver.stop()
    for _ in range(8):
        report = shipper.send_due()
        assert report.retry_at is not None
        clock.now = report.retry_at
    receiver.start()
    receiver.respond_with(429, {"Retry-After": "0"})
    report = shipper.send_due()
    assert report.error_kind == "throttled"
    assert report.retry_at is not None
    # After 9 consecutive failures the backoff ceiling is at the 900 s cap; a Retry-After of 0
    # does not bring the agent back at once.
    assert report.retry_at > clock.now


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, "body is not valid JSON"), (422, '{"detail": "unknown field \'x\'"}')],
)
def test_a_rejected_batch_is_quarantined_and_not_retried(
    status: int,
    body: str,
    shipper: Shipper,
    spool: Spool,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    bad, good = spool_batches(spool, 2)
    receiver.respond_with(status, body=body)
    report = shipper.send_due()
    assert report.quarantined == (bad,)
    # The advisor is up: the round went on with the next batch.
    assert report.sent == (good,)
    [row] = spool.quarantined()
    assert row.batch_id == bad
    assert row.reason.startswith(f"HTTP {status}: ")
    assert body[:40] in row.reason
    assert shipper.stats.send_errors["permanent"] == 1
    for _ in range(3):
        clock.now += 3600
        assert shipper.send_due().sent == ()
    assert len(receiver.ingest_requests()) == 2
    assert spool.requeue_quarantined() == 1
    assert shipper.send_due().sent == (bad,)
    assert set(receiver.batches) == {bad, good}


def test_a_quarantine_reason_keeps_only_the_first_500_characters(
    shipper: Shipper, spool: Spool, receiver: Receiver
) -> None:
    spool_batches(spool, 1)
    receiver.respond_with(413, body="x" * 5000)
    shipper.send_due()
    [row] = spool.quarantined()
    assert row.reason == "HTTP 413: " + "x" * 500


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_credential_keeps_every_batch_and_asks_to_re_enrol(
    status: int, spool: Spool, receiver: Receiver, client: HttpClient, clock: FakeClock
) -> None:
    ids = spool_batches(spool, 3)
    if status == 403:
        receiver.respond_with(403, body='{"detail": "host disabled"}')
        shipper = make_shipper(spool, receiver, client, clock)
    else:
        shipper = make_shipper(spool, receiver, client, clock, credential="stale")
    report = shipper.send_due()
    assert report.error_kind == "auth"
    assert report.action is not None
    assert "re-enrol" in report.action
    assert report.quarantined == ()
    assert spool.status().pending == 3
    assert spool.quarantined() == []
    assert len(receiver.ingest_requests()) == 1
    assert shipper.stats.send_errors["auth"] == 1
    fixed = make_shipper(spool, receiver, client, clock)
    clock.now = report.retry_at or clock.now
    drain(fixed, clock, spool)
    assert list(receiver.batches) == ids


def test_a_refused_credential_is_logged_with_what_to_do(
    spool: Spool,
    receiver: Receiver,
    client: HttpClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_batches(spool, 1)
    make_shipper(spool, receiver, client, clock, credential="stale").send_due()
    assert any("re-enrol" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


@pytest.mark.parametrize("path", ["/wrong-prefix", ""])
def test_a_wrong_url_keeps_every_batch_and_says_to_fix_advisor_url(
    path: str, spool: Spool, receiver: Receiver, client: HttpClient, clock: FakeClock
) -> None:
    spool_batches(spool, 2)
    if not path:
        receiver.respond_with(405, {"Allow": "GET"})
    shipper = make_shipper(spool, receiver, client, clock, url=receiver.url + path)
    report = shipper.send_due()
    assert report.error_kind == "config"
    assert report.action is not None
    assert "advisor.url" in report.action
    assert spool.status().pending == 2
    assert spool.quarantined() == []


def test_a_redirect_is_not_followed_and_asks_to_fix_advisor_url(
    shipper: Shipper, spool: Spool, receiver: Receiver
) -> None:
    spool_batches(spool, 1)
    receiver.respond_with(308, {"Location": "https://advisor.example/api/v1/ingest"})
    report = shipper.send_due()
    assert report.error_kind == "config"
    assert "https://advisor.example/api/v1/ingest" in (report.error or "")
    assert len(receiver.ingest_requests()) == 1
    assert spool.status().pending == 1


def test_without_a_credential_nothing_is_sent(
    spool: Spool, receiver: Receiver, client: HttpClient, clock: FakeClock
) -> None:
    spool_batches(spool, 2)
    shipper = make_shipper(spool, receiver, client, clock, credential=None)
    report = shipper.send_due()
    assert report.error_kind == "not_enrolled"
    assert "not enrolled" in (report.action or "")
    assert receiver.requests == []
    assert spool.status().pending == 2


def test_a_credential_that_cannot_be_read_is_reported_not_raised(
    spool: Spool, receiver: Receiver, client: HttpClient, clock: FakeClock
) -> None:
    def unreadable() -> str | None:
        raise PermissionError(13, "Permission denied", "/var/lib/fleetsight-agent/credential")

    spool_batches(spool, 1)
    shipper = Shipper(
        spool, url=receiver.url, credential=unreadable, host_id="h", client=client, clock=clock
    )
    report = shipper.send_due()
    assert report.error_kind == "not_enrolled"
    assert "Permission denied" in (report.error or "")
    assert receiver.requests == []


def test_the_client_keeps_at_most_max_connections_open(receiver: Receiver) -> None:
    receiver.respond_with(200, delay=0.2, times=12, path="/slow")
    with make_client(timeout=30.0, ca_file=None, max_connections=2) as limited:

        def fetch() -> None:
            limited.post(receiver.url + "/slow", content=b"{}")

        threads = [threading.Thread(target=fetch) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    ports = {r.client_port for r in receiver.requests if r.path == "/slow"}
    assert len([r for r in receiver.requests if r.path == "/slow"]) == 12
    assert 1 <= len(ports) <= 2


TLS = Path(__file__).parents[1] / "fixtures" / "tls"


def test_an_https_advisor_is_verified_against_the_configured_ca_file() -> None:
    with https_server() as url:
        with make_client(5.0, TLS / "cert.pem", 1, url=url) as trusting:
            assert trusting.get(url).status == 204
        with (
            make_client(5.0, None, 1, url=url) as system_store,
            pytest.raises(TransportError, match="certificate verify failed"),
        ):
            system_store.get(url)


def test_a_plain_http_advisor_loads_no_trust_store_and_https_loads_one() -> None:
    assert tls_verification("http://advisor.internal:8080", None) is None
    private = tls_verification("https://advisor.internal", TLS / "cert.pem")
    assert isinstance(private, ssl.SSLContext)
    assert private.cert_store_stats()["x509_ca"] == 1
    assert private.verify_mode == ssl.CERT_REQUIRED


def test_one_batch_the_advisor_always_fails_on_does_not_hold_up_the_rest(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    poisoned, *behind = spool_batches(spool, 14)

    def fail_on_poisoned(request: RecordedRequest) -> Reply | None:
        if request.headers.get("x-fleetsight-batch-id") == poisoned:
            return Reply(503, {"Retry-After": "5"}, b'{"detail": "could not store the batch"}')
        return None

    receiver.set_handler(fail_on_poisoned)
    report = shipper.send_due()
    assert report.sent == tuple(behind)
    assert report.deferred == (poisoned,)
    assert set(receiver.batches) == set(behind)
    # An hour of rounds: later batches keep flowing, the poisoned one is kept and retried.
    later: list[str] = []
    for _ in range(60):
        clock.now += 60
        later += spool_batches(spool, 1)
        shipper.send_due()
    assert set(receiver.batches) == set(behind) | set(later)
    assert [b.batch_id for b in spool.due(float("inf"), 100)] == [poisoned]
    assert spool.quarantined() == []
    tries = [r for r in receiver.ingest_requests() if r.status == 503]
    assert 2 <= len(tries) <= 20  # its own backoff spaces the retries out


def test_an_outage_costs_at_most_two_requests_per_round(
    shipper: Shipper, spool: Spool, receiver: Receiver, clock: FakeClock
) -> None:
    ids = spool_batches(spool, 14)
    receiver.set_handler(lambda request: Reply(503, body=b'{"detail": "database down"}'))
    for _ in range(30):
        before = len(receiver.ingest_requests())
        report = shipper.send_due()
        assert len(receiver.ingest_requests()) - before <= 2
        assert report.sent == ()
        clock.now = max(clock.now + 1, report.retry_at or 0.0)
    assert spool.status().pending == 14
    assert len(receiver.ingest_requests()) >= 30  # every round did try
    receiver.set_handler(None)
    drain(shipper, clock, spool)
    assert set(receiver.batches) == set(ids)


# --- what the operator is told: when it really tries again, and when delivery resumes --------

ROUND = 15.0


@pytest.fixture
def round_shipper(
    spool: Spool, receiver: Receiver, client: HttpClient, clock: FakeClock
) -> Shipper:
    """A shipper whose rounds run every ROUND seconds, as the agent's service runs it."""
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
    round_shipper: Shipper,
    spool: Spool,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_batches(spool, 2)
    receiver.stop()
    caplog.set_level(logging.INFO, logger="agent.shipper")
    report = round_shipper.send_due()
    assert report.retry_at is not None
    [stopped] = [m for m in messages(caplog, logging.WARNING) if "stopped" in m]
    # The first backoffs are a few seconds; the round that tries again comes 15 s on.
    assert f"(in {ROUND:.0f} s)" in stopped
    assert not any("(in 1 s)" in m or "(in 3 s)" in m for m in messages(caplog, logging.WARNING))


def test_a_backoff_longer_than_a_round_is_logged_as_the_round_after_it(
    round_shipper: Shipper,
    spool: Spool,
    receiver: Receiver,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_batches(spool, 1)
    receiver.respond_with(429, headers={"Retry-After": "40"})
    caplog.set_level(logging.INFO, logger="agent.shipper")
    round_shipper.send_due()
    [stopped] = [m for m in messages(caplog, logging.WARNING) if "stopped" in m]
    # Due in 40 s: rounds at 15, 30, 45 s, so the one at 45 s sends it.
    assert "(in 45 s)" in stopped


def test_delivery_resuming_after_an_outage_is_logged_once_with_its_length_and_backlog(
    round_shipper: Shipper,
    spool: Spool,
    receiver: Receiver,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_batches(spool, 3)
    receiver.stop()
    caplog.set_level(logging.INFO, logger="agent.shipper")
    report = round_shipper.send_due()
    for _ in range(3):
        assert report.retry_at is not None
        clock.now = report.retry_at + 60
        report = round_shipper.send_due()
    receiver.start()
    assert report.retry_at is not None
    clock.now = report.retry_at
    outage_start = 1_764_000_000.0
    report = round_shipper.send_due()
    assert len(report.sent) == 3
    [resumed] = [m for m in messages(caplog, logging.INFO) if "resumed" in m]
    minutes = int((clock.now - outage_start) // 60)
    assert f"after {minutes} min" in resumed
    assert "3 batches had waited" in resumed
    spool_batches(spool, 1)
    clock.now += ROUND
    round_shipper.send_due()
    assert len([m for m in messages(caplog, logging.INFO) if "resumed" in m]) == 1


def test_a_single_batch_deferred_while_the_others_go_through_is_no_outage(
    round_shipper: Shipper,
    spool: Spool,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_batches(spool, 2)
    receiver.respond_with(500, body="database is locked")
    caplog.set_level(logging.INFO, logger="agent.shipper")
    report = round_shipper.send_due()
    assert len(report.sent) == 1
    assert not [m for m in messages(caplog, logging.INFO) if "resumed" in m]
