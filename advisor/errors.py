"""Exceptions raised by the advisor.

    FleetsightAdvisorError
    ├── ConfigError          bad configuration; names the file, line and key
    ├── SchemaOutOfDate      the database needs `fleetsight-advisor db upgrade`
    └── EnrolmentRefused     an enrolment token was not accepted (unknown, expired, revoked,
                             used up); ``reason`` is one of those words
"""

from __future__ import annotations

from agent.errors import ConfigError as _AgentConfigError


class FleetsightAdvisorError(Exception):
    """Base class of every error the advisor raises on purpose."""


class ConfigError(_AgentConfigError, FleetsightAdvisorError):
    """The advisor's configuration is invalid (same message shape as the agent's)."""


class SchemaOutOfDate(FleetsightAdvisorError):
    """The database schema is older (or newer) than this advisor's migrations."""


class EnrolmentRefused(FleetsightAdvisorError):
    """An enrolment token was refused; ``reason`` is unknown, expired, revoked or used_up."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
