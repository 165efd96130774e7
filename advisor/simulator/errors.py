"""The simulator's errors: each says what to change, in one sentence."""

from __future__ import annotations

from advisor.errors import FleetsightAdvisorError


class SimulationError(FleetsightAdvisorError):
    """A run cannot go on: an advisor refused a batch or an enrolment, a sink failed."""


class ScenarioError(SimulationError):
    """A scenario file is wrong; the message names the file and the key."""
