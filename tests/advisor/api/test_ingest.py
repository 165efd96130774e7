"""POST /api/v1/ingest in-process (FastAPI's TestClient) on the in-memory store.

Every refusal is checked for its status, its one-sentence detail and the metric it counts
under; the happy path for what reaches the store.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import threading
import tracemalloc
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.ingest import RejectedError, _parse_carefully, gunzip_limited, parse_batch
from advisor.api.settings import ApiSettings
from advisor.errors import StoreUnavailable, UnstorableBatch
from advisor.store import IngestResult
from agent import __version__
from agent.shared.wire import (
    INGEST_PATH,
    Batch,
    HostIdentity,
    Interval,
    LaunchEvent,
    MetricSummary,
    encode,
    encode_gzip,
    to_dict,
)

from .memory_store import MemoryStore

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

T0 = 1_764_000_000.0
RECEIVED_AT = T0 + 3.5


def make_batch(host_id: str, batch_id: str = "0b6f" * 8, **changes: Any) -> Batch:
    batch = Batch(
        batch_id=batch_id,
        sequence=7,
        created_at=T0,
        host=HostIdentity(host_id=host_id, hostname="fin-ws-12", agent_version=__version__),
        intervals=[
            Interval(
                start=T0 - 60,
                end=T0,
                metrics=[
                    MetricSummary(
                        "cpu_utilization_ratio", {}, 12, 2.4, 0.05, 0.61, 0.12, 0.5, 0.61
                    ),
                    MetricSummary("load1", {}, 12, 6.0, 0.2, 0.9, 0.5, 0.8, 0.9),
                ],
            )
        ],
        launches=[
            LaunchEvent(
                app="libreoffice",
                version="4:7.4.7-1+deb12u8",
                method="passive",
                outcome="ok",
                started_at=T0 - 49,
                duration_seconds=2.31,
                ready_signal="cpu_settled",
                start_kind="cold",
            )
        ],
    )
    return dataclasses.replace(batch, **changes)


def gzip_json(document: object) -> bytes:
    return gzip.compress(json.dumps(document).encode(), mtime=0)


class Api:
    """An app on a fresh memory store with one enrolled host, and ways to post to it."""

    def __init__(self, settings: ApiSettings, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()
        self.registry = CollectorRegistry()
        self.app = create_app(
            self.store, settings, clock=lambda: RECEIVED_AT, registry=self.registry
        )
        self.host_id = "host-1"
        self.credential = self.enrol(self.host_id)

    def enrol(self, host_id: str) -> str:
        secret, _ = self.store.create_token(department="finance", expires_at=T0 + 86400, now=T0)
        return self.store.enrol(
            token=secret, host_id=host_id, hostname="fin-ws-12", agent_version="0.1.0", now=T0
        ).credential

    def headers(self, batch_id: str | None = None, **extra: str) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.credential}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "X-Fleetsight-Sent-At": f"{T0 + 1:.3f}",
        }
        if batch_id is not None:
            headers["X-Fleetsight-Batch-Id"] = batch_id
        headers.update(extra)
        return headers

    def rejected(self, reason: str) -> float:
        value = self.registry.get_sample_value(
            "fleetsight_advisor_ingest_requests_total", {"outcome": "rejected", "reason": reason}
        )
        assert value is not None
        return value


@pytest.fixture
def api() -> Api:
    return Api(ApiSettings())


@pytest.fixture
def client(api: Api) -> Iterator[TestClient]:
    with TestClient(api.app) as running:
        yield running


def post(client: TestClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = client.post(INGEST_PATH, content=body, headers=headers)
    return response


def test_it_stores_a_gzip_batch_with_its_times(api: Api, client: TestClient) -> None:
    batch = make_batch(api.host_id)

    response = post(client, encode_gzip(batch), api.headers(batch.batch_id))

    assert response.status_code == 200
    assert response.json() == {"batch_id": batch.batch_id, "stored": True}
    stored = api.store.batches[batch.batch_id]
    assert stored.batch == batch
    assert stored.host_id == api.host_id
    assert (stored.received_at, stored.sent_at) == (RECEIVED_AT, T0 + 1)
    assert api.registry.get_sample_value("fleetsight_advisor_batches_stored_total") == 1
    assert api.registry.get_sample_value("fleetsight_advisor_launch_events_stored_total") == 1
    assert api.registry.get_sample_value("fleetsight_advisor_metric_summaries_stored_total") == 2


def test_it_acknowledges_a_retried_batch_without_storing_it_again(
    api: Api, client: TestClient
) -> None:
    batch = make_batch(api.host_id)
    first = post(client, encode_gzip(batch), api.headers(batch.batch_id))

    again = post(client, encode_gzip(batch), api.headers(batch.batch_id))

    assert first.json()["stored"] is True
    assert again.status_code == 200
    assert again.json() == {"batch_id": batch.batch_id, "stored": False}
    assert len(api.store.batches) == 1
    assert api.registry.get_sample_value("fleetsight_advisor_batches_stored_total") == 1
    assert (
        api.registry.get_sample_value(
            "fleetsight_advisor_ingest_requests_total", {"outcome": "duplicate", "reason": ""}
        )
        == 1
    )


def test_it_takes_an_uncompressed_body_and_ignores_a_garbage_sent_at(
    api: Api, client: TestClient
) -> None:
    batch = make_batch(api.host_id)
    headers = api.headers(batch.batch_id, **{"X-Fleetsight-Sent-At": "yesterday"})
    del headers["Content-Encoding"]

    response = post(client, encode(batch), headers)

    assert response.status_code == 200
    assert api.store.batches[batch.batch_id].sent_at is None


def test_it_reads_a_body_of_several_gzip_members(api: Api, client: TestClient) -> None:
    batch = make_batch(api.host_id)
    document = encode(batch)
    body = gzip.compress(document[:100]) + gzip.compress(document[100:])

    response = post(client, body, api.headers())

    assert response.status_code == 200
    assert api.store.batches[batch.batch_id].batch == batch


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        (None, "no credential"),
        ("Bearer not-a-credential", "unknown or its host was revoked"),
        ("Basic dXNlcjpwYXNz", "not 'Bearer <credential>'"),
    ],
)
def test_it_refuses_a_missing_or_wrong_credential_with_a_bearer_challenge(
    api: Api, client: TestClient, authorization: str | None, says: str
) -> None:
    headers = api.headers()
    del headers["Authorization"]
    if authorization is not None:
        headers["Authorization"] = authorization

    response = post(client, encode_gzip(make_batch(api.host_id)), headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert says in response.json()["detail"]
    assert api.store.batches == {}
    assert api.rejected("auth") == 1


def test_it_refuses_a_revoked_host(api: Api, client: TestClient) -> None:
    api.store.revoke_host(api.host_id, now=T0)

    response = post(client, encode_gzip(make_batch(api.host_id)), api.headers())

    assert response.status_code == 401
    assert "re-enrol" in response.json()["detail"]
    assert api.store.batches == {}


def test_it_refuses_a_batch_for_another_host(api: Api, client: TestClient) -> None:
    api.enrol("host-2")

    response = post(client, encode_gzip(make_batch("host-2")), api.headers())

    assert response.status_code == 403
    assert "belongs to host 'host-1'" in response.json()["detail"]
    assert "'host-2'" in response.json()["detail"]
    assert api.store.batches == {}
    assert api.rejected("wrong_host") == 1


def test_it_refuses_a_content_length_over_the_limit_before_reading() -> None:
    api = Api(ApiSettings(max_body_bytes=1000))
    with TestClient(api.app) as client:
        response = post(client, b"\0" * 1001, api.headers())

    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]
    assert api.rejected("too_large") == 1


def test_it_refuses_a_body_longer_than_its_content_length_said() -> None:
    api = Api(ApiSettings(max_body_bytes=1000))
    headers = api.headers(**{"Content-Length": "10"})
    with TestClient(api.app) as client:
        response = post(client, b"\0" * 5000, headers)

    assert response.status_code == 413


def test_it_refuses_a_chunked_body_once_it_passes_the_limit() -> None:
    api = Api(ApiSettings(max_body_bytes=1000))

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"\0" * 300

    with TestClient(api.app) as client:
        response = client.post(INGEST_PATH, content=chunks(), headers=api.headers())

    assert response.status_code == 413
    assert api.rejected("too_large") == 1


def test_it_stops_a_gzip_bomb_at_the_decompressed_limit(api: Api, client: TestClient) -> None:
    bomb = zero_bomb(64)
    assert len(bomb) < 100 * 1024  # 64 MiB of zeros in well under the 1 MiB body limit

    response = post(client, bomb, api.headers())

    assert response.status_code == 413
    assert "decompressed" in response.json()["detail"]
    assert api.rejected("too_large") == 1


def zero_bomb(mebibytes: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = b"\0" * 1024**2
    return b"".join(compressor.compress(megabyte) for _ in range(mebibytes)) + compressor.flush()


def test_gunzip_of_a_bomb_never_holds_much_more_than_the_limit() -> None:
    bomb = zero_bomb(64)
    tracemalloc.start()
    try:
        with pytest.raises(RejectedError) as refused:
            gunzip_limited(bomb, 1024**2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert refused.value.status == 413
    assert peak < 4 * 1024**2  # the limit, and room for zlib's own buffers; not 64 MiB


def test_gunzip_never_returns_more_than_the_limit() -> None:
    data = gzip.compress(b"x" * 10_001)

    assert gunzip_limited(gzip.compress(b"x" * 10_000), 10_000) == b"x" * 10_000
    with pytest.raises(RejectedError) as refused:
        gunzip_limited(data, 10_000)
    assert refused.value.status == 413


def test_it_refuses_an_unknown_content_encoding(api: Api, client: TestClient) -> None:
    headers = api.headers(**{"Content-Encoding": "br"})

    response = post(client, encode_gzip(make_batch(api.host_id)), headers)

    assert response.status_code == 415
    assert response.json()["detail"] == (
        "Content-Encoding 'br' is not supported: send gzip or identity"
    )
    assert api.rejected("bad_encoding") == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"this is not gzip at all", "not valid gzip"),
        (encode_gzip(make_batch("host-1"))[:-20], "truncated"),
    ],
)
def test_it_refuses_broken_gzip_with_400(
    api: Api, client: TestClient, body: bytes, says: str
) -> None:
    response = post(client, body, api.headers())

    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert api.rejected("bad_encoding") == 1


def test_it_names_the_bad_field_by_its_path(api: Api, client: TestClient) -> None:
    document = to_dict(make_batch(api.host_id))
    document["launches"][0]["outcome"] = "crashed"
    del document["host"]["hostname"]

    response = post(client, gzip_json(document), api.headers())

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert "launches.0.outcome: Input should be 'ok', 'timeout' or 'failed'" in detail
    assert "host.hostname: Field required" in detail
    assert api.store.batches == {}
    assert api.rejected("invalid") == 1


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"version": 2}, "version 2 is not supported: this advisor reads 'fleetsight.batch' v"),
        ({"schema": "other.thing"}, "schema: 'other.thing' is not a batch"),
        ({"sequence": "7"}, "sequence: Input should be a valid integer"),
        ({"dropped_launch_events": True}, "dropped_launch_events: Input should be a valid int"),
        ({"sequence": 2**64}, "beyond a 64-bit integer"),
        ({"batch_id": "../../etc"}, "batch_id: should be 1 to 64 letters"),
        ({"host": {"host_id": "host-1", "hostname": "a\0b", "agent_version": "1"}}, "NUL"),
    ],
)
def test_it_refuses_documents_the_store_must_not_see(
    api: Api, client: TestClient, change: dict[str, object], says: str
) -> None:
    document = to_dict(make_batch(api.host_id)) | change

    response = post(client, gzip_json(document), api.headers())

    assert response.status_code == 422
    assert says in response.json()["detail"]
    assert api.store.batches == {}


def test_a_backslash_before_u0000_is_text_not_a_nul(api: Api, client: TestClient) -> None:
    document = to_dict(make_batch(api.host_id))
    document["launches"][0]["version"] = "C:\\u0000\\build"  # a backslash, then "u0000"

    response = post(client, gzip_json(document), api.headers())

    assert response.status_code == 200, response.text
    assert response.json()["stored"] is True


@pytest.mark.parametrize("number", [b"1e999", b"-1.5e309", b"1" + b"0" * 400 + b".0"])
def test_it_refuses_a_valid_batch_with_a_float_beyond_a_double(
    api: Api, client: TestClient, number: bytes
) -> None:
    document = json.dumps(to_dict(make_batch(api.host_id)) | {"created_at": 1234.5}).encode()
    document = document.replace(b'"created_at": 1234.5', b'"created_at": ' + number)

    response = post(client, gzip.compress(document), api.headers())

    assert response.status_code == 422
    assert "beyond a double" in response.json()["detail"]
    assert api.store.batches == {}


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (b'{"batch_id": ', "not valid JSON"),
        (b'{"created_at": NaN}', "NaN is not a number"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100_000, "nests arrays or objects too deeply"),
        (b'{"sequence": ' + b"9" * 5000 + b"}", "beyond a 64-bit integer"),
        (b'{"created_at": 1e999}', "beyond a double"),
    ],
)
def test_it_refuses_what_is_not_a_json_object(
    api: Api, client: TestClient, document: bytes, says: str
) -> None:
    response = post(client, gzip.compress(document), api.headers())

    assert response.status_code == 422
    assert says in response.json()["detail"]


def test_it_refuses_a_batch_id_header_that_is_not_the_bodys(api: Api, client: TestClient) -> None:
    batch = make_batch(api.host_id)

    response = post(client, encode_gzip(batch), api.headers("ffff" * 8))

    assert response.status_code == 400
    assert "X-Fleetsight-Batch-Id" in response.json()["detail"]
    assert api.store.batches == {}


def test_it_answers_429_with_retry_after_when_no_slot_frees_within_the_queue_wait() -> None:
    api = Api(ApiSettings(max_concurrent_ingests=1, retry_after_seconds=7, queue_wait_seconds=0.2))
    entered, release = api.store.hold_ingest()
    first = make_batch(api.host_id, batch_id="1" * 32)
    second = make_batch(api.host_id, batch_id="2" * 32)
    answers: list[httpx.Response] = []
    with TestClient(api.app) as client:
        sender = threading.Thread(
            target=lambda: answers.append(post(client, encode_gzip(first), api.headers()))
        )
        sender.start()
        try:
            assert entered.acquire(timeout=60), "the first ingest never reached the store"
            busy = post(client, encode_gzip(second), api.headers())
        finally:
            release.set()
            sender.join(timeout=60)
        after = post(client, encode_gzip(second), api.headers())

    assert busy.status_code == 429
    assert busy.headers["Retry-After"] == "7"
    assert "retry after 7 s" in busy.json()["detail"]
    assert [answer.status_code for answer in answers] == [200]
    assert after.status_code == 200
    assert set(api.store.batches) == {first.batch_id, second.batch_id}
    assert api.rejected("overloaded") == 1
    assert api.registry.get_sample_value("fleetsight_advisor_ingests_in_progress") == 0


def test_a_batch_waiting_for_a_slot_is_stored_when_one_frees_in_time() -> None:
    api = Api(ApiSettings(max_concurrent_ingests=1, queue_wait_seconds=60))
    entered, release = api.store.hold_ingest()
    first = make_batch(api.host_id, batch_id="1" * 32)
    second = make_batch(api.host_id, batch_id="2" * 32)
    answers: dict[str, int] = {}

    def send(batch: Batch) -> None:
        answers[batch.batch_id] = post(shared, encode_gzip(batch), api.headers()).status_code

    with TestClient(api.app) as shared:
        senders = [threading.Thread(target=send, args=(batch,)) for batch in (first, second)]
        senders[0].start()
        assert entered.acquire(timeout=60), "the first ingest never reached the store"
        senders[1].start()
        # The second batch waits for the slot: it cannot reach the store while the first holds it.
        assert not entered.acquire(timeout=0.5)
        release.set()
        for sender in senders:
            sender.join(timeout=60)

    assert answers == {first.batch_id: 200, second.batch_id: 200}
    assert set(api.store.batches) == {first.batch_id, second.batch_id}
    assert api.rejected("overloaded") == 0


class FailingStore(MemoryStore):
    """A store whose database refuses every batch with ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def ingest(
        self, host_id: str, batch: Batch, *, received_at: float, sent_at: float | None
    ) -> IngestResult:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [StoreUnavailable("database is locked"), OSError("a failure the store did not classify")],
)
def test_a_store_failure_is_503_with_retry_after_so_the_agent_keeps_the_batch(
    error: Exception,
) -> None:
    api = Api(ApiSettings(), store=FailingStore(error))
    with TestClient(api.app) as client:
        response = post(client, encode_gzip(make_batch(api.host_id)), api.headers())

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert (
        api.registry.get_sample_value(
            "fleetsight_advisor_ingest_requests_total", {"outcome": "error", "reason": ""}
        )
        == 1
    )


