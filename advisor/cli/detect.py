"""``detect FILE``: change points of one exported series, as JSON.

The edge around :mod:`advisor.analysis`: reads the file (or stdin for ``-``), hands the bytes
to the pure parser and detector, prints the result. A bad file gets one line on stderr that
names the file and line, and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

# parameters.py holds constants only (no numpy, no scipy): cheap enough for --help.
from advisor.analysis.parameters import (
    DEFAULT_MIN_RELATIVE_SHIFT,
    DEFAULT_MIN_SIZE,
    DEFAULT_PENALTY_FACTOR,
)
from advisor.cli.args import int_at_least, non_negative_float, positive_float
from advisor.cli.common import USAGE, add_group
from advisor.config import AdvisorConfig
from advisor.text import printable

if TYPE_CHECKING:
    from advisor.analysis.changepoints import Detection
    from advisor.cli.common import Commands

DESCRIPTION = """\
Find change points in one series: the points where its level shifted for good. FILE is CSV
with the header `t,value` and one row per point in time order (t in seconds or ISO 8601;
an empty value is a missing point); `-` reads stdin. Prints {"change_points": [...]}: the
0-based row index (header not counted) of the first point of each new segment.
docs/analysis.md describes the method."""

EXAMPLES = """\
  fleetsight-advisor detect libreoffice-load-times.csv
  {"change_points": [412]}
"""


def add_parser(commands: Commands) -> None:
    """Register ``detect``."""
    parser = add_group(
        commands,
        "detect",
        help="change points of one series from a CSV file (t,value), as JSON",
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    parser.add_argument("file", metavar="FILE", help="CSV file with header t,value; - for stdin")
    parser.add_argument(
        "--min-size",
        type=int_at_least(2),
        default=DEFAULT_MIN_SIZE,
        metavar="N",
        help=f"fewest points a segment may have (default: {DEFAULT_MIN_SIZE})",
    )
    parser.add_argument(
        "--penalty-factor",
        type=positive_float,
        default=DEFAULT_PENALTY_FACTOR,
        metavar="F",
        help="penalty per change point in units of noise variance x log(points); higher finds "
        f"fewer (default: {DEFAULT_PENALTY_FACTOR})",
    )
    parser.add_argument(
        "--min-shift",
        type=non_negative_float,
        default=DEFAULT_MIN_RELATIVE_SHIFT,
        metavar="R",
        help="drop change points whose median moves by less than this share, for positive "
        f"series (default: {DEFAULT_MIN_RELATIVE_SHIFT})",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also print the segments, each shift with its 95%% interval, and the penalty",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``detect``: 0 on success, 2 for a bad or unreadable file (it needs no database)."""
    # Imported here: scipy and ruptures take a second to load, which no other command needs.
    from advisor.analysis.changepoints import detect_change_points
    from advisor.analysis.errors import SeriesFormatError
    from advisor.analysis.series_csv import parse_series_csv

    source = "<stdin>" if args.file == "-" else args.file
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        series = parse_series_csv(data, source)
    except SeriesFormatError as exc:
        return _refuse(str(exc))
    except OSError as exc:
        return _refuse(f"{source}: cannot read: {exc.strerror or exc}")
    detection = detect_change_points(
        series.values,
        min_size=args.min_size,
        penalty_factor=args.penalty_factor,
        min_relative_shift=args.min_shift,
        intervals=args.verbose,
    )
    result: dict[str, Any] = {"change_points": detection.indices}
    if args.verbose:
        result.update(_details(detection))
    print(json.dumps(result))
    return 0


def _details(detection: Detection) -> dict[str, Any]:
    def number(x: float) -> float | None:
        return None if x != x else round(x, 6)  # NaN is not JSON

    return {
        "points": detection.points,
        "observed": detection.observed,
        "scale": "log" if detection.log else "linear",
        "penalty": number(detection.penalty),
        "segments": [
            {"start": s.start, "end": s.end, "count": s.count, "median": number(s.median)}
            for s in detection.segments
        ],
        "shifts": [
            {
                "index": cp.index,
                "shift": number(cp.shift.estimate),
                "interval": [number(cp.shift.low), number(cp.shift.high)],
                **(
                    {
                        "relative": number(cp.shift.relative),
                        "relative_interval": [number(x) for x in cp.shift.relative_interval],
                    }
                    if detection.log
                    else {}
                ),
            }
            for cp in detection.change_points
        ],
    }


def _refuse(message: str) -> int:
    # The message may quote the file, which could be an export of agents' data.
    print(f"fleetsight-advisor detect: {printable(message)}", file=sys.stderr)
    return USAGE
