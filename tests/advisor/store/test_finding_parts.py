"""Findings recorded by part (some apps per run) on SQLite and PostgreSQL: a part's run reads,
misses, resolves and drops only its apps' findings, and the policy counts only the runs that
analysed a finding's app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from advisor.store.findings import RUNS, FindingFilter, Findings, SqlFindings, part_name
from tests.advisor.store.findingsdata import DAY, T0, finding, record_runs, weak

HOUR = 3600.0
CALC = finding()  # app libreoffice
FIREFOX = finding("pressure", "firefox", {"department": "hr"}, cause="memory", effect=0.4)
GIMP = finding("trend", "gimp", {}, cause="unknown", effect=0.3)


def status(findings: Findings, key: str) -> tuple[str, int] | None:
    stored = findings.get(key)
    return None if stored is None else (stored.status, stored.missed_runs)


def test_two_parts_with_other_apps_leave_each_others_findings_alone(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([CALC], now=T0, apps=["libreoffice"])
    first = findings.record_run([FIREFOX], now=T0 + HOUR, apps=["firefox"])

    # Firefox's part finds nothing, run after run, until its finding is resolved.
    misses = record_runs(findings, [[]] * 3, start=T0 + 2 * DAY, apps=["firefox"])

    assert (first.new, first.missing, first.open) == (1, 0, 2)
    assert [(s.missing, s.resolved, s.open) for s in misses] == [(1, 0, 2), (1, 0, 2), (0, 1, 1)]
    assert status(findings, FIREFOX.key) == ("resolved", 3)
    assert status(findings, CALC.key) == ("open", 0)
    assert findings.history(CALC.key).stored_points == 1
    assert misses[-1].open_by_kind == {"version_change": 1}  # the fleet's, not the part's


def test_a_parts_misses_resolve_its_findings_after_the_policys_runs_and_days(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([CALC, GIMP], now=T0, apps=["libreoffice", "gimp"])
    # Runs of another part in between, many and days apart, count for neither finding.
    record_runs(findings, [[FIREFOX]] * 8, start=T0 + HOUR, every=DAY, apps=["firefox"])
    assert (status(findings, CALC.key), status(findings, GIMP.key)) == (("open", 0), ("open", 0))

    misses = record_runs(
        findings, [[GIMP]] * 3, start=T0 + 10 * DAY, every=HOUR, apps=["gimp", "libreoffice"]
    )

    # Missed by three runs of its part, and last found 10 days ago: gone on the third miss.
    assert [s.resolved for s in misses] == [0, 0, 1]
    calc = findings.get(CALC.key)
    assert calc is not None
    assert (calc.status, calc.resolved_at, calc.missed_runs) == (
        "resolved",
        T0 + 10 * DAY + 2 * HOUR,
        3,
    )
    assert status(findings, GIMP.key) == ("open", 0)
    assert [s.part for s in misses] == ["gimp, libreoffice"] * 3
    assert misses[0].apps == ("gimp", "libreoffice")


def test_a_part_waits_for_the_days_as_a_whole_fleet_run_does(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([CALC], now=T0, apps=["libreoffice"])

    misses = record_runs(findings, [[]] * 4, start=T0 + HOUR, every=HOUR, apps=["libreoffice"])

    assert [s.resolved for s in misses] == [0, 0, 0, 0]
    assert status(findings, CALC.key) == ("open", 4)


def test_a_weak_finding_opens_on_its_parts_second_sighting_whatever_ran_in_between(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([weak(CALC)], now=T0, apps=["libreoffice"])
    record_runs(findings, [[FIREFOX]] * 5, start=T0 + HOUR, every=HOUR, apps=["firefox"])
    findings.record_run([], now=T0 + DAY, apps=["libreoffice"])

    again = findings.record_run([weak(CALC)], now=T0 + 2 * DAY, apps=["libreoffice"])

    # Found in 2 of the last 3 runs of its app: the firefox runs are not its runs.
    assert (again.new, again.pending) == (1, 0)
    assert status(findings, CALC.key) == ("open", 0)


def test_a_candidate_expires_after_misses_of_its_own_part_only(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([weak(CALC)], now=T0, apps=["libreoffice"])
    others = record_runs(findings, [[FIREFOX]] * 4, start=T0 + HOUR, apps=["firefox"])
    assert status(findings, CALC.key) == ("candidate", 0)
    assert [s.expired for s in others] == [0] * 4

    own = record_runs(findings, [[]] * 2, start=T0 + 10 * DAY, apps=["libreoffice"])

    assert [s.expired for s in own] == [0, 1]
    assert findings.get(CALC.key) is None


def test_whole_fleet_runs_count_for_every_app_beside_parts(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([CALC, FIREFOX], now=T0)
    findings.record_run([FIREFOX], now=T0 + 2 * DAY)  # the whole fleet: a miss of CALC
    findings.record_run([], now=T0 + 3 * DAY, apps=["firefox"])
    findings.record_run([], now=T0 + 4 * DAY, apps=["libreoffice"])

    gone = findings.record_run([], now=T0 + 6 * DAY, apps=["libreoffice"])

    assert gone.resolved == 1
    assert status(findings, CALC.key) == ("resolved", 3)
    assert status(findings, FIREFOX.key) == ("open", 1)
    newest, *_, oldest = findings.last_runs()
    assert (oldest.part, oldest.apps) == (None, None)
    assert (newest.part, newest.apps) == ("libreoffice", ("libreoffice",))


def test_history_points_count_the_misses_of_their_apps_runs_between_them(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([CALC], now=T0, apps=["libreoffice"])
    findings.record_run([FIREFOX], now=T0 + HOUR, apps=["firefox"])
    findings.record_run([CALC], now=T0 + DAY, apps=["libreoffice"])
    findings.record_run([], now=T0 + 2 * DAY)
    findings.record_run([], now=T0 + 3 * DAY, apps=["libreoffice"])
    findings.record_run([CALC], now=T0 + 4 * DAY, apps=["libreoffice"])

    points = findings.history(CALC.key).points

    assert [p.missed_before for p in points] == [None, 0, 2]
    assert [p.to_dict()["missed_before"] for p in points] == [None, 0, 2]


def test_a_run_of_a_part_refuses_findings_of_other_apps_and_an_empty_part(
    findings: Findings, engine: sa.Engine
) -> None:
    with pytest.raises(ValueError, match="outside the part 'firefox'"):
        findings.record_run([FIREFOX, CALC], now=T0, apps=["firefox"])
    with pytest.raises(ValueError, match="at least one app"):
        findings.record_run([], now=T0, apps=[])

    assert findings.last_runs() == []
    assert findings.find(FindingFilter(status=None)) == []


def test_a_part_is_named_by_its_apps_in_any_order(findings: Findings, engine: sa.Engine) -> None:
    summary = findings.record_run([FIREFOX], now=T0, apps=["firefox", "calc", "firefox"])

    assert (summary.part, summary.apps) == ("calc, firefox", ("calc", "firefox"))
    assert summary.part == part_name(["calc", "firefox"])
    (run,) = findings.last_runs()
    assert (run.part, run.apps, run.new) == ("calc, firefox", ("calc", "firefox"), 1)


def test_tracked_apps_are_those_with_an_open_or_candidate_finding(
    findings: Findings, engine: sa.Engine
) -> None:
    assert findings.tracked_apps() == []
    writer = finding("trend", "writer", {}, cause="unknown", effect=0.9)
    record_runs(findings, [[writer, FIREFOX], [FIREFOX], [FIREFOX], [FIREFOX, weak(GIMP)]])

    assert status(findings, writer.key) == ("resolved", 3)
    assert findings.tracked_apps() == ["firefox", "gimp"]


# -- the SQL implementation's own: its tables, and what PostgreSQL locks ----------------------


def test_a_whole_fleet_run_leaves_its_part_and_apps_null(engine: sa.Engine) -> None:
    findings = SqlFindings(engine)
    findings.record_run([CALC], now=T0)
    findings.record_run([FIREFOX], now=T0 + HOUR, apps=["firefox"])

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(RUNS.c.part, RUNS.c.apps.is_(None), RUNS.c.findings_expired).order_by(
                RUNS.c.id
            )
        ).all()

    assert [tuple(row) for row in rows] == [(None, True, 0), ("firefox", False, 0)]


# -- the SQL implementation's own: what PostgreSQL locks -------------------------------------


class Paused:
    """Holds a ``record_run`` of this thread's choosing just after it has locked its part's
    findings, until :meth:`release`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.holding = threading.Event()
        self._go = threading.Event()
        self._thread: int | None = None

    def pause(self, thread: int) -> None:
        self._thread = thread

    def release(self) -> None:
        self._go.set()

    def after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == self._thread and "FOR UPDATE" in statement:
            self.holding.set()
            assert self._go.wait(30), "never released"


