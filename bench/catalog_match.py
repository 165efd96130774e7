"""Catalog matching: a synthetic 10,000-host inventory matched to the endoflife.date catalog.

The catalog is the 48 shipped endoflife.date products plus aliases (``python3``,
``postgresql-15``, ``libsqlite3-0``). Each host reports --packages dpkg packages drawn without
replacement (seeded) from the real Debian 12 ``dpkg-query`` list (830 packages), as fresh
:class:`agent.shared.wire.InstalledPackage` objects, the way ingest would decode them. The timed
part is matching every host's packages (identifiers, then aliases, then the vendor version inside
each Debian version) and keeping every result; building the inventory is not timed.

Printed: hosts, packages, matched and unmatched counts, seconds for matching, packages per
second and, as the peer measured in the same run, the floor: one dict lookup of each package's
(source, name) in a set of the catalog's package identifiers, with the ratio matching / floor;
the peak of memory allocated while matching (tracemalloc, on a second, untimed pass:
tracing slows Python down) and the process's peak RSS. Target (issue 4): under 10 s.

    .venv/bin/python bench/catalog_match.py [--hosts 10000] [--packages 200] [--seed 4]
"""

from __future__ import annotations

import argparse
import random
import resource
import time
import tracemalloc
from pathlib import Path

from advisor.catalog.importers.endoflife import load_directory
from advisor.catalog.matching import Matcher, MatchResult
from agent.inventory.packages import parse_dpkg_query
from agent.shared.wire import InstalledPackage

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
ALIASES = {"dpkg:python3": "python", "dpkg:postgresql-15": "postgresql", "libsqlite3-0": "sqlite"}


def build_inventory(hosts: int, per_host: int, seed: int) -> list[list[InstalledPackage]]:
    """``hosts`` lists of ``per_host`` fresh packages drawn from the real dpkg list."""
    text = (FIXTURES / "package-managers" / "dpkg-query.debian12.tsv").read_text()
    real = parse_dpkg_query(text).packages
    rng = random.Random(seed)
    return [
        [
            InstalledPackage(p.package, p.version, p.source, p.arch)
            for p in rng.sample(real, per_host)
        ]
        for _ in range(hosts)
    ]


def match_all(matcher: Matcher, inventory: list[list[InstalledPackage]]) -> list[MatchResult]:
    return [matcher.match(packages) for packages in inventory]


def lookup_floor(known: set[tuple[str, str]], inventory: list[list[InstalledPackage]]) -> int:
    """The least any matcher must do: look each package up once; the number found."""
    return sum(
        (package.source, package.package) in known for packages in inventory for package in packages
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--packages", type=int, default=200)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    endoflife = FIXTURES / "endoflife"
    records = load_directory(endoflife / "products", endoflife / "releases")
    matcher = Matcher([record.product for record in records], ALIASES)
    inventory = build_inventory(args.hosts, args.packages, args.seed)
    total = args.hosts * args.packages

    started = time.perf_counter()
    results = match_all(matcher, inventory)
    elapsed = time.perf_counter() - started
    matched = sum(len(result.matched) for result in results)
    unmatched = sum(len(result.unmatched) for result in results)
    del results
    known = {(p.source, p.package) for packages in inventory for p in packages[:1]}
    started = time.perf_counter()
    lookup_floor(known, inventory)
    floor = time.perf_counter() - started

    tracemalloc.start()
    kept = match_all(matcher, inventory)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    print(
        f"hosts {args.hosts}, packages {total} ({args.packages} per host), products {len(records)}"
    )
    print(f"matched {matched}, unmatched {unmatched}")
    print(f"matching: {elapsed:.2f} s, {total / elapsed:,.0f} packages/s (target < 10 s)")
    print(
        f"floor (one set lookup per package, same run): {floor:.2f} s;"
        f" matching / floor {elapsed / floor:.1f}x"
    )
    print(f"peak allocated while matching (tracemalloc): {peak / 2**20:.1f} MiB")
    print(f"peak RSS of the process (inventory included): {peak_rss_kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
