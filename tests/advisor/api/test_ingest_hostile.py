"""Ingest and enrolment against a hostile client: each attack reproduced on the advisor before
it was hardened, as a regression test.

The body-reading tests call the ASGI app directly with a ``receive`` that records every read, so
they can say exactly whether the advisor touched a body and how long a request held a slot.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import warnings
from typing import Any

import anyio
import pytest
from prometheus_client import CollectorRegistry

from advisor.api.app import create_app
from advisor.api.ingest_route import INLINE_DOCUMENT_BYTES
from advisor.api.settings import ApiSettings
from agent.shared.wire import ENROL_PATH, INGEST_PATH, LaunchCount, encode, encode_gzip
from tests.advisor.api.test_ingest import T0, Api, make_batch

from .memory_store import MemoryStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

# 16 KB of gzip that expands to 16 MiB of `[{},{},...]`: a parse bomb.
PARSE_BOMB = gzip.compress(b"[" + b"{}," * (16 * 1024 * 1024 // 3 - 1) + b"{}]", mtime=0)


class Receiver:
    """An ASGI ``receive`` that hands out ``chunks`` and then, if ``stall``, never finishes
    the body; it counts the reads."""

    def __init__(self, chunks: list[bytes], *, stall: bool = False) -> None:
        self.chunks = list(chunks)
        self.stall = stall
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        if self.chunks:
            chunk = self.chunks.pop(0)
            return {
                "type": "http.request",
                "body": chunk,
                "more_body": bool(self.chunks) or self.stall,
            }
        if self.stall:
            await anyio.sleep_forever()
        return {"type": "http.disconnect"}


async def call(
    app: Any, headers: dict[str, str], receiver: Receiver
) -> tuple[int, dict[str, str], bytes]:
    """POST to the ingest route through the raw ASGI interface: status, headers and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": INGEST_PATH,
        "raw_path": INGEST_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
    }
    answer: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receiver, send)
    return answer["status"], answer["headers"], answer["body"]


def bomb_headers(authorization: str) -> dict[str, str]:
    return {
        "authorization": authorization,
        "content-type": "application/json",
        "content-encoding": "gzip",
        "content-length": str(len(PARSE_BOMB)),
    }


@pytest.fixture
def api() -> Api:
    return Api(ApiSettings(body_timeout_seconds=0.5, max_concurrent_ingests=4))


@pytest.mark.parametrize(
    "authorization", ["Bearer x", "Bearer fsc_" + "A" * 43, "Basic Zm9vOmJhcg==", ""]
)
def test_a_strangers_parse_bomb_is_refused_before_its_body_is_read(
    api: Api, authorization: str
) -> None:
    receiver = Receiver([PARSE_BOMB])

    status, headers, body = anyio.run(call, api.app, bomb_headers(authorization), receiver)

    assert status == 401
    assert receiver.reads == 0
    assert headers["connection"] == "close"
    assert "credential" in json.loads(body)["detail"]
    assert api.rejected("auth") == 1


def test_an_enrolled_hosts_parse_bomb_is_refused_before_it_is_parsed(api: Api) -> None:
    receiver = Receiver([PARSE_BOMB])

    status, _, body = anyio.run(call, api.app, bomb_headers(f"Bearer {api.credential}"), receiver)

    assert status == 413
    assert "JSON arrays and objects" in json.loads(body)["detail"]
    assert api.store.ingest_calls == 0


def test_an_enrolled_hosts_millions_of_items_in_one_array_are_refused_before_parsing(
    api: Api,
) -> None:
    items = b",".join([b"1"] * (7 * 1024 * 1024))  # 14 MiB: within the decompressed limit
    document = b'{"schema": "fleetsight.batch", "version": 1, "intervals": [' + items + b"]}"
    body = gzip.compress(document, mtime=0)
    headers = {**bomb_headers(f"Bearer {api.credential}"), "content-length": str(len(body))}

    status, _, answer = anyio.run(call, api.app, headers, Receiver([body]))

    assert status == 413
    assert "JSON items and members" in json.loads(answer)["detail"]
    assert api.store.ingest_calls == 0


def test_stalled_uploads_of_strangers_hold_no_slot_and_real_agents_get_through(api: Api) -> None:
    """34 connections that send headers and one byte of a 100 KB body, then nothing."""
    stalled = [Receiver([b"\x1f"], stall=True) for _ in range(34)]
    headers = {**bomb_headers("Bearer x"), "content-length": "100000"}
    batch = make_batch(api.host_id)
    answers: list[int] = []

    async def scenario() -> None:
        with anyio.fail_after(10):
            await stalled_uploads_and_one_batch()

    async def stalled_uploads_and_one_batch() -> None:
        async with anyio.create_task_group() as group:
            for receiver in stalled:
                group.start_soon(call, api.app, headers, receiver)
            await anyio.sleep(0.05)
            status, _, _ = await call(
                api.app,
                {**api.headers(), "content-length": str(len(encode_gzip(batch)))},
                Receiver([encode_gzip(batch)]),
            )
            answers.append(status)

    anyio.run(scenario)

    assert answers == [200]
    assert all(receiver.reads == 0 for receiver in stalled)
    assert api.rejected("overloaded") == 0