@pytest.fixture
def paused(engine: sa.Engine) -> Iterator[Paused]:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises every writer: runs are never recorded side by side")
    made = Paused(engine)
    event.listen(engine, "after_cursor_execute", made.after)
    try:
        yield made
    finally:
        made.release()
        event.remove(engine, "after_cursor_execute", made.after)


def in_thread(
    paused: Paused, work: Any, *, pause: bool = False
) -> tuple[threading.Thread, list[Any]]:
    done: list[Any] = []

    def run() -> None:
        if pause:
            paused.pause(threading.get_ident())
        try:
            done.append(work())
        except Exception as exc:  # handed to the test
            done.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


def test_parts_with_other_apps_are_recorded_side_by_side_on_postgresql(
    engine: sa.Engine, paused: Paused
) -> None:
    findings = SqlFindings(engine)
    record_runs(findings, [[CALC, FIREFOX]])
    slow, slow_done = in_thread(
        paused,
        lambda: findings.record_run([], now=T0 + 2 * DAY, apps=["libreoffice"]),
        pause=True,
    )
    assert paused.holding.wait(10)

    # The libreoffice part is half-way, its findings locked: firefox's part goes through.
    beside = findings.record_run([], now=T0 + 2 * DAY, apps=["firefox"])
    paused.release()
    slow.join(10)

    assert not slow.is_alive()
    assert (beside.missing, slow_done[0].missing) == (1, 1)
    assert status(findings, CALC.key) == status(findings, FIREFOX.key) == ("open", 1)


