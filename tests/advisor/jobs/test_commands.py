"""``fleetsight-advisor jobs run|status`` on SQLite and PostgreSQL, run in-process."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from advisor.cli import main
from advisor.jobs.names import JOB_NAMES
from advisor.jobs.tasks import JOB_TABLES
from advisor.store.job_state import SqlJobLeases
from advisor.store.models import HourlyRollupRow, LaunchRow
from advisor.store.sql import SqlStore
from tests.advisor.store.batches import CPU, DAY, MINUTE, batch, enrol, samples


def hourly_counts(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(HourlyRollupRow.__table__.c["count"])).scalars())


def launches(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(LaunchRow)).scalar_one())


@pytest.fixture
def stored(store: SqlStore) -> float:
    """A batch measured in the previous clock hour, with a launch from 100 days ago; returns
    its start. (An hour before now was in this clock hour during its last minute, which the
    rollup leaves for later: the test failed at hh:59.)"""
    enrol(store, "host-a")
    start = (time.time() // 3600 - 1) * 3600
    store.ingest(
        "host-a",
        batch("host-a", 1, [(start, {CPU: samples(1)})], launches=[start - 100 * DAY]),
        received_at=start + MINUTE,
        sent_at=None,
    )
    return start


def test_jobs_run_rollup_rolls_up_now(
    database_url: str, engine: sa.Engine, stored: float, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--database-url", database_url, "jobs", "run", "rollup"])

    assert code == 0
    assert capsys.readouterr().out == "rollup: done (1 metric_summaries, 1 batches)\n"
    assert hourly_counts(engine) == [12]


def test_jobs_run_retention_deletes_what_is_past_its_days(
    database_url: str, engine: sa.Engine, stored: float, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--database-url", database_url, "jobs", "run", "retention"])

    assert code == 0
    assert "retention: done (1 launches, 0 metric_summaries" in capsys.readouterr().out
    assert launches(engine) == 0


def test_jobs_run_leaves_a_job_another_advisor_is_running(
    database_url: str, engine: sa.Engine, stored: float, capsys: pytest.CaptureFixture[str]
) -> None:
    assert SqlJobLeases(engine).claim(
        "rollup", owner="other:1:abc", now=time.time(), lease_seconds=600
    )

    code = main(["--database-url", database_url, "jobs", "run", "rollup"])

    assert code == 0
    assert "another advisor is running it now" in capsys.readouterr().out
    assert hourly_counts(engine) == []


def test_jobs_status_shows_last_runs_and_the_backlog(
    database_url: str, stored: float, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--database-url", database_url, "jobs", "status"])
    before = capsys.readouterr().out
    main(["--database-url", database_url, "jobs", "run", "rollup"])
    capsys.readouterr()

    main(["--database-url", database_url, "jobs", "status"])
    after = capsys.readouterr().out

    rows = {line.split()[0]: line.split() for line in after.splitlines()[1:5]}
    assert before.split()[:3] == ["JOB", "LAST", "RUN"]
    assert "retention  never" in before
    assert "rollup backlog: 1 batches, oldest received 20" in before
    assert rows["rollup"][2] == "success"
    assert rows["rollup"][1].endswith("Z")  # ISO 8601 UTC
    assert rows["retention"][1] == "never"
    assert after.endswith("\nrollup backlog: 0 batches\n")


def test_jobs_status_as_json_has_exact_times_and_the_backlog(
    database_url: str, stored: float, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--database-url", database_url, "jobs", "run", "rollup"])
    capsys.readouterr()

    main(["--database-url", database_url, "jobs", "status", "--format", "json"])
    document = json.loads(capsys.readouterr().out)

    jobs = {job["job"]: job for job in document["jobs"]}
    assert sorted(jobs) == ["analysis", "recommend", "retention", "rollup"]
    assert jobs["rollup"]["last_outcome"] == "success"
    assert jobs["rollup"]["last_rows"] == 1
    assert isinstance(jobs["rollup"]["took_seconds"], float)
    assert jobs["rollup"]["last_started_at"].endswith("Z")
    assert jobs["analysis"]["last_started_at"] is None
    assert document["backlog"] == {"batches": 0, "oldest_received_at": None}


def test_every_named_job_is_built_and_every_built_job_is_named() -> None:
    assert sorted(JOB_TABLES) == sorted(JOB_NAMES)


def test_jobs_run_refuses_an_unknown_job(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["jobs", "run", "vacuum"])

    assert "invalid choice: 'vacuum'" in capsys.readouterr().err
