"""Progress of a long command (``simulate``, ``catalog import``, ``analyse``) on one
self-overwriting line of stderr, only when stderr is a terminal.

In a log (systemd, cron, a pipe) the line would be noise repeated thousands of times, so the
reporter says nothing there and the command's own summary is the record. The clock is
injected so tests can drive the redraw rate.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TextIO, TypeVar

from advisor.cli.units import duration

Item = TypeVar("Item")

_CLEAR_LINE = "\r\x1b[K"


class Progress:
    """A status line: ``label: phase`` or ``label: 12,345 batches of 20,000 (62%), 3.1 s``.

    Use as a context manager; the line is cleared on exit so the summary that follows starts
    on a clean line.
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = 0.2,
    ) -> None:
        self.label = label
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self._stream)
        self._clock = clock
        self._every = every
        self._started = clock()
        self._drawn_at: float | None = None
        self.count = 0
        self.total: int | None = None
        self.unit = ""

    def phase(self, text: str) -> None:
        """Say what the command is doing now (drawn at once: phases are rare)."""
        self._draw(f"{self.label}: {text}")

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items; the line is redrawn at most every ``every`` seconds."""
        self.count += n
        now = self._clock()
        if self._drawn_at is None or now - self._drawn_at >= self._every:
            self._draw(self._counted(now), now)

    def track(self, items: Iterable[Item], unit: str, total: int | None = None) -> Iterator[Item]:
        """``items`` unchanged, counted as they pass."""
        self.unit, self.total = unit, total
        for item in items:
            yield item
            self.advance()

    def close(self) -> None:
        """Clear the line (if one was drawn)."""
        if self.enabled and self._drawn_at is not None:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
            self._drawn_at = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _counted(self, now: float) -> str:
        text = f"{self.label}: {self.count:,} {self.unit}".rstrip()
        if self.total:
            text += f" of {self.total:,} ({min(self.count / self.total, 1):.0%})"
        return f"{text}, {duration(now - self._started)}"

    def _draw(self, text: str, now: float | None = None) -> None:
        if not self.enabled:
            return
        self._stream.write(_CLEAR_LINE + text)
        self._stream.flush()
        self._drawn_at = self._clock() if now is None else now


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stand-in stream is no terminal
        return False
