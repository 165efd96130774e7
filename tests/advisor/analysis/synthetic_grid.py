"""The synthetic grid the change-point detector's noise model was chosen on (never TCPD).

Every series is a log load time: a mean (flat, a straight drift, a bend, an arch), a cycle
(none, weekly on daily points, yearly on monthly ones), at most one step of 20 or 35 %
at 60 % of the series, and noise whose marginal standard deviation is ``SIGMA`` (0.1, a
10 % spread): independent, AR(1) with phi 0.3, 0.6 or 0.9, or a random walk plus
independent noise; innovations are Student-t(4), plus 1 % outliers 3-10 times slower.
A step is found when exactly one change point lies within ``MARGIN`` points of it; a
series has a false change point when any lies farther away (on a series without a step,
any change point at all).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m tests.advisor.analysis.synthetic_grid [--seeds 50]

prints the table that docs/analysis.md quotes; the tests in test_serial_noise.py hold the
detector to a few of its cells.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import signal

FloatArray = npt.NDArray[np.float64]

SIGMA = 0.1
MARGIN = 5
STEP_AT = 0.6
OUTLIERS = 0.01
RANDOM_WALK_SHARE = 0.1  # the walk's step, in units of SIGMA
NOISES = ("iid", "ar0.3", "ar0.6", "ar0.9", "walk")
SHAPES = ("flat", "line", "bend", "arch")
CYCLES = ("none", "weekly", "yearly")
STEPS = (0.0, 0.2, 0.35)
LENGTHS = (90, 300, 1000)
WEEKDAYS = np.array([0.12, 0.04, 0.0, -0.02, -0.14, 0.0, 0.0])

Detector = Callable[[FloatArray], list[int]]


@dataclass(frozen=True, slots=True)
class Cell:
    """One kind of series: its noise, mean, cycle, step (relative, 0 for none) and length."""

    noise: str
    shape: str
    cycle: str
    step: float
    n: int

    @property
    def truth(self) -> list[int]:
        return [int(STEP_AT * self.n)] if self.step else []


@dataclass(frozen=True, slots=True)
class Score:
    """Of a cell's series: the share whose step was found and the share with a false one."""

    cell: Cell
    found: float
    false: float
    seconds: float


def t_innovations(rng: np.random.Generator, n: int) -> FloatArray:
    """Student-t(4) scaled to unit variance."""
    return np.asarray(rng.standard_t(4, n) / math.sqrt(2), dtype=np.float64)


def ar1(rng: np.random.Generator, n: int, phi: float) -> FloatArray:
    """Stationary AR(1) noise of unit marginal variance, from the first point on."""
    e = t_innovations(rng, n) * math.sqrt(1 - phi**2)
    start = t_innovations(rng, 1)[0] * phi  # x[-1] drawn from the stationary law
    out, _ = signal.lfilter([1.0], [1.0, -phi], e, zi=[start])
    return np.asarray(out, dtype=np.float64)


def noise(rng: np.random.Generator, n: int, kind: str) -> FloatArray:
    """Log-scale noise of marginal standard deviation ``SIGMA`` (the walk's own grows)."""
    if kind == "iid":
        base = t_innovations(rng, n)
    elif kind.startswith("ar"):
        base = ar1(rng, n, float(kind[2:]))
    elif kind == "walk":
        base = t_innovations(rng, n) + RANDOM_WALK_SHARE * np.cumsum(t_innovations(rng, n))
    else:
        raise ValueError(f"unknown noise {kind!r}")
    values = SIGMA * base
    hit = rng.random(n) < OUTLIERS
    values[hit] += np.log(rng.uniform(3.0, 10.0, int(hit.sum())))
    return values


def mean(n: int, shape: str) -> FloatArray:
    """The slow part: flat, +40 % in a straight line, flat then +40 % from the middle, or up
    by 30 % and back down (an arch)."""
    x = np.arange(n) / n
    if shape == "flat":
        return np.zeros(n)
    if shape == "line":
        return math.log(1.4) * x
    if shape == "bend":
        return math.log(1.4) * 2 * np.maximum(x - 0.5, 0.0)
    if shape == "arch":
        return math.log(1.3) * 4 * x * (1 - x)
    raise ValueError(f"unknown shape {shape!r}")


