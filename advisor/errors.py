"""Exceptions raised by the advisor.

agent.errors.ConfigError   bad configuration; names the file, line and key (one class for
                           both programs: they share the config parser)
FleetsightAdvisorError
├── SchemaOutOfDate      the database needs `fleetsight-advisor db upgrade`
├── EnrolmentRefused     an enrolment token was not accepted (unknown, expired, revoked,
│                        used up); ``reason`` is one of those words
├── UnknownCredential    an ingest credential is unknown, or its host was revoked
└── WrongHost            an ingest credential belongs to another host than the batch's;
                         ``credential_host_id`` is the host it belongs to
"""

from __future__ import annotations

from agent.errors import ConfigError

__all__ = [
    "ConfigError",
    "EnrolmentRefused",
    "FleetsightAdvisorError",
    "SchemaOutOfDate",
    "UnknownCredential",
    "WrongHost",
]


class FleetsightAdvisorError(Exception):
    """Base class of every error the advisor raises on purpose."""


class SchemaOutOfDate(FleetsightAdvisorError):  # noqa: N818 - reads as the verdict it is
    """The database schema is older (or newer) than this advisor's migrations."""


class EnrolmentRefused(FleetsightAdvisorError):  # noqa: N818 - reads as the verdict it is
    """An enrolment token was refused; ``reason`` is unknown, expired, revoked or used_up."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class UnknownCredential(FleetsightAdvisorError):  # noqa: N818 - reads as the verdict it is
    """An ingest credential that is not known, or whose host was revoked."""


class WrongHost(FleetsightAdvisorError):  # noqa: N818 - reads as the verdict it is
    """A valid credential used for another host's batch; ``credential_host_id`` is its own."""

    def __init__(self, credential_host_id: str):
        super().__init__(f"the credential belongs to host {credential_host_id!r}")
        self.credential_host_id = credential_host_id
