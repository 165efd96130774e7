"""``fleetsight-advisor recommendations list|show|approve|reject|defer|departments`` on SQLite
and PostgreSQL, run in-process on recommendations stored with ``Recommendations.propose``."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
import sqlalchemy as sa

import advisor.cli.recommendations as cli
from advisor.cli import main
from advisor.cli.recommendations import recommendation_id
from advisor.store.audit import SqlAuditLog, recommendation_target
from advisor.store.recommendations import CATEGORIES, COUNTED_STATES, KINDS, STATES
from advisor.store.recommendations_sql import SqlRecommendations
from advisor.store.sql import SqlStore
from tests.advisor.store.recommendationsdata import T0
from tests.advisor.store.reviewdata import (
    HR_RAM,
    HR_REPLACE,
    KNAPSACK,
    LEFT,
    PILOT,
    RIGHT,
    SPREADSHEET,
    enrol,
)

RANKED = [SPREADSHEET, RIGHT, LEFT, HR_REPLACE, HR_RAM, PILOT]
"""KNAPSACK by score: risk-adjusted benefit less a third of the one-off cost (ties by key)."""
DAY = 86_400.0


@pytest.fixture
def proposed(engine: sa.Engine) -> SqlRecommendations:
    """KNAPSACK proposed at T0; fin-1 and hr-1 enrolled (fin-2 is not: its name is the one the
    engine wrote)."""
    recommendations = SqlRecommendations(engine)
    recommendations.propose(list(KNAPSACK), now=T0)
    enrol(SqlStore(engine), {"fin-1": ("fin-ws-01", "finance"), "hr-1": ("hr-ws-01", "hr")})
    return recommendations


def run(capsys: pytest.CaptureFixture[str], database_url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--database-url", database_url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_cli_offers_the_stores_states_kinds_and_categories() -> None:
    assert (cli.STATES, cli.KINDS, cli.CATEGORIES, cli.COUNTED_STATES) == (
        STATES,
        KINDS,
        CATEGORIES,
        COUNTED_STATES,
    )


# --- list -------------------------------------------------------------------------------------


def test_list_ranks_them_with_what_each_saves_and_costs(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "recommendations", "list")

    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == [
        "RANK", "ID", "KIND", "APP", "TARGET", "DEPARTMENTS", "HOSTS", "SAVES/LAUNCH",
        "MONEY/YEAR", "COST", "NET/YEAR", "PAYBACK", "STATE", "BASIS", "PILOT",
    ]  # fmt: skip
    assert [row.split()[1] for row in rows] == [recommendation_id(k)[:8] for k in RANKED]
    assert [row.split()[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    first = rows[0]
    assert first.split()[2:5] == ["upgrade", "office", "9.0"]
    # 0.40 s [0.30, 0.50] a launch, 7,000 a year for 6,000 once: net 5,000 a year, paid back
    # in 10.3 months, on the fleet's own evidence.
    assert "0.40 s [0.30, 0.50]" in first
    assert "EUR 7,000" in first
    assert "EUR 6,000" in first
    assert "EUR 5,000" in first
    assert "10.3 mo" in first
    assert first.split()[-3:] == ["proposed", "model", "no"]
    pilot = rows[-1]
    assert pilot.split()[-3:] == ["proposed", "none", "yes"]
    assert "  -  " in pilot  # no saving claimed, no money, no net benefit, never paid back
    assert "never" in pilot


@pytest.mark.parametrize(
    ("options", "keys"),
    [
        (["--kind", "ram"], [RIGHT, HR_RAM]),
        (["--category", "regression"], [SPREADSHEET]),
        (["--department", "hr"], [HR_REPLACE, HR_RAM]),
        (["--app", "gimp"], []),
        (["--app", "gimp", "--state", "all"], [PILOT]),
        (["--limit", "2"], [SPREADSHEET, RIGHT]),
        (["--state", "rejected"], [LEFT]),
        (["--state", "approved"], [RIGHT]),
        (["--state", "current"], [SPREADSHEET, RIGHT, LEFT, HR_REPLACE, HR_RAM]),
        (["--state", "all"], RANKED),
        (["--state", "obsolete"], [PILOT]),
    ],
)
def test_list_filters(
    database_url: str,
    proposed: SqlRecommendations,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    keys: list[str],
) -> None:
    proposed.decide(LEFT, verdict="reject", actor="alice", reason="no", now=T0 + 1)
    proposed.decide(RIGHT, verdict="approve", actor="alice", now=T0 + 1)
    proposed.propose([p for p in KNAPSACK if p.key != PILOT], now=T0 + 2)  # PILOT: obsolete

    code, out, _ = run(
        capsys, database_url, "recommendations", "list", *options, "--format", "json"
    )

    assert code == 0
    assert [r["key"] for r in json.loads(out)["recommendations"]] == keys


def test_list_as_csv_and_json_carries_every_figure_exactly(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    _, as_csv, _ = run(capsys, database_url, "recommendations", "list", "--format", "csv")
    _, as_json, _ = run(capsys, database_url, "recommendations", "list", "--format", "json")

    rows = list(csv.DictReader(io.StringIO(as_csv)))
    documents = json.loads(as_json)["recommendations"]
    assert [r["key"] for r in rows] == RANKED
    first, doc = rows[0], documents[0]
    assert first == {name: _csv(value) for name, value in doc.items()}
    assert (first["id"], first["rank"], first["state"]) == (
        recommendation_id(SPREADSHEET),
        "1",
        "proposed",
    )
    assert (doc["seconds_per_launch"], doc["seconds_per_launch_low"]) == (0.4, 0.3)
    assert (doc["money_per_year"], doc["money_per_year_low"], doc["currency"]) == (
        "7000.00",
        "5600.00",
        "EUR",
    )
    assert (doc["cost_one_off"], doc["net_benefit_per_year"], doc["payback_months"]) == (
        "6000.00",
        "5000.00",
        10.3,
    )
    assert (doc["basis"], doc["pilot"], doc["departments"], doc["hosts"]) == (
        "model",
        False,
        ["finance"],
        2,
    )
    assert doc["created_at"] == "2025-11-24T16:00:00Z"
    assert (rows[-1]["seconds_per_launch"], rows[-1]["pilot"]) == ("", "true")


def _csv(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def test_an_empty_list_keeps_its_header_and_says_how_to_get_some(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, database_url, "recommendations", "list")

    assert code == 0
    assert out.startswith("RANK  ID")
    assert "fleetsight-advisor recommend" in err


# --- show -------------------------------------------------------------------------------------


def test_show_prints_everything_with_hosts_by_name_and_department(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, database_url, "recommendations", "show", recommendation_id(SPREADSHEET)[:6]
    )

    assert code == 0
    text = " ".join(out.split())
    assert out.startswith(f"{SPREADSHEET}\n")
    assert "explanation Recommended: upgrade office to 9.0 on 2 hosts." in text
    assert (
        "saves 0.40 s [0.30, 0.50] a launch (evidence: model), 150 launches a day, 12.5 h a "
        "month, EUR 7,000.00 a year [5,600.00, 8,400.00]"
    ) in text
    assert "cost EUR 6,000.00 once" in text
    assert "labour: IT labour (package_manager, 0.1 h a seat), 2 seats: EUR 3,600.00" in text
    assert "net EUR 5,000.00 a year over 3 years; paid back in 10.3 months; ROI 250%" in text
    assert "risk risk-adjusted benefit EUR 7,000.00 a year (p_evidence 1, p_version 1" in text
    assert "model: 11 hosts already have the change, compared with 49" in text
    assert "hosts 2: finance 1, not enrolled 1" in text
    assert "finance: fin-ws-01" in text  # enrolled: its hostname now
    assert "not enrolled: fin-2.example" in text  # the engine's name for it
    assert "pilot - (the evidence is strong enough to roll it out)" in text
    assert "history 1 entry" in text
    assert "advisor - proposed" in text


def test_show_a_pilot_says_where_for_how_long_and_what_decides(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, database_url, "recommendations", "show", PILOT)

    text = " ".join(out.split())
    assert "no saving claimed (evidence: none)" in text
    assert (
        "pilot first on 1 hosts (sales 1) for 14 days, because no evidence: no host has this "
        "change yet; measuring the median cold start of gimp"
    ) in text
    assert "the pilot costs EUR 29.00" in text
    assert "not priced: no saving is claimed" in text


def test_show_as_json_has_every_figure_the_hosts_and_the_history(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed.decide(LEFT, verdict="approve", actor="alice", reason="fits Q3", now=T0 + 60)
    proposed.decide(LEFT, verdict="reject", actor="bob", reason="no money", now=T0 + 120)

    code, out, _ = run(capsys, database_url, "recommendations", "show", LEFT, "--format", "json")

    doc = json.loads(out)
    assert code == 0
    assert (doc["id"], doc["key"], doc["state"], doc["decided_by"]) == (
        recommendation_id(LEFT),
        LEFT,
        "rejected",
        "bob",
    )
    assert doc["decided_at"] == "2025-11-24T16:02:00Z"
    assert doc["figures"]["cost"] == {
        "one_off": "5000.00",
        "recurring_per_year": "0",
        "complete": True,
        "currency": "EUR",
    }
    assert doc["host_details"] == [
        {"host_id": "fin-1", "hostname": "fin-ws-01", "department": "finance"},
        {"host_id": "fin-2", "hostname": "fin-2.example", "department": None},
    ]
    entries = doc["history"]["entries"]
    assert [(e["actor"], e["detail"]["from"], e["detail"]["to"]) for e in entries] == [
        ("advisor", None, "proposed"),
        ("alice", "proposed", "approved"),
        ("bob", "approved", "rejected"),
    ]
    assert entries[-1]["detail"]["reason"] == "no money"
    assert doc["history"]["truncated"] is False
    assert doc["document"]["benefit"]["basis"] == "model"


def test_show_refuses_an_unknown_id_and_an_ambiguous_prefix(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = run(capsys, database_url, "recommendations", "show", "zzzz")
    ambiguous = run(capsys, database_url, "recommendations", "show", "ram|")

    assert unknown[0] == 1
    assert "no recommendation 'zzzz'" in unknown[2]
    assert ambiguous[0] == 2
    assert "ambiguous" in ambiguous[2]
    assert recommendation_id(RIGHT) in ambiguous[2]
    assert all(
        "Traceback" not in err and err.count("\n") == 1 for _, _, err in (unknown, ambiguous)
    )


# --- decisions --------------------------------------------------------------------------------


def test_approve_reject_and_defer_take_the_actor_and_show_lists_them(
    database_url: str,
    proposed: SqlRecommendations,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USER", "carol")
    until = time.time() + 30 * DAY
    day = time.strftime("%Y-%m-%d", time.gmtime(until))

    approved = run(capsys, database_url, "recommendations", "approve", SPREADSHEET)
    rejected = run(
        capsys, database_url, "recommendations", "reject", LEFT, "--reason", "later", "--actor",
        "alice",
    )  # fmt: skip
    deferred = run(
        capsys, database_url, "recommendations", "defer", recommendation_id(RIGHT),
        "--until", day, "--reason", "after the audit",
    )  # fmt: skip

    assert [c for c, _, _ in (approved, rejected, deferred)] == [0, 0, 0]
    assert approved[1] == (
        f"{recommendation_id(SPREADSHEET)} {SPREADSHEET}: approved (was proposed) by carol\n"
    )
    assert rejected[1].endswith(": rejected (was proposed) by alice\n")
    assert deferred[1].endswith(f": deferred (was proposed) by carol until {day}T00:00:00Z\n")
    after = [proposed.get(key) for key in (SPREADSHEET, LEFT, RIGHT)]
    assert [(r.state, r.decided_by) for r in after if r is not None] == [
        ("approved", "carol"),
        ("rejected", "alice"),
        ("deferred", "carol"),
    ]
    _, out, _ = run(capsys, database_url, "recommendations", "show", RIGHT)
    text = " ".join(out.split())
    assert f"state deferred until {day}T00:00:00Z; last decided by carol" in text
    assert f"carol proposed deferred after the audit; until {day}T00:00:00Z" in text


def test_a_rejection_needs_a_reason_and_a_deferral_a_future_date(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as no_reason:
        main(["--database-url", database_url, "recommendations", "reject", LEFT, "--actor", "a"])
    blank = run(
        capsys, database_url, "recommendations", "reject", LEFT, "--reason", " ", "--actor", "a"
    )
    past = run(
        capsys, database_url, "recommendations", "defer", LEFT, "--until", "2020-01-01",
        "--actor", "a",
    )  # fmt: skip
    with pytest.raises(SystemExit) as not_a_date:
        main(["--database-url", database_url, "recommendations", "defer", LEFT, "--until", "soon"])

    assert no_reason.value.code == 2
    assert blank[0] == 2
    assert "a rejection needs a reason" in blank[2]
    assert past[0] == 2
    assert "--until 2020-01-01T00:00:00Z is not in the future" in past[2]
    assert not_a_date.value.code == 2
    assert "expected a date like 2025-11-03" in capsys.readouterr().err
    stored = proposed.get(LEFT)
    assert stored is not None
    assert stored.state == "proposed"


def test_a_refused_step_names_the_state_and_what_would_allow_it(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed.decide(LEFT, verdict="reject", actor="alice", reason="no", now=T0 + 1)

    code, out, err = run(capsys, database_url, "recommendations", "approve", LEFT, "--actor", "bob")

    assert (code, out) == (1, "")
    assert err == (
        f"fleetsight-advisor: cannot approve {LEFT!r}: it is rejected; only a proposed, "
        "deferred or reopened recommendation can be approved\n"
    )
    entries = SqlAuditLog(proposed._engine).entries(target=recommendation_target(LEFT))
    assert [e.actor for e in entries] == ["alice", "advisor"]


def test_a_decision_without_actor_or_user_is_a_usage_error(
    database_url: str,
    proposed: SqlRecommendations,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("USER", raising=False)

    code, _, err = run(capsys, database_url, "recommendations", "approve", LEFT)
    advisor = run(capsys, database_url, "recommendations", "approve", LEFT, "--actor", "advisor")

    assert code == 2
    assert "pass --actor NAME" in err
    assert advisor[0] == 2
    assert "the advisor's own name" in advisor[2]


def test_the_help_says_where_the_actor_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["recommendations", "approve", "--help"])

    assert "default: $USER" in " ".join(capsys.readouterr().out.split())


# --- departments ------------------------------------------------------------------------------


def test_departments_total_the_net_benefit_of_what_is_still_to_do(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed.decide(HR_RAM, verdict="reject", actor="alice", reason="no", now=T0 + 1)

    code, out, _ = run(capsys, database_url, "recommendations", "departments")
    _, as_json, _ = run(
        capsys, database_url, "recommendations", "departments", "--state", "rejected",
        "--format", "json",
    )  # fmt: skip

    assert code == 0
    assert out.splitlines() == [
        "DEPARTMENT  CURRENCY  COUNT   NET/YEAR  UNPRICED",
        "finance     EUR           3  11,666.66         0",
        "hr          EUR           1     650.00         0",
        "sales       EUR           1       0.00         1",
    ]
    assert json.loads(as_json) == {
        "departments": [
            {
                "department": "hr",
                "currency": "EUR",
                "count": 1,
                "net_benefit_per_year": "266.67",
                "unpriced": 0,
            }
        ],
        "states": ["rejected"],
    }
