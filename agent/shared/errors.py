"""Exceptions raised by the shared config loader and value converters.

ValueError
├── InvalidValue        a converter's complaint about one value; the loader adds where it was
└── ConfigFileError     a config file or environment override is invalid; names file, line, key
    ├── agent.errors.ConfigError      (the agent's tree: also a FleetsightAgentError)
    └── advisor.errors.ConfigError    (the advisor's tree: also a FleetsightAdvisorError)

The loader raises :class:`ConfigFileError`; each program's ``load_config`` re-raises it as its
own ``ConfigError`` (:func:`agent.shared.config_loader.raised_as`), so neither program's tree
reaches into the other's, and code catching a program's ``ConfigError`` sees every config
problem.
"""

from __future__ import annotations

from typing import Self


class InvalidValue(ValueError):  # noqa: N818 - a converter's complaint, never escapes a parser
    """A converter's complaint; the parser adds file, line and key."""


class ConfigFileError(ValueError):
    """The configuration is invalid. The message is one sentence fit for an operator:
    ``agent.toml:12: spool.max_bytes: expected a size like '64MiB', got 'lots'``."""

    def __init__(
        self, problem: str, *, source: str = "", key: str = "", line: int | None = None
    ) -> None:
        where = source
        if where and line is not None:
            where = f"{where}:{line}"
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{problem}")
        self.problem = problem
        self.source = source
        self.key = key
        self.line = line

    @classmethod
    def from_error(cls, error: ConfigFileError) -> Self:
        """The same problem, at the same place, as ``cls``: how a program moves the loader's
        error into its own exception tree."""
        return cls(error.problem, source=error.source, key=error.key, line=error.line)
