"""``fleetsight-advisor budget plan`` on SQLite and PostgreSQL, run in-process on
recommendations stored with ``Recommendations.propose``: the optimum where the ratio ranking
falls short, what is left out and why, and JSON and CSV that nothing else writes into."""

from __future__ import annotations

import csv
import ctypes
import io
import json
import os
import time
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

import advisor.budget_planning
from advisor.cli import main
from advisor.cli.budget import solver_output_discarded
from advisor.cli.recommendations import recommendation_id
from advisor.quarters import Quarter
from advisor.recommend.budget import BudgetPlan, plan_budget
from advisor.store.recommendations_sql import SqlRecommendations
from tests.advisor.store.recommendationsdata import T0
from tests.advisor.store.reviewdata import (
    HR_RAM,
    HR_REPLACE,
    KNAPSACK,
    LEFT,
    PILOT,
    RIGHT,
    SPREADSHEET,
)

DAY = 86_400.0
STRAY = "HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();"


@pytest.fixture
def proposed(engine: sa.Engine) -> SqlRecommendations:
    recommendations = SqlRecommendations(engine)
    recommendations.propose(list(KNAPSACK), now=T0)
    return recommendations


def run(capsys: pytest.CaptureFixture[str], database_url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--database-url", database_url, "budget", "plan", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_plan_saves_the_most_and_shows_the_ratio_ranking_beside_it(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, database_url, "--amount", "10000")

    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "budget EUR 10,000.00: 6 proposed and approved recommendations"
    assert lines[1] == (
        "plan (optimal): 2 chosen, spending EUR 10,000.00 (EUR 0.00 left), saving "
        "EUR 10,000.00 a year"
    )
    assert lines[2].split() == [
        "ID", "KIND", "APP", "TARGET", "DEPARTMENTS", "STATE", "COST", "SAVES/YEAR",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[3:5]] == [
        recommendation_id(RIGHT)[:8],
        recommendation_id(LEFT)[:8],
    ]
    assert lines[5] == "left out: 4"
    assert lines[6].split()[-1] == "WHY"
    assert lines[7].split()[0] == recommendation_id(SPREADSHEET)[:8]
    assert lines[7].endswith("EUR 6,000.00  EUR 7,000.00  over budget (needs 6,000.00, 0.00 left)")
    assert lines[-2].endswith("no benefit")
    assert lines[-1] == (
        "greedy ranking (best saving per cost first, for comparison): 2 chosen, spending "
        "EUR 6,100.00, saving EUR 7,300.00 a year: the plan saves EUR 2,700.00 a year more (37%)"
    )


def test_json_is_the_plan_with_every_candidate_and_the_greedy_keys(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed.decide(RIGHT, verdict="approve", actor="alice", now=T0 + 1)

    code, out, _ = run(capsys, database_url, "--amount", "10000", "--format", "json")

    doc = json.loads(out)
    assert code == 0
    assert doc["budget"] == {
        "amount": "10000",
        "currency": "EUR",
        "department": None,
        "quarter": None,
        "states": ["proposed", "approved"],
        "candidates": 6,
    }
    plan = doc["plan"]
    assert (plan["method"], plan["spent"], plan["left"], plan["annual_benefit"]) == (
        "milp",
        "10000.00",
        "0.00",
        "10000.00",
    )
    assert [(c["key"], c["state"], c["cost"]) for c in plan["chosen"]] == [
        (RIGHT, "approved", "5000.00"),
        (LEFT, "proposed", "5000.00"),
    ]
    assert plan["chosen"][0]["id"] == recommendation_id(RIGHT)
    assert [(c["key"], c["code"]) for c in plan["left_out"]] == [
        (SPREADSHEET, "over-budget"),
        (HR_REPLACE, "over-budget"),
        (HR_RAM, "over-budget"),
        (PILOT, "no-benefit"),
    ]
    assert doc["greedy"] == {
        "spent": "6100.00",
        "left": "3900.00",
        "annual_benefit": "7300.00",
        "chosen": [SPREADSHEET, HR_RAM],
    }
    assert doc["gain_over_greedy"] == "2700.00"


def test_csv_is_one_line_per_candidate_chosen_or_not_and_why(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, database_url, "--amount", "1000", "--department", "hr", "--format", "csv"
    )

    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(out))}
    assert code == 0
    assert list(rows) == [HR_REPLACE, SPREADSHEET, RIGHT, LEFT, HR_RAM, PILOT]
    assert {k: (r["chosen"], r["greedy_chosen"]) for k, r in rows.items() if k.endswith("hr")} == {
        HR_REPLACE: ("true", "false"),
        HR_RAM: ("false", "true"),
    }
    assert (rows[HR_RAM]["reason_code"], rows[HR_RAM]["reason"]) == (
        "alternative-chosen",
        f"an alternative was chosen: {HR_REPLACE}",
    )
    assert rows[SPREADSHEET]["reason_code"] == "outside-department"
    assert (rows[HR_REPLACE]["cost"], rows[HR_REPLACE]["annual_benefit"]) == ("900.00", "950.00")
    assert rows[HR_REPLACE]["id"] == recommendation_id(HR_REPLACE)


