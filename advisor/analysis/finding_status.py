"""A stored finding's status, and the events that change it.

- ``candidate``: found, but not yet on enough evidence (one run with a q-value near the
  analysis' alpha); lists leave candidates out unless asked for them;
- ``open``: confirmed (strong evidence, or found again soon after), and stays open through a
  brief miss;
- ``resolved``: not found for several runs and several days in a row.

advisor.analysis.stability decides when each changes (its ``StabilityPolicy`` has the
numbers); advisor.store.findings applies it run after run and records an event per change.

A module of its own, importing nothing, so the command line can offer the statuses in
``--help`` without loading the store.
"""

from __future__ import annotations

from typing import Final, Literal

Status = Literal["candidate", "open", "resolved"]
CANDIDATE: Final = "candidate"
OPEN: Final = "open"
RESOLVED: Final = "resolved"
STATUSES: Final[tuple[Status, ...]] = (OPEN, RESOLVED, CANDIDATE)
"""Every status, in the order lists show them (open first)."""

Event = Literal["opened", "resolved", "reopened"]
OPENED: Final = "opened"
RESOLVED_EVENT: Final = "resolved"
REOPENED: Final = "reopened"
EVENTS: Final[tuple[Event, ...]] = (OPENED, RESOLVED_EVENT, REOPENED)
"""What a status change is called in a finding's history: ``opened`` (from nothing or from
``candidate``), ``resolved`` (from ``open``), ``reopened`` (from ``resolved``)."""
