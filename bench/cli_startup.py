"""How long ``fleetsight-advisor --help`` takes, against a bare interpreter (``python -c pass``).

The parser is built from light modules only (advisor/cli/__init__.py says why); this prints
the median of several runs of each and their ratio, and, with ``--against REV``, the same for
the tree of an earlier commit (extracted with ``git archive`` into a temporary directory, run
with this interpreter). tests/advisor/test_cli_startup.py holds the line without timing.

    .venv/bin/python bench/cli_startup.py
    .venv/bin/python bench/cli_startup.py --runs 20 --against HEAD
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def median_seconds(argv: Sequence[str], runs: int, cwd: Path, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def tree_of(revision: str, into: Path) -> Path:
    archive = into / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", revision], cwd=REPO, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each (default: 10)")
    parser.add_argument("--against", metavar="REV", help="also time the tree of this commit")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    help_argv = [sys.executable, "-m", "advisor", "--help"]
    bare = median_seconds([sys.executable, "-c", "pass"], args.runs, REPO, env)
    now = median_seconds(help_argv, args.runs, REPO, env)
    print(f"python -c pass                 {bare * 1000:7.0f} ms")
    print(f"fleetsight-advisor --help      {now * 1000:7.0f} ms  ({now / bare:.1f}x python)")
    if args.against:
        with tempfile.TemporaryDirectory() as scratch:
            tree = tree_of(args.against, Path(scratch))
            before = median_seconds(help_argv, args.runs, tree, {**env, "PYTHONPATH": str(tree)})
        print(
            f"  at {args.against:<26} {before * 1000:7.0f} ms  ({before / bare:.1f}x python; "
            f"now {before / now:.1f}x faster)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
