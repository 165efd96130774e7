"""argparse value types shared by the advisor's commands: a bad value is refused with one
line saying what was expected (argparse adds the option's name and exits with status 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from agent.shared.config_values import duration


def int_at_least(least: int) -> Callable[[str], int]:
    """A whole number no smaller than ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)
"""A whole number, 1 or more."""


def positive_float(text: str) -> float:
    """A number above 0."""
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A number, 0 or more."""
    value = _float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {text!r}")
    return value


def duration_seconds(text: str) -> float:
    """A duration as the config files write it (``90s``, ``15m``, ``7d``), in seconds."""
    try:
        return duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
