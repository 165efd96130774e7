"""``fleetsight-advisor findings list|show`` on SQLite and PostgreSQL, run in-process: the
findings, their hosts by hostname, and what each costs in time and money."""

from __future__ import annotations

import csv
import doctest
import io
import itertools
import json
import time
import types
from dataclasses import replace

import pytest
import sqlalchemy as sa

import advisor.analysis.fleet
import advisor.cli.findings
import advisor.finding_costs
from advisor.analysis.daily import daily_of
from advisor.analysis.findings import Effect, Finding
from advisor.analysis.frames import FleetData
from advisor.cli import main
from advisor.cli.findings import SHOWN_HISTORY, history_rows, write_history
from advisor.cli.ids import finding_id
from advisor.store.analysis_data import SqlFleetFrames
from advisor.store.findings import FindingHistory, HistoryPoint, SqlFindings, StatusEvent
from advisor.store.job_state import SqlJobLeases
from advisor.store.sql import SqlStore
from advisor.text import printable
from tests.advisor.store.findingsdata import T0, finding, record_runs, slower_again, weak
from tests.advisor.store.fleetbatches import DAY, DAY0
from tests.advisor.store.fleetbatches import write_fleet as write_small_fleet
from tests.advisor.store.pricedfindings import (
    FASTER,
    FIN_PER_DAY,
    HR_PER_DAY,
    SLOWER,
    hours_a_month,
    money,
    write_priced_fleet,
)

LIBREOFFICE = finding()
FIREFOX = finding(
    "pressure",
    "firefox",
    {"department": "hr"},
    cause="memory",
    effect=0.4,
    departments=("hr",),
    hosts=tuple(f"hr-{i:02d}" for i in range(25)),
)
WRITER = finding("trend", "writer", {}, cause="unknown", effect=0.9)
GIMP = weak(finding("trend", "gimp", {}, cause="unknown", effect=0.3))


@pytest.fixture
def recorded(engine: sa.Engine) -> None:
    """Four runs two days apart from T0: LIBREOFFICE and FIREFOX in all (LIBREOFFICE 40 %
    slower in the second), WRITER in the first only (resolved by the fourth), GIMP on weak
    evidence in the fourth (a candidate)."""
    both = [LIBREOFFICE, FIREFOX]
    record_runs(
        SqlFindings(engine),
        [[*both, WRITER], [slower_again(LIBREOFFICE, 0.4), FIREFOX], both, [*both, GIMP]],
    )


def run(capsys: pytest.CaptureFixture[str], database_url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--database-url", database_url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_findings_list_shows_the_open_ones_largest_effect_first(
    database_url: str, recorded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "findings", "list")

    assert code == 0
    header, first, second = out.splitlines()
    assert header.split()[:5] == ["ID", "STATUS", "KIND", "APP", "EFFECT"]
    assert "  OPEN FOR  RUNS  MISSED  HOSTS  " in header
    assert first.split()[:4] == [finding_id(FIREFOX.key)[:8], "open", "pressure", "firefox"]
    assert "+40% [+35%, +45%]" in first
    assert "memory (90%)" in first
    assert first.endswith("department=hr")
    # Open 6 days as of the newest run, found by its 4 runs, none missed, 25 hosts.
    assert "  6 d          4       -     25  " in first
    assert second.split()[0] == finding_id(LIBREOFFICE.key)[:8]


