"""Enrolment against a real HTTP server on loopback (tests/fakes/receiver.py)."""

from __future__ import annotations

import json
import os
import random
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import __version__
from agent.credentials import (
    Enrolment,
    load_credential,
    load_enrolment,
    store_credential,
    store_enrolment,
)
from agent.enroll import cleartext_warning, enrol
from agent.errors import EnrolmentError
from agent.shared.wire import ENROL_PATH, Batch, HostIdentity, encode_gzip
from agent.shipper import Shipper, make_client
from agent.spool import Spool
from agent.transport import HttpClient
from tests.fakes.receiver import Receiver

T0 = 1_764_000_000.0
TOKEN = "enrol-token-1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(tokens={TOKEN}, department="finance") as running:
        yield running


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with make_client(timeout=10.0, ca_file=None, max_connections=1) as made:
        yield made


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def do_enrol(receiver: Receiver, client: HttpClient, state_dir: Path, token: str) -> Enrolment:
    return enrol(
        receiver.url + "/",
        token,
        state_dir=state_dir,
        host_id="host-1",
        hostname="fin-ws-12",
        client=client,
        clock=lambda: T0,
    )


def test_enrolment_stores_a_0600_credential_and_the_record(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    enrolment = do_enrol(receiver, client, state_dir, TOKEN)
    assert enrolment == Enrolment(
        advisor_url=receiver.url, host_id="host-1", department="finance", enrolled_at=T0
    )
    credential_file = state_dir / "credential"
    assert stat.S_IMODE(credential_file.stat().st_mode) == 0o600
    assert load_credential(credential_file) == receiver.enrolled["host-1"]
    assert load_enrolment(state_dir / "enrolment.json") == enrolment
    record = (state_dir / "enrolment.json").read_text()
    assert receiver.enrolled["host-1"] not in record
    assert TOKEN not in record
    assert sorted(p.name for p in state_dir.iterdir()) == ["credential", "enrolment.json"]


def test_it_sends_token_host_and_version(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    do_enrol(receiver, client, state_dir, f"  {TOKEN}\n")
    [request] = receiver.requests
    assert request.path == ENROL_PATH
    assert json.loads(request.body) == {
        "token": TOKEN,
        "host_id": "host-1",
        "hostname": "fin-ws-12",
        "agent_version": __version__,
    }


def test_the_credential_is_0600_even_under_a_permissive_umask(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    previous = os.umask(0)
    try:
        do_enrol(receiver, client, state_dir, TOKEN)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((state_dir / "credential").stat().st_mode) == 0o600


def test_the_issued_credential_lets_the_shipper_deliver(
    receiver: Receiver, client: HttpClient, state_dir: Path, tmp_path: Path
) -> None:
    enrolment = do_enrol(receiver, client, state_dir, TOKEN)
    with Spool(tmp_path / "spool.sqlite3", max_bytes=10**6, clock=lambda: T0) as spool:
        host = HostIdentity(enrolment.host_id, "fin-ws-12", __version__)
        batch = Batch(batch_id="b-1", sequence=1, created_at=T0, host=host)
        spool.put(batch.batch_id, batch.sequence, encode_gzip(batch))
        shipper = Shipper(
            spool,
            url=enrolment.advisor_url,
            credential=lambda: load_credential(state_dir / "credential"),
            host_id=enrolment.host_id,
            client=client,
            clock=lambda: T0,
            rng=random.Random(1),
        )
        assert shipper.send_due().sent == ("b-1",)
    assert list(receiver.batches) == ["b-1"]


@pytest.mark.parametrize(
    ("setup", "status", "detail"),
    [
        ("unknown", "401", "unknown enrolment token"),
        ("expire", "410", "enrolment token expired"),
        ("revoke", "403", "enrolment token revoked"),
        ("reuse", "409", "enrolment token already used"),
    ],
)
def test_a_refused_token_raises_with_the_advisors_reason(
    setup: str,
    status: str,
    detail: str,
    receiver: Receiver,
    client: HttpClient,
    state_dir: Path,
) -> None:
    token = TOKEN
    if setup == "unknown":
        token = "no-such-token"
    elif setup == "expire":
        receiver.expire_token(TOKEN)
    elif setup == "revoke":
        receiver.revoke_token(TOKEN)
    else:
        do_enrol(receiver, client, state_dir.with_name("first"), TOKEN)
    with pytest.raises(EnrolmentError) as raised:
        do_enrol(receiver, client, state_dir, token)
    message = str(raised.value)
    assert f"HTTP {status}" in message
    assert detail in message
    assert token not in message
    assert not state_dir.exists()


def test_a_failed_enrolment_leaves_the_previous_one_working(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    first = do_enrol(receiver, client, state_dir, TOKEN)
    secret = load_credential(state_dir / "credential")
    with pytest.raises(EnrolmentError):
        do_enrol(receiver, client, state_dir, TOKEN)
    assert load_credential(state_dir / "credential") == secret
    assert load_enrolment(state_dir / "enrolment.json") == first


def test_an_unreachable_advisor_raises_naming_the_url(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    url = receiver.url
    receiver.stop()
    with pytest.raises(
        EnrolmentError, match=re.escape(f"cannot reach the advisor at {url}{ENROL_PATH}")
    ):
        do_enrol(receiver, client, state_dir, TOKEN)


def test_a_wrong_url_says_there_is_no_enrolment_endpoint(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    with pytest.raises(EnrolmentError, match=r"HTTP 404.*no enrolment endpoint"):
        enrol(
            receiver.url + "/nothing-here",
            TOKEN,
            state_dir=state_dir,
            host_id="h",
            hostname="h",
            client=client,
        )


def test_a_server_error_says_to_try_again_later(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    receiver.respond_with(503, body="maintenance", path=ENROL_PATH)
    with pytest.raises(EnrolmentError, match=r"HTTP 503: maintenance; try again later"):
        do_enrol(receiver, client, state_dir, TOKEN)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>welcome</html>",
        b'["not", "an", "object"]',
        b'{"host_id": "h"}',
        b'{"host_id": "h", "credential": ""}',
        b'{"credential": "abc"}',
        b'{"host_id": "h", "credential": "abc", "department": 7}',
    ],
)
def test_a_success_answer_without_a_usable_credential_is_refused(
    body: bytes, receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    receiver.respond_with(200, body=body, path=ENROL_PATH)
    with pytest.raises(EnrolmentError, match=re.escape(receiver.url)):
        do_enrol(receiver, client, state_dir, TOKEN)
    assert not (state_dir / "credential").exists()


def test_an_empty_token_is_refused_without_asking(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    with pytest.raises(EnrolmentError, match="empty"):
        do_enrol(receiver, client, state_dir, "  \n")
    assert receiver.requests == []


def test_loading_before_enrolment_gives_none(tmp_path: Path) -> None:
    assert load_credential(tmp_path / "credential") is None
    assert load_enrolment(tmp_path / "enrolment.json") is None


def test_an_empty_credential_file_counts_as_not_enrolled(tmp_path: Path) -> None:
    (tmp_path / "credential").write_text("\n")
    assert load_credential(tmp_path / "credential") is None


def test_storing_replaces_the_credential_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store_credential(tmp_path / "credential", "old")
    store_credential(tmp_path / "credential", "new")
    assert load_credential(tmp_path / "credential") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["credential"]


def test_a_damaged_enrolment_record_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "enrolment.json"
    path.write_text('{"advisor_url": "http://a"')
    with pytest.raises(EnrolmentError, match=re.escape(str(path))):
        load_enrolment(path)


def enrol_again(receiver: Receiver, client: HttpClient, state_dir: Path) -> Enrolment:
    receiver.add_token("enrol-token-2")
    return do_enrol(receiver, client, state_dir, "enrol-token-2")


def sent_proof(receiver: Receiver) -> object:
    return json.loads(receiver.requests[-1].body).get("current_credential")


def test_re_enrolling_sends_the_credential_it_holds_and_replaces_it(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    do_enrol(receiver, client, state_dir, TOKEN)
    first = load_credential(state_dir / "credential")
    enrol_again(receiver, client, state_dir)
    assert sent_proof(receiver) == first
    second = load_credential(state_dir / "credential")
    assert second == receiver.enrolled["host-1"]
    assert second != first


def test_re_enrolling_a_known_host_without_its_credential_says_what_to_do(
    receiver: Receiver, client: HttpClient, state_dir: Path, tmp_path: Path
) -> None:
    do_enrol(receiver, client, tmp_path / "the-real-machine", TOKEN)
    with pytest.raises(EnrolmentError) as raised:
        enrol_again(receiver, client, state_dir)
    message = str(raised.value)
    assert "HTTP 409" in message
    assert "host already enrolled" in message
    assert "fleetsight-advisor host release host-1" in message
    assert f"no credential of host host-1 from this advisor in {state_dir}" in message
    assert sent_proof(receiver) is None
    assert not state_dir.exists()
    receiver.release_host("host-1")
    assert enrol_again(receiver, client, state_dir).host_id == "host-1"


def test_a_revoked_host_is_told_the_admin_must_release_it(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    do_enrol(receiver, client, state_dir, TOKEN)
    receiver.revoke_host("host-1")
    with pytest.raises(EnrolmentError) as raised:
        enrol_again(receiver, client, state_dir)
    message = str(raised.value)
    assert "HTTP 403" in message
    assert "host revoked" in message
    assert "admin must release it" in message


@pytest.mark.parametrize(
    ("enrolled_at", "host_id", "sent"),
    [
        ("http://127.0.0.1:1", "host-1", True),  # the same advisor on another port
        ("https://advisor.example.org", "host-1", False),  # another advisor
        ("https://127.0.0.1:8443", "host-1", False),  # https then, plain http now
        ("http://127.0.0.1:1", "host-2", False),  # another host id
    ],
)
def test_the_credential_goes_only_to_the_advisor_that_issued_it_for_this_host(
    enrolled_at: str,
    host_id: str,
    sent: bool,
    receiver: Receiver,
    client: HttpClient,
    state_dir: Path,
) -> None:
    store_credential(state_dir / "credential", "held-credential")
    store_enrolment(state_dir / "enrolment.json", Enrolment(enrolled_at, host_id, None, T0))
    do_enrol(receiver, client, state_dir, TOKEN)
    assert sent_proof(receiver) == ("held-credential" if sent else None)


def test_a_credential_longer_than_the_advisor_takes_is_not_sent(
    receiver: Receiver, client: HttpClient, state_dir: Path
) -> None:
    store_credential(state_dir / "credential", "x" * 513)
    store_enrolment(state_dir / "enrolment.json", Enrolment(receiver.url, "host-1", None, T0))
    do_enrol(receiver, client, state_dir, TOKEN)
    assert sent_proof(receiver) is None


def test_a_damaged_enrolment_record_does_not_stop_enrolling_again(
    receiver: Receiver, client: HttpClient, state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store_credential(state_dir / "credential", "held-credential")
    (state_dir / "enrolment.json").write_text("{not json")
    enrolment = do_enrol(receiver, client, state_dir, TOKEN)
    assert sent_proof(receiver) is None
    assert load_enrolment(state_dir / "enrolment.json") == enrolment
    assert "enrolment.json" in caplog.text


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://advisor.corp.example:8080", True),
        ("http://10.1.2.3", True),
        ("HTTP://advisor.corp.example", True),
        ("https://advisor.corp.example:8443", False),
        ("http://127.0.0.1:8080", False),
        ("http://127.9.8.7", False),
        ("http://[::1]:8080", False),
        ("http://localhost:8080", False),
        ("http://LOCALHOST", False),
    ],
)
def test_plain_http_to_another_machine_is_warned_about(url: str, warned: bool) -> None:
    warning = cleartext_warning(url)
    assert (warning is not None) == warned
    if warning is not None:
        assert "in clear text" in warning
        assert "https://" in warning
