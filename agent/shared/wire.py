"""The wire format: one versioned JSON document per batch, agent -> advisor.

Defined once, here, as plain dataclasses: the agent encodes them with the standard library and
the advisor validates incoming JSON against the same classes. docs/wire-format.md explains each
field with an example; a change that breaks old agents bumps ``WIRE_VERSION``.

Times are Unix seconds (UTC, float). Durations are seconds. Sizes are bytes. Ratios are 0..1.

Example (abridged)::

    {"schema": "fleetsight.batch", "version": 1, "batch_id": "0b6f...", "sequence": 42,
     "created_at": 1764000000.0,
     "host": {"host_id": "4c1d...", "hostname": "fin-ws-12", "agent_version": "0.1.0"},
     "intervals": [{"start": 1763999940.0, "end": 1764000000.0, "metrics": [
        {"name": "cpu_utilization_ratio", "labels": {}, "count": 12, "sum": 2.4,
         "min": 0.05, "max": 0.61, "p50": 0.12, "p90": 0.5, "p99": 0.61}]}],
     "launches": [{"app": "libreoffice", "version": "4:7.4.7-1+deb12u8", "method": "passive",
        "outcome": "ok", "started_at": 1763999951.2, "duration_seconds": 2.31,
        "ready_signal": "cpu_settled", "start_kind": "cold"}],
     "launch_counts": [{"app": "libreoffice", "day": "2025-11-24", "method": "passive",
        "count": 1}],
     "inventory": null}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

SCHEMA = "fleetsight.batch"
WIRE_VERSION = 1
INGEST_PATH = "/api/v1/ingest"
ENROL_PATH = "/api/v1/enrol"
BATCH_ID_HEADER = "X-Fleetsight-Batch-Id"
"""The batch id again, so the advisor can answer a retry before it reads the body."""
SENT_AT_HEADER = "X-Fleetsight-Sent-At"
"""When the agent sent this attempt (Unix seconds): the advisor estimates clock skew from it."""


class _FailFast:
    """Tells pydantic (the advisor validates batches with it; the agent never imports it) to
    stop at a list's first invalid item instead of describing every one: 16 MiB of
    ``"intervals": [1,1,...]`` would otherwise build eight million error records (gigabytes).
    Plain Python sees only the list type."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        schema = handler(source)
        if schema.get("type") == "list":
            schema["fail_fast"] = True
        return schema


_FAIL_FAST = _FailFast()

LaunchMethod = Literal["passive", "probe", "reported"]
LaunchOutcome = Literal["ok", "timeout", "failed"]
StartKind = Literal["cold", "warm", "unknown"]
DiskKind = Literal["ssd", "hdd", "unknown"]


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """Who sent the batch. The advisor checks ``host_id`` against the bearer credential."""

    host_id: str
    hostname: str
    agent_version: str


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """One metric over one interval: never raw samples.

    ``name`` follows Prometheus conventions (``disk_io_latency_seconds``); ``labels`` are low
    cardinality (``{"device": "sda"}``, ``{"app": "firefox"}``).
    """

    name: str
    labels: dict[str, str]
    count: int
    sum: float
    min: float
    max: float
    p50: float
    p90: float
    p99: float


@dataclass(frozen=True, slots=True)
class Interval:
    start: float
    end: float
    metrics: Annotated[list[MetricSummary], _FAIL_FAST]


@dataclass(frozen=True, slots=True)
class LaunchEvent:
    """One measured application launch (or probe, or reported timing).

    ``duration_seconds`` is start to ready; for ``timeout`` it is the time waited, for ``failed``
    the time until the failure was seen, or None if unknown. ``phases`` breaks a probe down
    (``dns``, ``connect``, ``tls``, ``first_byte``, ``total``), in seconds from its start.
    """

    app: str
    version: str | None
    method: LaunchMethod
    outcome: LaunchOutcome
    started_at: float
    duration_seconds: float | None
    ready_signal: str
    start_kind: StartKind = "unknown"
    phases: dict[str, float] = field(default_factory=dict)
    probe: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class LaunchCount:
    """Launches of ``app`` on the host's local calendar ``day`` seen since the previous batch.

    Counts are deltas, so the advisor sums them; they include launches whose events were not
    sent because of ``launches.max_events_per_interval``.
    """

    app: str
    day: str
    method: LaunchMethod
    count: int


@dataclass(frozen=True, slots=True)
class Disk:
    name: str
    kind: DiskKind
    size_bytes: int
    model: str | None = None
    rotational: bool | None = None


@dataclass(frozen=True, slots=True)
class Hardware:
    cpu_model: str | None
    cpu_cores: int | None
    cpu_threads: int | None
    cpu_max_mhz: float | None
    memory_bytes: int
    swap_bytes: int
    disks: Annotated[list[Disk], _FAIL_FAST]
    machine_vendor: str | None
    machine_model: str | None
    bios_date: str | None
    os_name: str | None
    os_version: str | None
    kernel: str | None
    arch: str | None


@dataclass(frozen=True, slots=True)
class InstalledPackage:
    """An installed version. ``app`` names the watched app it belongs to, if any."""

    package: str
    version: str
    source: Literal["dpkg", "rpm", "flatpak", "snap", "command"]
    arch: str | None = None
    app: str | None = None


