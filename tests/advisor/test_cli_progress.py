"""advisor.cli.progress: a status line on a terminal, nothing in a log."""

from __future__ import annotations

import io

from advisor.cli.progress import Progress


class Terminal(io.StringIO):
    """What a terminal receives (the reporter asks isatty(), as of a real stderr)."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_it_redraws_one_line_at_most_every_interval_and_clears_it() -> None:
    screen, clock = Terminal(), Clock()

    with Progress("simulate", stream=screen, clock=clock, every=0.5) as progress:
        items = progress.track(range(3), "batches", total=4)
        next(items)
        next(items)  # draws the first count
        clock.now += 0.1
        next(items)  # counts the second, too soon to redraw
        clock.now += 1.0
        list(items)  # counts the third and redraws

    assert screen.getvalue() == (
        "\r\x1b[Ksimulate: 1 batches of 4 (25%), 0 ms"
        "\r\x1b[Ksimulate: 3 batches of 4 (75%), 1.1 s"
        "\r\x1b[K"
    )


def test_a_phase_is_drawn_at_once() -> None:
    screen = Terminal()

    with Progress("analyse", stream=screen, clock=Clock()) as progress:
        progress.phase("loading 90 days")

    assert screen.getvalue() == "\r\x1b[Kanalyse: loading 90 days\r\x1b[K"


def test_in_a_log_it_says_nothing_but_still_passes_every_item_on() -> None:
    log, clock = io.StringIO(), Clock()

    with Progress("simulate", stream=log, clock=clock, every=0.0) as progress:
        progress.phase("planning")
        seen = list(progress.track(range(1000), "batches"))

    assert seen == list(range(1000))
    assert progress.count == 1000
    assert log.getvalue() == ""
