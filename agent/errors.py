"""Exceptions raised by the agent.

FleetsightAgentError
├── ConfigError            bad configuration; names the file, line and key
├── EnrolmentError         enrolment refused or impossible
├── SpoolError             the on-disk spool cannot be opened or written
└── ShipError              one attempt to deliver a batch failed
    ├── TransientShipError keep the batch and retry later (network, 5xx, 429, 503)
    └── PermanentShipError the advisor will never accept this batch (other 4xx)
"""

from __future__ import annotations


class FleetsightAgentError(Exception):
    """Base class of every error the agent raises on purpose."""


class ConfigError(FleetsightAgentError):
    """The configuration is invalid. The message is one sentence fit for an operator."""

    def __init__(self, message: str, *, source: str = "", key: str = "", line: int | None = None):
        where = source
        if where and line is not None:
            where = f"{where}:{line}"
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{message}")
        self.source = source
        self.key = key
        self.line = line


class EnrolmentError(FleetsightAgentError):
    """Enrolment with the advisor failed; the message says why and what to do."""


class SpoolError(FleetsightAgentError):
    """The spool database cannot be used."""


class ReportError(FleetsightAgentError):
    """``fleetsight-agent time`` or a script could not hand a timing to the local agent."""


class ShipError(FleetsightAgentError):
    """Delivering a batch failed."""


class TransientShipError(ShipError):
    """Worth retrying: the batch stays in the spool.

    ``retry_after`` is the delay the advisor asked for (429/503 Retry-After), if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentShipError(ShipError):
    """The advisor rejected the batch for good: it is quarantined, never retried."""
