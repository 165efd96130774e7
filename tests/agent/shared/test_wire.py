"""The wire format: stable, documented, compact JSON; gzip as sent."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import re

import pytest

from agent.shared.wire import (
    SCHEMA,
    WIRE_VERSION,
    Batch,
    Disk,
    Hardware,
    HostIdentity,
    InstalledPackage,
    Interval,
    Inventory,
    LaunchCount,
    LaunchEvent,
    MetricSummary,
    UpgradablePackage,
    encode,
    encode_gzip,
    field_values,
    new_batch_id,
    to_dict,
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


def batch_with_inventory(packages: int) -> Batch:
    hardware = Hardware(
        "AMD Ryzen 5 5600G", 6, 12, 4464.0, 16 << 30, 2 << 30,
        [Disk("nvme0n1", "ssd", 512 << 30, "Samsung SSD 980", False)],
        "LENOVO", "ThinkCentre M75q", "2023-05-11", "Debian GNU/Linux", "12", "6.1.0-28", "x86_64",
    )  # fmt: skip
    inventory = Inventory(
        collected_at=1764000000.5,
        digest="d" * 64,
        hardware=hardware,
        software=[
            InstalledPackage(f"lib{number}", f"1.{number}-2+deb12u1", "dpkg", "amd64")
            for number in range(packages)
        ]
        + [InstalledPackage("libreoffice", "4:7.4.7-1+deb12u8", "dpkg", "amd64", "libreoffice")],
        upgradable=[
            UpgradablePackage(
                "curl", "7.88.1-10+deb12u14", "7.88.1-10+deb12u15", "oldstable", "amd64"
            )
        ],
    )
    return dataclasses.replace(sample_batch(), inventory=inventory)


def test_an_inventory_batch_encodes_to_the_document_of_to_dict_and_gzips_to_it() -> None:
    batch = batch_with_inventory(packages=3000)
    expected = json.dumps(to_dict(batch), separators=(",", ":")).encode()
    assert encode(batch) == expected
    assert gzip.decompress(encode_gzip(batch)) == expected  # pieces cross the 64 KiB chunks
    assert encode_gzip(batch) == encode_gzip(batch)
    document = json.loads(expected)
    assert document["inventory"]["software"][-1]["app"] == "libreoffice"
    assert document["inventory"]["hardware"]["disks"][0]["kind"] == "ssd"


def test_a_value_json_cannot_carry_is_refused_by_both_encoders() -> None:
    bad = MetricSummary("cpu_utilization_ratio", {}, 1, math.nan, 0.0, 0.0, 0.0, 0.0, 0.0)
    batch = dataclasses.replace(sample_batch(), intervals=[Interval(0.0, 60.0, [bad])])
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode(batch)
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_gzip(batch)
    with_inventory = batch_with_inventory(packages=10)
    assert with_inventory.inventory is not None
    odd_hardware = dataclasses.replace(with_inventory.inventory.hardware, cpu_max_mhz=math.inf)
    odd = dataclasses.replace(
        with_inventory,
        inventory=dataclasses.replace(with_inventory.inventory, hardware=odd_hardware),
    )
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_gzip(odd)  # the piece-by-piece path
    with pytest.raises(TypeError, match="set is not part of the wire format"):
        encode(dataclasses.replace(sample_batch(), launches={1}))  # type: ignore[arg-type]


def test_field_values_are_a_records_fields_in_order() -> None:
    curl = InstalledPackage("curl", "7.88.1-10", "dpkg")
    assert field_values(curl) == ["curl", "7.88.1-10", "dpkg", None, None]


def test_batch_ids_are_unique_hex() -> None:
    ids = {new_batch_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", batch_id) for batch_id in ids)


def test_every_field_of_the_wire_format_is_documented() -> None:
    documentation = (REPO / "docs" / "wire-format.md").read_text()
    from agent.shared import wire

    classes = [
        obj
        for obj in vars(wire).values()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj)
    ]
    missing = [
        f"{cls.__name__}.{field.name}"
        for cls in classes
        for field in dataclasses.fields(cls)
        if f"`{field.name}`" not in documentation
    ]
    assert not missing, f"docs/wire-format.md lacks: {missing}"
