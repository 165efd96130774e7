"""Exceptions raised by the agent.

FleetsightAgentError
├── ConfigError            bad configuration; names the file, line and key
├── EnrolmentError         enrolment refused or impossible
├── SpoolError             the on-disk spool cannot be opened or written
├── ReportError            a timing could not be handed to the local agent
└── TransportError         no HTTP answer (the shipper keeps the batch and backs off)
    └── TransportTimeoutError
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


class TransportError(FleetsightAgentError):
    """No HTTP answer from the advisor: the connection failed, timed out, or was not HTTP."""


class TransportTimeoutError(TransportError):
    """The server did not connect or answer within the timeout."""
