"""Fleetsight advisor: ingest, analysis, recommendations and review (see issues 3 onwards)."""

from __future__ import annotations

__version__ = "0.1.0"
