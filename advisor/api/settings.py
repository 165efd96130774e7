"""Settings of the HTTP API: limits, overload behaviour and the readiness check."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """What the API needs to know beyond the store.

    ``max_body_bytes`` bounds the body as sent (gzip), ``max_decompressed_bytes`` the JSON it
    expands to: a gzip bomb is cut off there with 413, never held in memory whole. At most
    ``max_concurrent_ingests`` batches are handled at once (each may hold up to
    ``max_body_bytes + max_decompressed_bytes`` while it is parsed); one more waits up to
    ``queue_wait_seconds`` for a free slot (a burst is absorbed), then gets 429 with
    ``Retry-After: retry_after_seconds`` (rounded up to whole seconds, as HTTP wants) so agents
    wait instead of timing out.
    A body must arrive whole within ``body_timeout_seconds`` of being asked for (else 408),
    so a slow or stalled upload holds its slot that long at most. One host has at most
    ``max_ingests_per_host`` requests in flight and ``host_batches_per_minute`` batches a
    minute (advisor.api.quotas); beyond, 429 with Retry-After. A credential the store
    vouched for is trusted for ``auth_cache_seconds`` before a body is read (the ingest
    transaction checks it again: a revoked host's batches are never stored).
    ``ready_check`` raises (any exception, with a message saying what is wrong: database
    unreachable, schema out of date) when the advisor cannot serve; None means always ready.

    Example: ``ApiSettings(max_concurrent_ingests=8, ready_check=store_ready)``.
    """

    max_body_bytes: int = 1 * MIB
    max_decompressed_bytes: int = 16 * MIB
    max_concurrent_ingests: int = 32
    retry_after_seconds: float = 5.0
    queue_wait_seconds: float = 1.0
    body_timeout_seconds: float = 30.0
    max_ingests_per_host: int = 2
    host_batches_per_minute: int = 600
    auth_cache_seconds: float = 300.0
    ready_check: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        for name in (
            "max_body_bytes",
            "max_decompressed_bytes",
            "max_concurrent_ingests",
            "max_ingests_per_host",
            "host_batches_per_minute",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ApiSettings.{name} must be a positive integer, got {value!r}")
        retry_after = self.retry_after_seconds
        if not (retry_after > 0 and math.isfinite(retry_after)):
            raise ValueError(
                f"ApiSettings.retry_after_seconds must be positive, got {retry_after!r}"
            )

        for name in ("queue_wait_seconds", "auth_cache_seconds"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"ApiSettings.{name} must be 0 or more, got {value!r}")
        timeout = self.body_timeout_seconds
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"ApiSettings.body_timeout_seconds must be positive, got {timeout!r}")

    @property
    def retry_after_header(self) -> str:
        """``retry_after_seconds`` as a Retry-After value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after_seconds)))
