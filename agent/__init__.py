"""Fleetsight agent: measures application load times and machine load, ships them safely."""

from __future__ import annotations

__version__ = "0.1.0"
