"""Resource collectors: each reads one part of the machine and returns :class:`Sample` values."""

from __future__ import annotations

from agent.collectors.base import Collector, Sample

__all__ = ["Collector", "Sample"]