def cycle(n: int, kind: str) -> FloatArray:
    """A weekday pattern of daily points, or a yearly sine of monthly ones (amplitude 0.15)."""
    if kind == "none":
        return np.zeros(n)
    if kind == "weekly":
        return np.asarray(np.tile(WEEKDAYS, n // 7 + 1)[:n], dtype=np.float64)
    if kind == "yearly":
        return 0.15 * np.sin(2 * np.pi * np.arange(n) / 12)
    raise ValueError(f"unknown cycle {kind!r}")


def series(cell: Cell, seed: int) -> FloatArray:
    """One load-time series (seconds, around 1) of ``cell``."""
    rng = np.random.default_rng(seed)
    level = mean(cell.n, cell.shape) + cycle(cell.n, cell.cycle) + noise(rng, cell.n, cell.noise)
    if cell.step:
        level[cell.truth[0] :] += math.log1p(cell.step)
    return np.exp(level)


def judge(found: Sequence[int], truth: Sequence[int]) -> tuple[bool, bool]:
    """``(found, false)``: the step found once within ``MARGIN``; a change point elsewhere."""
    near = [i for i in found if any(abs(i - t) <= MARGIN for t in truth)]
    return len(near) == len(truth) == len(found), len(near) < len(found)


def default_detector(values: FloatArray) -> list[int]:
    from advisor.analysis.changepoints import detect_change_points

    return detect_change_points(values, intervals=False).indices


def score(cell: Cell, seeds: Iterable[int], detect: Detector = default_detector) -> Score:
    found = false = count = 0
    started = time.process_time()
    for seed in seeds:
        hit, wrong = judge(detect(series(cell, seed)), cell.truth)
        found += hit
        false += wrong
        count += 1
    seconds = (time.process_time() - started) / max(count, 1)
    return Score(cell, found / count, false / count, seconds)


def grid() -> list[Cell]:
    """Every noise x mean x step x length without a cycle; the cycles on flat means with
    independent and AR(0.6) noise."""
    plain = [
        Cell(noise, shape, "none", step, n)
        for noise, shape, step, n in itertools.product(NOISES, SHAPES, STEPS, LENGTHS)
    ]
    cyclic = [
        Cell(noise, "flat", kind, step, n)
        for kind, noise, step, n in itertools.product(CYCLES[1:], ("iid", "ar0.6"), STEPS, LENGTHS)
    ]
    return plain + cyclic


def _score_cell(args: tuple[Cell, int]) -> Score:
    cell, seeds = args
    return score(cell, range(seeds))


def run(cells: Sequence[Cell], seeds: int, jobs: int) -> list[Score]:
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_score_cell, [(c, seeds) for c in cells], chunksize=4))


def table(scores: Sequence[Score]) -> str:
    """Per noise and mean (cycles apart): found / false, in %, per step size, over lengths."""
    lines = [
        "| noise | mean | cycle | no step: false | 20 %: found / false | 35 %: found / false |"
    ]
    lines.append("|---|---|---|---|---|---|")
    groups: dict[tuple[str, str, str], dict[float, list[Score]]] = {}
    for s in scores:
        key = (s.cell.noise, s.cell.shape, s.cell.cycle)
        groups.setdefault(key, {}).setdefault(s.cell.step, []).append(s)
    for (noise_kind, shape, kind), by_step in groups.items():
        cells = []
        for step in STEPS:
            rows = by_step.get(step, [])
            fp = "/".join(f"{100 * r.false:.0f}" for r in rows)
            if step:
                hit = "/".join(f"{100 * r.found:.0f}" for r in rows)
                cells.append(f"{hit} / {fp}")
            else:
                cells.append(fp)
        lines.append(f"| {noise_kind} | {shape} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    scores = run(grid(), args.seeds, args.jobs)
    print(f"{args.seeds} series per cell; lengths {'/'.join(map(str, LENGTHS))} in each entry")
    print(table(scores))
    steps = [s for s in scores if s.cell.step]
    nulls = [s for s in scores if not s.cell.step]
    print(
        f"\nmean found {100 * statistics.fmean(s.found for s in steps):.1f} %, "
        f"false (no step) {100 * statistics.fmean(s.false for s in nulls):.1f} %, "
        f"false (with step) {100 * statistics.fmean(s.false for s in steps):.1f} %"
    )
    for n in LENGTHS:
        per = [s.seconds for s in scores if s.cell.n == n]
        print(f"{n} points: {1000 * statistics.fmean(per):.1f} ms CPU a series")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
