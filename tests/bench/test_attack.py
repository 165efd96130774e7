"""bench/attack.py end to end, tiny: a real advisor on loopback, every attack, both phases.

No figure is asserted (they depend on the machine): only that the benchmark runs its course,
prints both columns, a line per attack and per target, and finds nothing lost.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]

TINY = [
    "--seconds", "2", "--hosts", "3", "--rate", "6",
    "--bomb-connections", "1", "--bomb-mib", "1",
    "--slow-sockets", "4", "--compromised-sockets", "4",
    "--flood-rate", "5", "--flood-connections", "1",
]  # fmt: skip


def test_it_measures_both_phases_and_reports_every_attack_and_target() -> None:
    done = subprocess.run(
        [sys.executable, "bench/attack.py", *TINY],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^\s+baseline\s+under attack$", out, re.MULTILINE), out
    # Both columns filled: 3 hosts at 6 batches/s for 2 s send a dozen batches per phase.
    sent = re.search(r"^legit batches sent\s+(\d+)\s+(\d+)$", out, re.MULTILINE)
    assert sent is not None, out
    assert int(sent[1]) > 0
    assert int(sent[2]) > 0
    assert re.search(r"^legit latency p99\s+\S+ m?s\s+\S+", out, re.MULTILINE), out
    assert re.search(r"^advisor peak RSS\s+[\d,]+ MB\s+[\d,]+ MB$", out, re.MULTILINE), out
    for attack in ("parse bomb", "slow bodies", "compromised host", "unknown credentials"):
        line = next((s for s in out.splitlines() if s.strip().startswith(attack)), "")
        assert re.search(r"; [1-9]\d* sent: ", line), f"{attack}: {line!r}\n{out}"
    for target in ("legit p99 < 1 s", "no 429 for legit agents", "advisor peak RSS < 300 MB"):
        assert re.search(rf"^  {re.escape(target)}\s+(met|NOT met) \(", out, re.MULTILINE), out
    assert re.search(r"^stored check: \d+ batches .* 0 of them missing .*\(OK\)", out, re.M), out
