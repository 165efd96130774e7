"""`fleetsight-advisor simulate`: into a database, and over HTTP into a real advisor process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.cli import main
from tests.advisor.conftest import Databases
from tests.conftest import REPO
from tests.e2e.advisorproc import AdvisorProcess


def stored(url: str) -> tuple[int, int, set[str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            batches = conn.execute(sa.text("SELECT count(*) FROM batches")).scalar_one()
            hosts = conn.execute(sa.text("SELECT count(*) FROM hosts")).scalar_one()
            departments = set(conn.scalars(sa.text("SELECT DISTINCT department FROM hosts")))
    finally:
        engine.dispose()
    return int(batches), int(hosts), departments


def test_help_explains_every_option() -> None:
    text = subprocess.run(
        [sys.executable, "-m", "advisor", "simulate", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    for option in ("--hosts", "--days", "--seed", "--scenario", "--interval", "--start"):
        assert option in text
    for option in ("--database-url", "--advisor", "--token", "--concurrency", "--truth"):
        assert option in text
    assert "default: 1h" in text


def test_simulate_writes_batches_and_truth_through_the_store(
    databases: Databases, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = databases.sqlite_url(tmp_path)
    truth = tmp_path / "truth.json"
    args = ["simulate", "--hosts", "6", "--days", "1", "--seed", "9", "--start", "2025-11-03"]
    code = main([*args, "--database-url", url, "--truth", str(truth)])
    assert code == 0
    out = capsys.readouterr().out
    batches, hosts, _ = stored(url)
    assert hosts == 6
    assert f"{batches} batches ({batches} new" in out
    assert json.loads(truth.read_text())["seed"] == 9


def test_a_bad_scenario_file_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text(
        '[[rollouts]]\nid = "x"\napp = "nope"\nto_version = "2"\n'
        "effect = 0.2\nstart = 0.5\nramp = 0.1\n"
    )
    code = main(
        ["simulate", "--dry-run", "--scenario", str(scenario), "--truth", str(tmp_path / "t")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert f"{scenario}: rollouts[0].app: no app 'nope'" in err
    assert err.count("\n") == 1


@pytest.mark.e2e
def test_simulate_posts_batches_to_a_running_advisor(databases: Databases, tmp_path: Path) -> None:
    url = databases.sqlite_url(tmp_path)
    advisor = AdvisorProcess(tmp_path, url).start()
    try:
        finance = advisor.create_token("finance")
        other = advisor.create_token("it")
        truth = tmp_path / "truth.json"
        result = advisor.cli(
            "simulate", "--hosts", "8", "--days", "1", "--start", "2025-11-03",
            "--advisor", advisor.url, "--token", f"finance={finance}", "--token", other,
            "--concurrency", "4", "--truth", str(truth),
        )  # fmt: skip
    finally:
        advisor.close()
    batches, hosts, departments = stored(url)
    assert hosts == 8
    assert f"{batches} batches ({batches} new, 0 already stored)" in result.stdout
    planned = {h["department"] for h in json.loads(truth.read_text())["hosts"]}
    assert departments == ({"finance"} & planned) | ({"it"} if planned - {"finance"} else set())
