"""Exceptions raised by the advisor.

FleetsightAdvisorError
├── ConfigError          bad configuration; names the file, line and key (also an
│                        agent.shared.errors.ConfigFileError, what the shared loader raises)
├── SchemaOutOfDate      the database needs `fleetsight-advisor db upgrade`
├── DatabaseMissing      the database does not exist, and the command would not create it
├── EnrolmentRefused     an enrolment was not accepted: the token (unknown, expired,
│                        revoked, used up) or the host (enrolled already without proof of
│                        its credential, revoked, another department's); ``reason`` says
├── UnknownCredential    an ingest credential is unknown, or its host was revoked
├── WrongHost            an ingest credential belongs to another host than the batch's;
│                        ``credential_host_id`` is the host it belongs to
├── UnstorableBatch      the database refused a batch for what it holds: it never will take
│                        it (the API answers 422, the agent quarantines the batch)
├── StoreUnavailable     the database could not take a batch now (connection, lock,
│                        resources): worth retrying (503 with Retry-After)
└── RecommendationError  a recommendation's review or loop step was not done; nothing written
    ├── InvalidRecommendationInput  (a ValueError) an argument that cannot be stored: a
    │                               reason too long, a deferral into the past... (names it)
    ├── TransitionRefused           not allowed from the recommendation's state (approving
    │                               an obsolete one); ``key``, ``state``, ``action`` say which
    └── UnknownRecommendation       (a LookupError) no recommendation has that key
"""

from __future__ import annotations

from agent.shared.errors import ConfigFileError

__all__ = [
    "ConfigError",
    "DatabaseMissing",
    "EnrolmentRefused",
    "FleetsightAdvisorError",
    "InvalidRecommendationInput",
    "RecommendationError",
    "SchemaOutOfDate",
    "StoreUnavailable",
    "TransitionRefused",
    "UnknownCredential",
    "UnknownRecommendation",
    "UnstorableBatch",
    "WrongHost",
]


class FleetsightAdvisorError(Exception):
    """Base class of every error the advisor raises on purpose."""


class ConfigError(FleetsightAdvisorError, ConfigFileError):
    """The configuration is invalid. The message is one sentence fit for an operator.

    advisor.config re-raises the shared loader's errors as this, so the advisor's tree holds
    every config problem it reports and nothing of the agent's: ``ConfigError(problem,
    source=..., key=..., line=...)``, as :class:`~agent.shared.errors.ConfigFileError`.
    """


class SchemaOutOfDate(FleetsightAdvisorError):  # noqa: N818 - reads as the verdict it is
    """The database schema is older (or newer) than this advisor's migrations."""


class DatabaseMissing(FleetsightAdvisorError):  # noqa: N818 - reads as the verdict it is
    """A command that only reads (or needs a migrated schema) found no database to open."""


class EnrolmentRefused(FleetsightAdvisorError):  # noqa: N818 - reads as the verdict it is
    """An enrolment was refused. ``reason`` is about the token (``unknown``, ``expired``,
    ``revoked``, ``used_up``) or the host (``host_enrolled``: it exists and the request did
    not prove its current credential; ``host_revoked``; ``other_department``: the token is
    for another department than the host's)."""

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


class UnstorableBatch(FleetsightAdvisorError):  # noqa: N818 - reads as the verdict it is
    """The database refused a batch for its content (a constraint, a value out of range):
    retrying cannot help. The message says what the database objected to."""


class StoreUnavailable(FleetsightAdvisorError):  # noqa: N818 - reads as the verdict it is
    """The database could not take a batch now (unreachable, locked, out of resources):
    the same batch may well be stored on a later try."""


class RecommendationError(FleetsightAdvisorError):
    """A step of a recommendation's review lifecycle was not done (advisor.store.recommendations);
    nothing was written."""


class InvalidRecommendationInput(RecommendationError, ValueError):  # noqa: N818 - as ValueError
    """An argument the recommendations store cannot take (an empty reason for a rejection, a
    deferral that ends before it starts, a title of several lines...); the message names it."""


class TransitionRefused(RecommendationError):  # noqa: N818 - reads as the verdict it is
    """The step is not allowed from the recommendation's state (approving a rejected one,
    verifying one never rolled out). ``key``, ``state`` (its state) and ``action`` say which."""

    def __init__(self, key: str, state: str, action: str, message: str):
        super().__init__(message)
        self.key = key
        self.state = state
        self.action = action


class UnknownRecommendation(RecommendationError, LookupError):  # noqa: N818 - a verdict
    """No recommendation has the key; ``key`` is the one asked for."""

    def __init__(self, key: str):
        super().__init__(f"no recommendation has the key {key!r}")
        self.key = key
