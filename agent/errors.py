"""Exceptions raised by the agent.

FleetsightAgentError
├── ConfigError            bad configuration; names the file, line and key (also an
│                          agent.shared.errors.ConfigFileError, what the shared loader raises)
├── EnrolmentError         enrolment refused or impossible
├── SpoolError             the on-disk spool cannot be opened or written
├── ReportError            a timing could not be handed to the local agent
└── TransportError         no HTTP answer (the shipper keeps the batch and backs off)
    └── TransportTimeoutError
"""

from __future__ import annotations

from agent.shared.errors import ConfigFileError


class FleetsightAgentError(Exception):
    """Base class of every error the agent raises on purpose."""


class ConfigError(FleetsightAgentError, ConfigFileError):
    """The configuration is invalid. The message is one sentence fit for an operator.

    The shared loader's :class:`~agent.shared.errors.ConfigFileError` is re-raised as this
    (agent.config does it), so the agent's tree holds every config problem it reports; being
    a ``ConfigFileError`` too, it is built the same way: ``ConfigError(problem, source=...,
    key=..., line=...)``.
    """


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