def test_findings_list_filters_and_writes_csv(
    database_url: str, recorded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, database_url, "findings", "list", "--status", "all", "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))

    assert code == 0
    assert [(r["app"], r["status"]) for r in rows] == [
        ("firefox", "open"),
        ("libreoffice", "open"),
        ("writer", "resolved"),
        ("gimp", "candidate"),
    ]
    assert rows[2]["resolved_at"] == "2025-11-30T16:00:00Z"
    assert rows[2]["id"] == finding_id(WRITER.key)
    assert (rows[2]["opened_at"], rows[2]["open_for_seconds"]) == (
        "2025-11-24T16:00:00Z",
        "518400.0",
    )
    assert (rows[2]["runs_seen"], rows[2]["missed_runs"], rows[2]["reopen_count"]) == (
        "1",
        "3",
        "0",
    )
    assert (rows[3]["opened_at"], rows[3]["open_for_seconds"]) == ("", "")
    assert rows[1]["scope"] == '{"from_version": "7.5.9", "version": "7.6.4"}'
    assert (rows[1]["effect"], rows[1]["hosts"], rows[1]["departments"]) == ("0.25", "2", "finance")

    _, resolved, _ = run(capsys, database_url, "findings", "list", "--status", "resolved")
    _, candidates, _ = run(capsys, database_url, "findings", "list", "--status", "candidate")
    _, libreoffice, _ = run(
        capsys, database_url, "findings", "list", "--app", "libreoffice", "--format", "json"
    )
    _, none, _ = run(capsys, database_url, "findings", "list", "--department", "sales")

    assert [line.split()[3] for line in resolved.splitlines()[1:]] == ["writer"]
    assert [line.split()[3] for line in candidates.splitlines()[1:]] == ["gimp"]
    (listed,) = json.loads(libreoffice)["findings"]
    assert (listed["key"], listed["id"]) == (LIBREOFFICE.key, finding_id(LIBREOFFICE.key))
    assert listed["since"].endswith("Z")
    assert (listed["opened_at"], listed["open_for_seconds"], listed["runs_seen"]) == (
        "2025-11-24T16:00:00Z",
        6 * 86400.0,
        4,
    )
    assert "history" not in listed
    assert none.split()[0] == "ID"
    assert len(none.splitlines()) == 1


def test_findings_show_prints_the_evidence_and_the_first_hosts(
    database_url: str, recorded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "findings", "show", FIREFOX.key)

    assert code == 0
    assert out.splitlines()[0] == FIREFOX.key
    assert "  cause        memory (90%)\n" in out
    assert "  status       open since 2025-11-24T16:00:00Z (6 d)\n" in out
    assert (
        "  detected     first 2025-11-24T16:00:00Z, last 2025-11-30T16:00:00Z; by 4 runs\n"
    ) in out
    assert "    before  120 launches, p10 1.5 s, median 2.0 s, p90 3.0 s\n" in out
    assert "hr-19 ... and 5 more\n" in out
    _, as_json, _ = run(capsys, database_url, "findings", "show", FIREFOX.key, "--format", "json")
    assert json.loads(as_json)["hosts"][-1] == "hr-24"
    assert json.loads(as_json)["hostnames"][-1] == "hr-24"  # not enrolled: the id stands in


def test_findings_show_prints_the_history_effect_over_time_and_status_changes(
    database_url: str, recorded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "findings", "show", LIBREOFFICE.key)
    _, resolved, _ = run(capsys, database_url, "findings", "show", WRITER.key)

    assert code == 0
    history = out[out.index("  history  ") :].splitlines()
    assert history == [
        "  history      found by 4 runs, 1 status change",
        "    FROM                  TO                    WHAT    RUNS  EFFECT             HOSTS"
        "  CAUSE",
        "    2025-11-24T16:00:00Z                        found      1  +25% [+20%, +30%]      2"
        "  version (90%)",
        "    2025-11-24T16:00:00Z                        opened",
        "    2025-11-26T16:00:00Z                        found      1  +40% [+30%, +50%]      2"
        "  version (90%)",
        "    2025-11-28T16:00:00Z  2025-11-30T16:00:00Z  found      2  +25% [+20%, +30%]      2"
        "  version (90%)",
    ]
    assert "  status       resolved 2025-11-30T16:00:00Z, after 6 d open\n" in resolved
    assert resolved.splitlines()[-1].split() == ["2025-11-30T16:00:00Z", "resolved"]


def test_findings_show_as_json_includes_the_history(
    database_url: str, recorded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, database_url, "findings", "show", LIBREOFFICE.key, "--format", "json"
    )

    assert code == 0
    document = json.loads(out)
    history = document["history"]
    assert [p["detected_at"] for p in history["points"]] == [
        "2025-11-24T16:00:00Z",
        "2025-11-26T16:00:00Z",
        "2025-11-28T16:00:00Z",
        "2025-11-30T16:00:00Z",
    ]
    assert history["points"][1]["effect"]["estimate"] == 0.4
    assert (history["points"][1]["hosts"], history["points"][1]["q_value"]) == (2, None)
    assert [(e["event"], e["at"]) for e in history["events"]] == [
        ("opened", "2025-11-24T16:00:00Z")
    ]
    assert (document["status"], document["missed_runs"], document["reopen_count"]) == (
        "open",
        0,
        0,
    )


def test_findings_show_reads_the_newest_history_points_asked_for_and_says_so(
    database_url: str, recorded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "findings", "show", LIBREOFFICE.key, "--history", "2")
    _, as_json, _ = run(
        capsys,
        database_url,
        "findings",
        "show",
        LIBREOFFICE.key,
        "--history",
        "2",
        "--format",
        "json",
    )

    assert code == 0
    history = out[out.index("  history  ") :].splitlines()
    assert history[0] == (
        "  history      found by 4 runs, 1 status change; the newest 2 read (--history 4 reads all)"
    )
    assert len(history) == 2 + 2  # heading, table header, one row of 2 runs, the opened event
    document = json.loads(as_json)["history"]
    assert [p["detected_at"] for p in document["points"]] == [
        "2025-11-28T16:00:00Z",
        "2025-11-30T16:00:00Z",
    ]
    assert (document["total_points"], document["truncated"]) == (4, True)
    with pytest.raises(SystemExit) as stopped:
        main(["findings", "show", LIBREOFFICE.key, "--history", "0"])
    assert stopped.value.code == 2
    assert "--history: must be at least 1" in capsys.readouterr().err


def test_findings_show_takes_a_prefix_of_the_id_the_list_prints(
    database_url: str, recorded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "findings", "show", finding_id(WRITER.key)[:6])

    assert code == 0
    assert out.splitlines()[0] == WRITER.key
    code, out, _err = run(capsys, database_url, "findings", "show", "")
    assert (code, out) == (1, "")


def test_findings_show_refuses_a_prefix_several_ids_start_with(
    database_url: str, engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    many = [finding("trend", f"app{i}", {}, cause="unknown") for i in range(40)]
    SqlFindings(engine).record_run(many, now=T0)
    first = sorted(finding_id(f.key) for f in many)
    shared = next(a[0] for a, b in itertools.pairwise(first) if a[0] == b[0])

    code, out, err = run(capsys, database_url, "findings", "show", shared)

    assert (code, out) == (2, "")
    assert f"finding id '{shared}' is ambiguous" in err


def test_findings_show_names_the_hosts_by_their_hostnames(
    database_url: str, engine: sa.Engine, store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    token, _ = store.create_token(department="hr", expires_at=T0 * 2, now=T0)
    store.enrol(token=token, host_id="hr-00", hostname="hr-ws-zero", agent_version="1", now=T0)
    SqlFindings(engine).record_run([FIREFOX], now=T0)

    _, out, _ = run(capsys, database_url, "findings", "show", FIREFOX.key)

    assert "  hosts        25: hr-ws-zero, hr-01, " in out


def test_findings_print_the_names_agents_gave_escaped_one_finding_a_line(
    database_url: str, engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = finding(
        app="calc\x1b[2J",
        scope={"from_version": "1.0", "version": "1.1\nopen  trend"},
        hosts=("fin-1\u202e",),
        departments=("fin\x07",),
    )
    SqlFindings(engine).record_run([hostile], now=T0)

    _, table, _ = run(capsys, database_url, "findings", "list")
    _, as_csv, _ = run(capsys, database_url, "findings", "list", "--format", "csv")
    code, shown, _ = run(capsys, database_url, "findings", "show", hostile.key)

    assert code == 0
    for out in (table, as_csv, shown):
        assert not {"\x1b", "\x07", "\u202e"} & set(out)
    assert len(table.splitlines()) == 2
    assert table.splitlines()[1].endswith("from_version=1.0, version=1.1\\nopen  trend")
    assert " calc\\x1b[2J " in table
    (row,) = csv.DictReader(io.StringIO(as_csv))
    assert (row["app"], row["departments"]) == ("calc\\x1b[2J", "fin\\x07")
    assert shown.splitlines()[0] == printable(hostile.key)
    assert "  app          calc\\x1b[2J (version_change; from_version=1.0, version=1.1\\n" in shown
    assert "  hosts        1: fin-1\\u202e\n" in shown


def test_findings_show_of_an_unknown_key_exits_1_naming_it(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, database_url, "findings", "show", "trend|nothing")

    assert (code, out) == (1, "")
    assert "no finding 'trend|nothing'" in err


def test_a_bad_status_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["findings", "list", "--status", "closed"])

    assert stopped.value.code == 2
    assert "invalid choice: 'closed'" in capsys.readouterr().err


def test_analyse_refuses_a_date_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["analyse", "--at", "yesterday"])

    assert stopped.value.code == 2
    assert "'yesterday' is not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_the_help_explains_the_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["findings", "--help"])

    assert "resolved once missed by 3 runs in a row over at least 4 days" in " ".join(
        capsys.readouterr().out.split()
    )


def test_the_list_offers_every_status_of_the_store(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["findings", "list", "--help"])

    assert "{open,resolved,candidate,all}" in capsys.readouterr().out


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replaces the analysis with one that finds LIBREOFFICE (in its part); lists the ``now``
    each part got."""
    calls: list[float] = []

    def analyse(data: FleetData, *, now: float, params: object = None) -> list[Finding]:
        calls.append(now)
        return [LIBREOFFICE] if LIBREOFFICE.app in daily_of(data).apps else []

    monkeypatch.setattr(advisor.analysis.fleet, "analyse", analyse)
    return calls


def test_analyse_at_a_date_analyses_up_to_the_end_of_that_day_and_prints_a_summary(
    database_url: str, store: SqlStore, stand_in: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    write_small_fleet(store)

    code, out, _ = run(capsys, database_url, "analyse", "--at", "2025-11-29", "--window-days", "7")

    assert code == 0
    assert stand_in == [DAY0 + 6 * DAY] * 2  # a part per app
    lines = out.splitlines()
    assert lines[0].startswith(
        "analysed 6 launches of 2 hosts and 2 apps (2 parts), 7 days up to "
        "2025-11-30T00:00:00Z (load "
    )
    assert lines[1] == (
        "findings: 1 new, 0 updated, 0 reopened, 0 resolved; 1 open (1 version_change)"
    )
    assert lines[2] == "see them with `fleetsight-advisor findings list`"


def test_analyse_says_what_waits_for_confirmation_and_what_is_open_but_not_found(
    database_url: str,
    engine: sa.Engine,
    store: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_small_fleet(store)
    SqlFindings(engine).record_run([WRITER], now=DAY0 + 5 * DAY)

    seen_once = weak(finding("trend", "firefox", {}, cause="unknown", effect=0.3))

    def analyse(data: FleetData, *, now: float, params: object = None) -> list[Finding]:
        return [seen_once] if daily_of(data).apps == ["firefox"] else []

    monkeypatch.setattr(advisor.analysis.fleet, "analyse", analyse)

    code, out, _ = run(capsys, database_url, "analyse", "--at", "2025-11-29", "--window-days", "7")

    assert code == 0
    assert out.splitlines()[1] == (
        "findings: 0 new, 0 updated, 0 reopened, 0 resolved; 1 open (1 trend); "
        "1 awaiting confirmation; 1 open not found this run"
    )


def test_jobs_run_analysis_runs_it_like_the_scheduled_job(
    database_url: str, store: SqlStore, stand_in: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    write_small_fleet(store)

    SqlFindings(store.engine).record_run([LIBREOFFICE], now=DAY0 + 5 * DAY)

    code, out, _ = run(capsys, database_url, "jobs", "run", "analysis")

    # Now is long after the fleet: no launches in the window, but a part for the open
    # finding's app (missed: not resolved on one run).
    assert code == 0
    assert out == "analysis: done (0 launches, 0 findings)\n"
    assert len(stand_in) == 1


def test_analyse_leaves_the_parts_another_advisor_is_analysing(
    database_url: str,
    engine: sa.Engine,
    store: SqlStore,
    stand_in: list[float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_small_fleet(store)
    for part in SqlFleetFrames(engine).parts(now=DAY0 + 6 * DAY, days=90):
        assert SqlJobLeases(engine).claim(
            f"analysis/{part}", owner="other:1:abc", now=time.time(), lease_seconds=600
        )

    code, out, _ = run(capsys, database_url, "analyse", "--at", "2025-11-29")

    assert (code, stand_in) == (0, [])
    assert out == "analysis: another advisor is running it now; nothing done\n"


def test_a_failed_analysis_exits_1_with_the_reason(
    database_url: str,
    store: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_small_fleet(store)

    def broken(data: FleetData, *, now: float, params: object = None) -> list[Finding]:
        raise ValueError("no cells")

    monkeypatch.setattr(advisor.analysis.fleet, "analyse", broken)

    code, out, err = run(capsys, database_url, "analyse", "--at", "2025-11-29")

    assert (code, out) == (1, "")
    assert err == (
        "fleetsight-advisor: analysis failure: 2 parts failed; first: ValueError: no cells\n"
    )


def test_analyse_with_no_launches_and_no_findings_says_there_was_nothing_to_analyse(
    database_url: str, stand_in: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "analyse")

    assert (code, stand_in) == (0, [])
    assert out.startswith("nothing to analyse: no launches in the 90 days up to ")


def point(run_id: int | None, effect: float = 0.25, hosts: int = 2) -> HistoryPoint:
    at = T0 + (run_id or 0) * 86400.0
    return HistoryPoint(
        at, run_id, Effect(effect, effect - 0.05, effect + 0.05), 0.01, hosts, "cpu", 0.8
    )


def test_history_rows_join_runs_that_follow_each_other_with_the_same_figures() -> None:
    history = FindingHistory(
        points=(
            point(1),
            point(2),
            point(3, effect=0.251),  # the same as shown: +25%
            point(5),  # run 4 missed it
            point(6, hosts=3),
            point(7, hosts=3),
            point(8, hosts=3),
        ),
        events=(
            StatusEvent(T0 + 2 * 86400.0, "opened", 2),
            StatusEvent(T0 + 11 * 86400.0, "resolved", 11),
        ),
    )

    rows = history_rows(history)

    assert [
        (r.event or "found", r.runs, (r.first - T0) / 86400, (r.last - T0) / 86400) for r in rows
    ] == [
        ("found", 2, 1, 2),
        ("opened", 0, 2, 2),  # after the point of its run: the run found it, then opened it
        ("found", 1, 3, 3),
        ("found", 1, 5, 5),
        ("found", 3, 6, 8),
        ("resolved", 0, 11, 11),
    ]


def test_history_rows_join_the_runs_of_the_findings_app_whatever_ran_between() -> None:
    def seen(run_id: int, missed_before: int | None) -> HistoryPoint:
        return replace(point(run_id), missed_before=missed_before)

    # Runs of other apps' parts between (ids 3..9, 11..): only missed_before says a miss.
    history = FindingHistory(points=(seen(2, None), seen(10, 0), seen(20, 0), seen(30, 1)))

    rows = history_rows(history)

    assert [(r.runs, (r.first - T0) / 86400) for r in rows] == [(3, 2), (1, 30)]


def test_history_points_a_migration_wrote_stand_alone() -> None:
    rows = history_rows(FindingHistory(points=(point(None), point(None))))

    assert [r.runs for r in rows] == [1, 1]


def test_a_long_history_shows_its_newest_rows_and_says_how_many_are_left_out() -> None:
    history = FindingHistory(points=tuple(point(2 * i, effect=0.2 + i / 100) for i in range(60)))
    out = io.StringIO()

    write_history(history, out)

    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "  history      found by 60 runs, 0 status changes; "
        f"{60 - SHOWN_HISTORY} earlier rows not shown (--format json has them)"
    )
    assert len(lines) == 2 + SHOWN_HISTORY
    assert "+79% [+74%, +84%]" in lines[-1]


@pytest.fixture
def priced(store: SqlStore) -> None:
    """SLOWER and FASTER on the small fleet, its launches measured and its wages imported."""
    write_priced_fleet(store, found=(SLOWER, FASTER))


def test_findings_list_shows_seconds_a_launch_hours_a_month_and_money_a_year(
    database_url: str, priced: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "findings", "list")

    assert code == 0
    header, *rows = out.splitlines()
    assert "  EFFECT             PER LAUNCH  HOURS/MONTH  MONEY/YEAR  CAUSE  " in header
    (slower,) = [r for r in rows if r.startswith(finding_id(SLOWER.key)[:8])]
    (faster,) = [r for r in rows if r.startswith(finding_id(FASTER.key)[:8])]
    assert "  +25% [+20%, +30%]     +0.50 s        0.1 h      USD 49  version (90%)  " in slower
    # Faster: time and money saved, negative.
    assert "  -20% [-25%, -15%]     -0.40 s       -0.1 h     USD -40  unknown (90%)  " in faster


def test_findings_list_writes_the_cost_exact_in_csv_and_json(
    database_url: str, priced: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, as_csv, _ = run(capsys, database_url, "findings", "list", "--format", "csv")
    _, as_json, _ = run(capsys, database_url, "findings", "list", "--format", "json")

    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(as_csv))}
    slower, faster = rows[SLOWER.key], rows[FASTER.key]
    launches = FIN_PER_DAY + HR_PER_DAY
    assert (slower["seconds_per_launch"], slower["seconds_per_launch_low"]) == ("0.5", "0.4")
    assert (slower["launches_per_day"], slower["hosts_without_launches"]) == (
        repr(launches),
        "0",
    )
    assert float(slower["hours_per_month"]) == pytest.approx(hours_a_month(0.5, launches))
    assert (slower["money_per_year"], slower["currency"]) == (
        str(money(0.5, FIN_PER_DAY, "45.00") + money(0.5, HR_PER_DAY, "30.00")),
        "USD",
    )
    assert faster["money_per_year"].startswith("-")  # a number: no formula apostrophe
    documents = {f["key"]: f for f in json.loads(as_json)["findings"]}
    impact = documents[SLOWER.key]["impact"]
    assert impact["money_per_year"]["estimate"] == slower["money_per_year"]
    assert impact["as_of"] == "2025-11-27T00:00:00Z"
    assert [d["department"] for d in impact["by_department"]] == ["finance", "hr"]
    assert documents[SLOWER.key]["host_details"][1] == {
        "host_id": "hr-1",
        "hostname": "hr-1.example",
        "department": "hr",
    }


def test_findings_show_says_what_a_finding_costs_and_what_a_faster_one_saves(
    database_url: str, priced: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, slower, _ = run(capsys, database_url, "findings", "show", SLOWER.key)
    _, faster, _ = run(capsys, database_url, "findings", "show", FASTER.key)

    assert code == 0
    assert (
        "  cost         +0.50 s a launch [0.40, 0.60], 32 launches a day on 2 hosts, 0.1 h a"
        " month, USD 49 a\n"
        "               year [40, 59] (finance 3.8 at 45.00/h, hr 46 at an estimated 30.00/h)\n"
        "               launches counted over the 90 days up to 2025-11-27T00:00:00Z\n"
    ) in slower
    assert (
        "  saves        0.40 s a launch [0.30, 0.50], 32 launches a day on 2 hosts, 0.1 h a"
        " month, USD 40 a\n"
        "               year [30, 49] (finance 3.0 at 45.00/h, hr 37 at an estimated 30.00/h)\n"
    ) in faster
    assert "  hosts        2: fin-1.example, hr-1.example\n" in slower


def test_findings_show_without_cost_settings_says_how_to_import_them(
    database_url: str, store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    write_priced_fleet(store, found=(SLOWER,), costs=False)

    code, shown, _ = run(capsys, database_url, "findings", "show", SLOWER.key)
    _, listed, _ = run(capsys, database_url, "findings", "list")

    assert code == 0
    assert (
        "  cost         +0.50 s a launch [0.40, 0.60], 32 launches a day on 2 hosts, 0.1 h a"
        " month\n"
    ) in shown
    assert "no cost settings imported: money is not shown until `fleetsight-advisor" in shown
    assert "     +0.50 s        0.1 h           -  " in listed.splitlines()[1]


def test_a_finding_with_hosts_that_launched_nothing_says_how_many(
    database_url: str, store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    write_priced_fleet(store, found=(replace(SLOWER, hosts=("fin-1", "hr-1", "gone-7")),))

    _, shown, _ = run(capsys, database_url, "findings", "show", SLOWER.key)

    assert "32 launches a day on 3 hosts" in shown
    assert (
        "               launches counted over the 90 days up to 2025-11-27T00:00:00Z; 1 of 3"
        " hosts without\n"
        "                 launches\n"
    ) in shown


@pytest.mark.parametrize("module", [advisor.cli.findings, advisor.finding_costs])
def test_the_examples_in_the_docstrings_hold(module: types.ModuleType) -> None:
    result = doctest.testmod(module)

    assert result.attempted > 0
    assert result.failed == 0