def test_a_quarter_plans_what_can_be_done_in_it(
    database_url: str, proposed: SqlRecommendations, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    next_quarter = Quarter.of(Quarter.of(now).end + DAY)
    proposed.decide(RIGHT, verdict="defer", actor="a", until=Quarter.of(now).end, now=T0 + 1)
    proposed.decide(LEFT, verdict="defer", actor="a", until=next_quarter.end, now=T0 + 1)

    _, no_quarter, _ = run(capsys, database_url, "--amount", "10000", "--format", "json")
    code, out, _ = run(
        capsys, database_url, "--amount", "5900", "--quarter", str(next_quarter), "--format",
        "json",
    )  # fmt: skip

    doc = json.loads(out)
    assert code == 0
    assert json.loads(no_quarter)["budget"]["candidates"] == 4  # no deferred ones
    assert doc["budget"]["states"] == ["proposed", "approved", "deferred"]
    assert doc["budget"]["quarter"] == str(next_quarter)
    assert [c["key"] for c in doc["plan"]["chosen"]] == [RIGHT, HR_REPLACE]
    left = {c["key"]: c for c in doc["plan"]["left_out"]}
    day = time.strftime("%Y-%m-%d", time.gmtime(next_quarter.end))
    assert left[LEFT]["reason"] == f"deferred until {day}, after the quarter asked for"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--amount", "lots"], "argument --amount: expected an amount like 20000"),
        (["--amount", "-5"], "argument --amount: must be an amount from 0 to 10^15"),
        (["--amount", "NaN"], "argument --amount: must be an amount from 0 to 10^15"),
        (["--amount", "1", "--quarter", "2026Q5"], "'2026Q5' is not a quarter"),
        (["--amount", "1", "--quarter", "2020Q1"], "the quarter 2020Q1 ended on 2020-04-01"),
        (["--amount", "1", "--department", " "], "--department must not be empty"),
    ],
)
def test_a_bad_amount_or_quarter_is_one_line_and_status_2(
    database_url: str,
    proposed: SqlRecommendations,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    code: object
    try:
        code, out, err = run(capsys, database_url, *options)
    except SystemExit as stopped:  # argparse refused the value
        code, captured = stopped.code, capsys.readouterr()
        out, err = captured.out, captured.err

    assert (code, out) == (2, "")
    assert message in err.splitlines()[-1]
    assert "Traceback" not in err


def test_nothing_to_plan_says_so(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, database_url, "--amount", "100")

    assert code == 0
    assert out.splitlines() == [
        "budget 100.00: 0 proposed and approved recommendations",
        "nothing to plan (`fleetsight-advisor recommendations list` shows them all)",
    ]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_what_the_solver_writes_to_stdout_never_reaches_json_or_csv(
    database_url: str,
    proposed: SqlRecommendations,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    """HiGHS writes a debug line to file descriptor 1 in some solves (advisor.recommend.budget):
    here a stand-in writes one through the descriptor and one through C's buffered stdio."""
    real = plan_budget

    def noisy(*args: Any, **kwargs: Any) -> BudgetPlan:
        os.write(1, f"{STRAY}\n".encode())
        ctypes.CDLL(None).printf(f"{STRAY} (C)\n".encode())
        return real(*args, **kwargs)

    monkeypatch.setattr(advisor.budget_planning, "plan_budget", noisy)

    code = main(["--database-url", database_url, "budget", "plan", "--amount", "10000",
                 "--format", fmt])  # fmt: skip
    out = capfd.readouterr().out

    assert code == 0
    assert STRAY not in out
    if fmt == "json":
        assert json.loads(out)["plan"]["annual_benefit"] == "10000.00"
    else:
        assert len(list(csv.DictReader(io.StringIO(out)))) == len(KNAPSACK)


def test_file_descriptor_1_is_back_after_the_solve(capfd: pytest.CaptureFixture[str]) -> None:
    print("before", flush=True)
    with solver_output_discarded():
        os.write(1, b"hidden\n")
    os.write(1, b"after\n")

    assert capfd.readouterr().out == "before\nafter\n"


def test_amounts_are_exact() -> None:
    from advisor.cli.budget import amount

    assert amount("20000.10") == Decimal("20000.10")
