"""The wire format: stable, documented, compact JSON; gzip as sent."""

from __future__ import annotations

import gzip
import json
import re

from agent.wire import (
    SCHEMA,
    WIRE_VERSION,
    Batch,
    HostIdentity,
    Interval,
    LaunchCount,
    LaunchEvent,
    MetricSummary,
    encode,
    encode_gzip,
    new_batch_id,
)
from tests.conftest import REPO

HOST = HostIdentity(host_id="4c1d0f", hostname="fin-ws-12", agent_version="0.1.0")


def sample_batch() -> Batch:
    return Batch(
        batch_id="0b6f" * 8,
        sequence=42,
        created_at=1764000000.0,
        host=HOST,
        intervals=[
            Interval(
                start=1763999940.0,
                end=1764000000.0,
                metrics=[
                    MetricSummary("cpu_utilization_ratio", {}, 12, 2.4, 0.05, 0.61, 0.12, 0.5, 0.61)
                ],
            )
        ],
        launches=[
            LaunchEvent(
                app="libreoffice",
                version="4:7.4.7-1+deb12u8",
                method="passive",
                outcome="ok",
                started_at=1763999951.2,
                duration_seconds=2.31,
                ready_signal="cpu_settled",
                start_kind="cold",
            )
        ],
        launch_counts=[LaunchCount("libreoffice", "2025-11-24", "passive", 1)],
    )


def test_a_batch_encodes_to_json_with_schema_and_version() -> None:
    document = json.loads(encode(sample_batch()))
    assert document["schema"] == SCHEMA == "fleetsight.batch"
    assert document["version"] == WIRE_VERSION == 1
    assert document["host"] == {
        "host_id": "4c1d0f",
        "hostname": "fin-ws-12",
        "agent_version": "0.1.0",
    }
    assert document["launches"][0]["phases"] == {}
    assert document["inventory"] is None


def test_the_gzip_body_decompresses_to_the_same_json_and_is_reproducible() -> None:
    batch = sample_batch()
    assert gzip.decompress(encode_gzip(batch)) == encode(batch)
    assert encode_gzip(batch) == encode_gzip(batch)


def test_batch_ids_are_unique_hex() -> None:
    ids = {new_batch_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", batch_id) for batch_id in ids)


def test_every_field_of_the_wire_format_is_documented() -> None:
    documentation = (REPO / "docs" / "wire-format.md").read_text()
    import dataclasses

    from agent import wire

    classes = [obj for obj in vars(wire).values() if dataclasses.is_dataclass(obj)]
    missing = [
        f"{cls.__name__}.{field.name}"
        for cls in classes
        for field in dataclasses.fields(cls)
        if f"`{field.name}`" not in documentation
    ]
    assert not missing, f"docs/wire-format.md lacks: {missing}"
