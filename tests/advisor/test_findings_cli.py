"""``fleetsight-advisor findings list|show`` on SQLite and PostgreSQL, run in-process."""

from __future__ import annotations

import csv
import io
import itertools
import json
import time

import pytest
import sqlalchemy as sa

import advisor.analysis.fleet
from advisor.analysis.findings import Finding
from advisor.analysis.frames import FleetData
from advisor.cli import main
from advisor.cli.ids import finding_id
from advisor.store.findings import SqlFindings
from advisor.store.job_state import SqlJobLeases
from advisor.store.sql import SqlStore
from advisor.text import printable
from tests.advisor.store.findingsdata import T0, finding
from tests.advisor.store.fleetbatches import DAY, DAY0
from tests.advisor.store.fleetbatches import write_fleet as write_small_fleet

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


@pytest.fixture
def recorded(engine: sa.Engine) -> None:
    SqlFindings(engine).record_run([LIBREOFFICE, FIREFOX, WRITER], now=T0)
    SqlFindings(engine).record_run([LIBREOFFICE, FIREFOX], now=T0 + 3600)


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
    assert first.split()[:4] == [finding_id(FIREFOX.key)[:8], "open", "pressure", "firefox"]
    assert "+40% [+35%, +45%]" in first
    assert "memory (90%)" in first
    assert first.endswith("department=hr")
    assert "   25  " in first
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
    ]
    assert rows[2]["resolved_at"] == "2025-11-24T17:00:00Z"
    assert rows[2]["id"] == finding_id(WRITER.key)
    assert rows[1]["scope"] == '{"from_version": "7.5.9", "version": "7.6.4"}'
    assert (rows[1]["effect"], rows[1]["hosts"], rows[1]["departments"]) == ("0.25", "2", "finance")

    _, resolved, _ = run(capsys, database_url, "findings", "list", "--status", "resolved")
    _, libreoffice, _ = run(
        capsys, database_url, "findings", "list", "--app", "libreoffice", "--format", "json"
    )
    _, none, _ = run(capsys, database_url, "findings", "list", "--department", "sales")

    assert [line.split()[3] for line in resolved.splitlines()[1:]] == ["writer"]
    (listed,) = json.loads(libreoffice)["findings"]
    assert (listed["key"], listed["id"]) == (LIBREOFFICE.key, finding_id(LIBREOFFICE.key))
    assert listed["since"].endswith("Z")
    assert none.split()[0] == "ID"
    assert len(none.splitlines()) == 1


def test_findings_show_prints_the_evidence_and_the_first_hosts(
    database_url: str, recorded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "findings", "show", FIREFOX.key)

    assert code == 0
    assert out.splitlines()[0] == FIREFOX.key
    assert "  cause        memory (90%)\n" in out
    assert "  detected     first 2025-11-24T16:00:00Z, last 2025-11-24T17:00:00Z\n" in out
    assert "    before  120 launches, p10 1.5 s, median 2.0 s, p90 3.0 s\n" in out
    assert "hr-19 ... and 5 more\n" in out
    _, as_json, _ = run(capsys, database_url, "findings", "show", FIREFOX.key, "--format", "json")
    assert json.loads(as_json)["hosts"][-1] == "hr-24"
    assert json.loads(as_json)["hostnames"][-1] == "hr-24"  # not enrolled: the id stands in


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

    assert "resolved by the first run that does not" in capsys.readouterr().out


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replaces the analysis with one that finds LIBREOFFICE; lists the ``now`` it got."""
    calls: list[float] = []

    def analyse(data: FleetData, *, now: float, params: object = None) -> list[Finding]:
        calls.append(now)
        return [LIBREOFFICE]

    monkeypatch.setattr(advisor.analysis.fleet, "analyse", analyse)
    return calls


def test_analyse_at_a_date_analyses_up_to_the_end_of_that_day_and_prints_a_summary(
    database_url: str, store: SqlStore, stand_in: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    write_small_fleet(store)

    code, out, _ = run(capsys, database_url, "analyse", "--at", "2025-11-29", "--window-days", "7")

    assert code == 0
    assert stand_in == [DAY0 + 6 * DAY]
    lines = out.splitlines()
    assert lines[0].startswith(
        "analysed 6 launches of 2 hosts and 2 apps, 7 days up to 2025-11-30T00:00:00Z (load "
    )
    assert lines[1] == (
        "findings: 1 new, 0 updated, 0 reopened, 0 resolved; 1 open (1 version_change)"
    )
    assert lines[2] == "see them with `fleetsight-advisor findings list`"


def test_jobs_run_analysis_runs_it_like_the_scheduled_job(
    database_url: str, store: SqlStore, stand_in: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    write_small_fleet(store)

    code, out, _ = run(capsys, database_url, "jobs", "run", "analysis")

    assert code == 0
    assert out == "analysis: done (0 launches, 1 findings)\n"  # now: long after the fleet


def test_analyse_leaves_a_run_another_advisor_is_making(
    database_url: str, engine: sa.Engine, stand_in: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    assert SqlJobLeases(engine).claim(
        "analysis", owner="other:1:abc", now=time.time(), lease_seconds=600
    )

    code, out, _ = run(capsys, database_url, "analyse")

    assert (code, stand_in) == (0, [])
    assert out == "analysis: another advisor is running it now; nothing done\n"


def test_a_failed_analysis_exits_1_with_the_reason(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(data: FleetData, *, now: float, params: object = None) -> list[Finding]:
        raise ValueError("no cells")

    monkeypatch.setattr(advisor.analysis.fleet, "analyse", broken)

    code, out, err = run(capsys, database_url, "analyse")

    assert (code, out) == (1, "")
    assert err == "fleetsight-advisor: analysis failure: ValueError: no cells\n"
