"""The stability policy: findings open on evidence, survive brief misses, resolve when gone."""

from __future__ import annotations

import pytest

from advisor.analysis.stability import (
    DAY,
    Decision,
    Sighting,
    StabilityPolicy,
    Tracked,
    decide,
    replay,
)

HOUR = 3600.0
FLAPPING = ".###.###..#.##.#####."
"""Measured from outside on a fleet analysed every two days (issue 13): # found, . missed."""
WEAK = Sighting(0.03)  # under the analysis' alpha (0.05), far from strong
STRONG = Sighting(1e-4)
BEFORE_HYSTERESIS = StabilityPolicy(confirm_runs=1, resolve_runs=1, resolve_days=0.0)


def runs(
    pattern: str, *, every: float, found: Sighting = WEAK
) -> list[tuple[float, Sighting | None]]:
    return [(i * every, found if c == "#" else None) for i, c in enumerate(pattern)]


def statuses(decisions: list[Decision | None]) -> str:
    """One letter a run: - not stored yet, c candidate, o open, r resolved."""
    return "".join("-" if d is None else d.status[0] for d in decisions)


def events(decisions: list[Decision | None]) -> list[str]:
    return [d.event for d in decisions if d is not None and d.event is not None]


def test_the_flapping_fleet_flaps_without_hysteresis() -> None:
    decided = replay(runs(FLAPPING, every=2 * DAY), BEFORE_HYSTERESIS)

    assert statuses(decided) == "-ooorooorroroorooooor"
    assert events(decided).count("resolved") == 5
    assert events(decided).count("reopened") == 4


def test_the_flapping_fleet_opens_once_and_stays_open() -> None:
    decided = replay(runs(FLAPPING, every=2 * DAY))

    assert statuses(decided) == "-c" + "o" * 19
    assert events(decided) == ["opened"]


def test_with_strong_evidence_it_opens_on_the_first_run_and_stays_open() -> None:
    decided = replay(runs(FLAPPING, every=2 * DAY, found=STRONG))

    assert statuses(decided) == "-" + "o" * (len(FLAPPING) - 1)
    assert events(decided) == ["opened"]


def test_a_real_resolution_still_resolves_within_the_documented_delay() -> None:
    every = 2 * DAY
    gone_for_good = FLAPPING + "....."
    last_found = gone_for_good.rindex("#") * every

    decided = replay(runs(gone_for_good, every=every))

    assert statuses(decided) == "-c" + "o" * 20 + "rrrr"
    resolving = next(i for i, d in enumerate(decided) if d is not None and d.event == "resolved")
    assert resolving * every - last_found == StabilityPolicy().resolve_delay(interval=every)
    assert resolving * every - last_found == 6 * DAY
    assert events(decided) == ["opened", "resolved"]


def test_at_six_hours_a_day_of_misses_is_not_a_resolution_but_four_days_are() -> None:
    every = 6 * HOUR
    pattern = "#" * 8 + "." * 4 + "#" * 4 + "." * 20

    decided = replay(runs(pattern, every=every, found=STRONG))

    resolved_at = [i for i, d in enumerate(decided) if d is not None and d.event == "resolved"]
    assert resolved_at == [15 + 16]  # the 16th miss after the last sighting: 4 days later
    assert StabilityPolicy().resolve_delay(interval=every) == 4 * DAY
    assert statuses(decided)[:16] == "o" * 16


def test_one_missed_run_after_a_long_outage_of_the_advisor_resolves_nothing() -> None:
    before = Tracked("open", last_detected_at=0.0)

    after = decide(before, None, now=30 * DAY)

    assert after == Decision("open", None, 1)


def test_a_single_weak_sighting_stays_a_candidate_and_never_opens() -> None:
    decided = replay(runs("..#....#....#...", every=2 * DAY))

    assert set(statuses(decided)) == {"-", "c"}
    assert events(decided) == []


def test_a_resolved_finding_reopens_only_on_evidence_and_counts_the_reopen() -> None:
    pattern = "##" + "...." + "#" + "..." + "#.#"

    decided = replay(runs(pattern, every=2 * DAY))

    assert statuses(decided) == "co" + "oorr" + "r" + "rrr" + "rro"
    assert events(decided) == ["opened", "resolved", "reopened"]


def test_a_strong_sighting_reopens_a_resolved_finding_at_once() -> None:
    before = Tracked("resolved", last_detected_at=0.0, missed_runs=5, recent=(False, False))

    assert decide(before, STRONG, now=20 * DAY) == Decision("open", "reopened", 0)
    assert decide(before, WEAK, now=20 * DAY) == Decision("resolved", None, 0)


def test_a_finding_without_a_q_value_is_weak() -> None:
    assert decide(None, Sighting(None), now=0.0).status == "candidate"


def test_a_key_neither_stored_nor_found_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="never stored and not found"):
        decide(None, None, now=0.0)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"strong_q": 1.0}, "strong_q"),
        ({"confirm_runs": 4}, "confirm_runs must be 1 to confirm_window (3)"),
        ({"confirm_runs": 0}, "confirm_runs"),
        ({"resolve_runs": 0}, "resolve_runs"),
        ({"resolve_days": -1.0}, "resolve_days"),
        ({"resolve_days": float("nan")}, "resolve_days"),
    ],
)
def test_a_policy_refuses_numbers_that_make_no_sense(changes: dict[str, float], named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
        StabilityPolicy(**changes)  # type: ignore[arg-type]