def test_an_enrolled_hosts_stalled_upload_holds_a_slot_only_until_the_read_deadline(
    api: Api,
) -> None:
    receiver = Receiver([b"\x1f"], stall=True)

    async def scenario() -> tuple[int, dict[str, str], bytes]:
        with anyio.fail_after(10):
            return await call(
                api.app,
                {**api.headers(), "content-length": "100000"},
                receiver,
            )

    status, headers, body = anyio.run(scenario)

    assert status == 408
    assert headers["connection"] == "close"
    assert "did not arrive within 0.5 s" in json.loads(body)["detail"]
    assert api.rejected("slow_body") == 1


def test_one_host_cannot_hold_more_than_its_share_of_the_slots(api: Api) -> None:
    """A compromised agent opens many stalled uploads: two are handled, the rest get 429,
    and another host's batch still goes through."""
    other_credential = api.enrol("host-2")
    stalled = [Receiver([b"\x1f"], stall=True) for _ in range(6)]
    results: list[int] = []
    batch = make_batch("host-2")
    body = encode_gzip(batch)

    async def one(receiver: Receiver) -> None:
        status, headers, _ = await call(
            api.app, {**api.headers(), "content-length": "100000"}, receiver
        )
        results.append(status)
        if status == 429:
            assert int(headers["retry-after"]) >= 1

    async def scenario() -> None:
        with anyio.fail_after(10):
            others.append(await stalled_uploads_and_another_host())

    async def stalled_uploads_and_another_host() -> int:
        async with anyio.create_task_group() as group:
            for receiver in stalled:
                group.start_soon(one, receiver)
            await anyio.sleep(0.05)
            status, _, _ = await call(
                api.app,
                {
                    **api.headers(),
                    "Authorization": f"Bearer {other_credential}",
                    "content-length": str(len(body)),
                },
                Receiver([body]),
            )
        return status

    others: list[int] = []
    anyio.run(scenario)

    assert others == [200]
    assert sorted(results) == [408, 408, 429, 429, 429, 429]
    assert api.rejected("host_quota") == 4


