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
    ``ready_check`` raises (any exception, with a message saying what is wrong: database
    unreachable, schema out of date) when the advisor cannot serve; None means always ready.

    Example: ``ApiSettings(max_concurrent_ingests=8, ready_check=store_ready)``.
    """

    max_body_bytes: int = 1 * MIB
    max_decompressed_bytes: int = 16 * MIB
    max_concurrent_ingests: int = 32
    retry_after_seconds: float = 5.0
    queue_wait_seconds: float = 1.0
    ready_check: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_decompressed_bytes", "max_concurrent_ingests"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ApiSettings.{name} must be a positive integer, got {value!r}")
        retry_after = self.retry_after_seconds
        if not (retry_after > 0 and math.isfinite(retry_after)):
            raise ValueError(
                f"ApiSettings.retry_after_seconds must be positive, got {retry_after!r}"
            )

        wait = self.queue_wait_seconds
        if not (wait >= 0 and math.isfinite(wait)):
            raise ValueError(f"ApiSettings.queue_wait_seconds must be 0 or more, got {wait!r}")

    @property
    def retry_after_header(self) -> str:
        """``retry_after_seconds`` as a Retry-After value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after_seconds)))