def test_a_batch_the_database_refuses_for_its_content_is_422_so_the_agent_sets_it_aside() -> None:
    refused = UnstorableBatch("the database refused batch x of host-1: value out of range")
    api = Api(ApiSettings(), store=FailingStore(refused))
    with TestClient(api.app) as client:
        response = post(client, encode_gzip(make_batch(api.host_id)), api.headers())

    assert response.status_code == 422
    assert "can never be stored" in response.json()["detail"]
    assert "value out of range" in response.json()["detail"]
    assert api.rejected("unstorable") == 1


def test_every_ingest_request_is_timed(api: Api, client: TestClient) -> None:
    batch = make_batch(api.host_id)
    post(client, encode_gzip(batch), api.headers())
    post(client, b"junk", api.headers())

    count = api.registry.get_sample_value("fleetsight_advisor_ingest_duration_seconds_count")

    assert count == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(sorted(to_dict(make_batch("host-1")))), value=json_values)
def test_any_value_in_any_field_gets_an_answer_and_never_a_server_error(
    api: Api, client: TestClient, field: str, value: object
) -> None:
    document = to_dict(make_batch(api.host_id, batch_id=uuid.uuid4().hex)) | {field: value}

    response = post(client, gzip_json(document), api.headers())

    assert response.status_code in (200, 403, 422)
    assert isinstance(response.json().get("detail", ""), str)
    if response.status_code == 422:
        assert response.json()["detail"].startswith((field, "the body "))


def outcome_of(parse: Callable[[bytes], Batch], document: bytes) -> object:
    try:
        return parse(document)
    except RejectedError as refused:
        return refused.status


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(to_dict(make_batch("host-1")))), value=json_values)
def test_the_fast_path_accepts_exactly_what_the_careful_one_does(field: str, value: object) -> None:
    document = json.dumps(to_dict(make_batch("host-1")) | {field: value}).encode()

    assert outcome_of(parse_batch, document) == outcome_of(_parse_carefully, document)