def test_a_host_sending_past_its_rate_gets_429_with_retry_after() -> None:
    api = Api(ApiSettings(host_batches_per_minute=3))
    with TestClient(api.app) as client:
        statuses = []
        for sequence in range(5):
            batch = make_batch(api.host_id, batch_id=f"b{sequence}", sequence=sequence)
            response = client.post(INGEST_PATH, content=encode_gzip(batch), headers=api.headers())
            statuses.append(response.status_code)

    assert statuses == [200, 200, 200, 429, 429]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "more than 3 batches in a minute" in response.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"launch_counts": [LaunchCount("libreoffice", "2025-11-24", "passive", -5)]},
            "launch_counts.0.count",
        ),
        (
            {"launch_counts": [LaunchCount("libreoffice", "garbage", "passive", 1)]},
            "launch_counts.0.day",
        ),
        ({"created_at": 1e300}, "created_at"),
        ({"sequence": -1}, "sequence"),
        ({"dropped_launch_events": 2**40}, "dropped_launch_events"),
    ],
)
def test_values_without_meaning_are_422_naming_the_field(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    batch = make_batch(api.host_id, **changes)
    with TestClient(api.app) as client:
        response = client.post(INGEST_PATH, content=encode_gzip(batch), headers=api.headers())

    assert response.status_code == 422
    assert response.json()["detail"].startswith(field)
    assert api.store.ingest_calls == 0


def test_interval_order_summary_order_and_names_are_checked(api: Api) -> None:
    good = make_batch(api.host_id)
    interval = good.intervals[0]
    summary = interval.metrics[0]
    cases = {
        "intervals.0": dataclasses.replace(
            good, intervals=[dataclasses.replace(interval, end=interval.start - 1)]
        ),
        "intervals.0.metrics.0": dataclasses.replace(
            good,
            intervals=[
                dataclasses.replace(
                    interval, metrics=[dataclasses.replace(summary, min=5.0, max=2.0)]
                )
            ],
        ),
        "host.hostname": dataclasses.replace(
            good, host=dataclasses.replace(good.host, hostname="x" * 1_000_000)
        ),
        "launches.0.app": dataclasses.replace(
            good, launches=[dataclasses.replace(good.launches[0], app="a" * 100_000)]
        ),
        "intervals.0.metrics.0.name": dataclasses.replace(
            good,
            intervals=[
                dataclasses.replace(
                    interval, metrics=[dataclasses.replace(summary, name="m" * 100_000)]
                )
            ],
        ),
    }
    with TestClient(api.app) as client:
        for field, batch in cases.items():
            response = client.post(INGEST_PATH, content=encode_gzip(batch), headers=api.headers())
            assert response.status_code in (413, 422), field
            assert field in response.json()["detail"] or response.status_code == 413, field
    assert api.store.ingest_calls == 0


def test_a_hostname_with_terminal_escapes_and_a_newline_is_refused(api: Api) -> None:
    batch = make_batch(api.host_id)
    batch = dataclasses.replace(
        batch, host=dataclasses.replace(batch.host, hostname="fin\x1b[2J\x1b]0;pwned\x07\nws")
    )
    with TestClient(api.app) as client:
        response = client.post(INGEST_PATH, content=encode_gzip(batch), headers=api.headers())

    assert response.status_code == 422
    assert response.json()["detail"].startswith("host.hostname")


def test_launch_counts_that_would_overflow_the_stored_total_are_refused_in_the_first_batch(
    api: Api,
) -> None:
    huge = [LaunchCount("libreoffice", "2025-11-24", "passive", 3 * 2**61)]
    with TestClient(api.app) as client:
        response = client.post(
            INGEST_PATH,
            content=encode_gzip(make_batch(api.host_id, launch_counts=huge)),
            headers=api.headers(),
        )

    assert response.status_code == 422
    assert response.json()["detail"].startswith("launch_counts.0.count")


def test_another_hosts_batch_with_a_used_id_is_stored_for_that_host(api: Api) -> None:
    other_credential = api.enrol("host-2")
    mine = make_batch(api.host_id, batch_id="same-id")
    theirs = make_batch("host-2", batch_id="same-id")
    with TestClient(api.app) as client:
        first = client.post(INGEST_PATH, content=encode_gzip(mine), headers=api.headers())
        second = client.post(
            INGEST_PATH,
            content=encode_gzip(theirs),
            headers={**api.headers(), "Authorization": f"Bearer {other_credential}"},
        )

    assert first.json() == {"batch_id": "same-id", "stored": True}
    assert second.json() == {"batch_id": "same-id", "stored": True}


def enrol_body(token: str, host_id: str, **extra: str) -> dict[str, str]:
    return {"token": token, "host_id": host_id, "hostname": "h", "agent_version": "0.1.0", **extra}


def test_another_departments_token_cannot_take_over_a_host() -> None:
    store = MemoryStore()
    app = create_app(store, ApiSettings(), clock=lambda: T0, registry=CollectorRegistry())
    finance, _ = store.create_token(department="finance", expires_at=T0 + 86400, now=T0)
    hr, _ = store.create_token(department="hr", expires_at=T0 + 86400, now=T0)
    with TestClient(app) as client:
        enrolled = client.post(ENROL_PATH, json=enrol_body(finance, "fin-host-1"))
        credential = enrolled.json()["credential"]
        takeover = client.post(ENROL_PATH, json=enrol_body(hr, "fin-host-1"))
        with_proof = client.post(
            ENROL_PATH, json=enrol_body(hr, "fin-host-1", current_credential=credential)
        )
        same_department = client.post(ENROL_PATH, json=enrol_body(finance, "fin-host-1"))

    assert enrolled.status_code == 201
    assert (takeover.status_code, with_proof.status_code) == (409, 409)
    assert "another department" in takeover.json()["detail"]
    assert "hr" not in takeover.json()["detail"]
    assert same_department.status_code == 409
    assert "enrolled already" in same_department.json()["detail"]
    host = store.authenticate(credential)
    assert host is not None
    assert host.department == "finance"


def test_a_revoked_host_stays_revoked_whatever_token_it_enrols_with() -> None:
    store = MemoryStore()
    app = create_app(store, ApiSettings(), clock=lambda: T0, registry=CollectorRegistry())
    token, _ = store.create_token(department="finance", expires_at=T0 + 86400, now=T0)
    with TestClient(app) as client:
        credential = client.post(ENROL_PATH, json=enrol_body(token, "h1")).json()["credential"]
        store.revoke_host("h1", now=T0 + 1)
        again = client.post(ENROL_PATH, json=enrol_body(token, "h1", current_credential=credential))
        store.release_host("h1", now=T0 + 2)
        released = client.post(ENROL_PATH, json=enrol_body(token, "h1"))

    assert again.status_code == 403
    assert "fleetsight-advisor host release h1" in again.json()["detail"]
    assert released.status_code == 201


def test_a_batch_too_large_to_check_on_the_event_loop_is_checked_and_stored_in_a_thread(
    api: Api,
) -> None:
    launches = [
        dataclasses.replace(make_batch(api.host_id).launches[0], started_at=T0 - 50 + n * 0.001)
        for n in range(600)
    ]
    batch = make_batch(api.host_id, launches=launches)
    body = encode_gzip(batch)
    assert len(encode(batch)) > INLINE_DOCUMENT_BYTES

    with TestClient(api.app) as client:
        response = client.post(INGEST_PATH, content=body, headers=api.headers())

    assert response.json() == {"batch_id": batch.batch_id, "stored": True}
    assert len(api.store.batches[batch.batch_id].batch.launches) == 600