def test_runs_sharing_an_app_follow_each_other_on_postgresql(
    engine: sa.Engine, paused: Paused
) -> None:
    findings = SqlFindings(engine)
    record_runs(findings, [[CALC, FIREFOX]])
    slow, slow_done = in_thread(
        paused,
        lambda: findings.record_run([weak(GIMP)], now=T0 + 2 * DAY, apps=["gimp", "libreoffice"]),
        pause=True,
    )
    assert paused.holding.wait(10)
    fleet, fleet_done = in_thread(paused, lambda: findings.record_run([], now=T0 + 3 * DAY))
    same_app, same_done = in_thread(
        paused, lambda: findings.record_run([weak(GIMP)], now=T0 + 3 * DAY, apps=["gimp"])
    )

    fleet.join(1)
    same_app.join(0.5)
    # Waiting, not failing.
    assert fleet.is_alive()
    assert same_app.is_alive()
    paused.release()
    for thread in (slow, fleet, same_app):
        thread.join(20)
        assert not thread.is_alive()

    summaries = [slow_done[0], fleet_done[0], same_done[0]]
    assert not [s for s in summaries if isinstance(s, Exception)]
    gimp = findings.get(GIMP.key)
    assert gimp is not None
    # Found by the slow run and by the gimp part, missed by at most the fleet run between
    # them: two sightings in three runs, whichever order the waiting runs went in.
    assert (gimp.status, gimp.runs_seen) == ("open", 2)
    assert status(findings, CALC.key) == ("open", 2)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(RUNS)).scalar_one() == 4