@dataclass(frozen=True, slots=True)
class UpgradablePackage:
    """A newer version the package manager offers (``apt list --upgradable``)."""

    package: str
    installed: str
    candidate: str
    origin: str | None
    arch: str | None
    source: Literal["apt", "dnf", "flatpak", "snap"] = "apt"


@dataclass(frozen=True, slots=True)
class Inventory:
    """Hardware and software; sent when ``digest`` changes and at least daily."""

    collected_at: float
    digest: str
    hardware: Hardware
    software: Annotated[list[InstalledPackage], _FAIL_FAST]
    upgradable: Annotated[list[UpgradablePackage], _FAIL_FAST]


@dataclass(frozen=True, slots=True)
class Batch:
    # Read by pydantic when the advisor validates a batch (the agent never imports it), and
    # inherited by the nested dataclasses: a float that overflows to infinity is as invalid
    # as NaN, since the store cannot keep either.
    __pydantic_config__: ClassVar[dict[str, Any]] = {"allow_inf_nan": False}

    batch_id: str
    sequence: int
    created_at: float
    host: HostIdentity
    intervals: Annotated[list[Interval], _FAIL_FAST] = field(default_factory=list)
    launches: Annotated[list[LaunchEvent], _FAIL_FAST] = field(default_factory=list)
    launch_counts: Annotated[list[LaunchCount], _FAIL_FAST] = field(default_factory=list)
    dropped_launch_events: int = 0
    inventory: Inventory | None = None
    schema: str = SCHEMA
    version: int = WIRE_VERSION


def new_batch_id() -> str:
    """A fresh batch id; the advisor stores a batch once per id, however often it is sent."""
    return uuid.uuid4().hex


def to_dict(batch: Batch) -> dict[str, Any]:
    """The batch as JSON-ready plain data, fields in a stable order."""
    return dataclasses.asdict(batch)


def field_values(record: Any) -> list[Any]:
    """A wire record's field values in declaration order, not copied.

    Example: ``field_values(InstalledPackage("curl", "7.88.1-10", "dpkg"))`` is
    ``["curl", "7.88.1-10", "dpkg", None, None]``.
    """
    return [getattr(record, name) for name in record.__slots__]


def encode(batch: Batch) -> bytes:
    """Compact UTF-8 JSON of the batch: the same document as :func:`to_dict`'s.

    The records are turned into dicts one at a time as the encoder reaches them, not copied
    into a tree first: a batch with a desktop's inventory holds thousands of them.
    """
    return json.dumps(batch, default=_as_object, separators=(",", ":"), allow_nan=False).encode()


def _as_object(record: Any) -> dict[str, Any]:
    if not dataclasses.is_dataclass(type(record)):
        raise TypeError(f"{type(record).__name__} is not part of the wire format")
    return dict(zip(record.__slots__, field_values(record), strict=True))


def encode_gzip(batch: Batch) -> bytes:
    """The HTTP body as sent: gzip of :func:`encode`, reproducible (no time in its header).

    A batch with an inventory is encoded piece by piece into the compressor: json's C
    encoder keeps every small piece of the document until the end (tens of thousands for a
    desktop's inventory, about 1 MB the agent would keep afterwards). The minute's batch
    without one takes the C encoder, four times faster (0.5 ms).
    """
    compressor = zlib.compressobj(6, zlib.DEFLATED, _GZIP_WBITS)
    if batch.inventory is None:
        return compressor.compress(encode(batch)) + compressor.flush()
    compressed: list[bytes] = []
    pending: list[str] = []
    size = 0
    for piece in _STREAMING_ENCODER.iterencode(batch):
        pending.append(piece)
        size += len(piece)
        if size >= _ENCODE_CHUNK:
            compressed.append(compressor.compress("".join(pending).encode()))
            pending, size = [], 0
    compressed.append(compressor.compress("".join(pending).encode()))
    compressed.append(compressor.flush())
    return b"".join(compressed)


_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib's gzip container: header without a file name or time
_ENCODE_CHUNK = 64 * 1024
_STREAMING_ENCODER = json.JSONEncoder(default=_as_object, separators=(",", ":"), allow_nan=False)


def inventory_digest(
    hardware: Hardware,
    software: Sequence[InstalledPackage],
    upgradable: Sequence[UpgradablePackage],
) -> str:
    """SHA-256 of everything but the collection time, as canonical JSON.

    Package lists are sorted first, so the digest changes with the contents, never the order.
    Packages are hashed one at a time as JSON arrays of their fields: a desktop's 3,000 of
    them as dicts in one document would be megabytes at once, and the agent keeps the pages
    of its highest moment.
    """
    digest = hashlib.sha256(_canonical_json(dataclasses.asdict(hardware)).encode())
    for packages in (software, upgradable):
        digest.update(b"\x1e")  # where one list ends and the next begins
        for package in sorted(packages, key=_sort_key):
            digest.update(_canonical_json(field_values(package)).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def _sort_key(package: InstalledPackage | UpgradablePackage) -> tuple[str, ...]:
    return tuple(value or "" for value in field_values(package))


def _canonical_json(value: object) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
