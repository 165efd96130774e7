"""Default parameters of the change-point search, apart so the CLI can show them cheaply.

Why these values: :mod:`advisor.analysis.changepoints` and docs/analysis.md.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MIN_RELATIVE_SHIFT", "DEFAULT_MIN_SIZE", "DEFAULT_PENALTY_FACTOR"]

# Fewest points of a segment: a level held for fewer is a burst, not a new level.
DEFAULT_MIN_SIZE = 10
# Penalty per change point in units of the scores' noise variance x log(points).
DEFAULT_PENALTY_FACTOR = 3.0
# Change points that move the median by less than this share are merged away.
DEFAULT_MIN_RELATIVE_SHIFT = 0.05
