"""The advisor's admin commands through advisor.cli.main, on an embedded SQLite state dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.cli import main
from advisor.store.engine import make_engine
from advisor.store.sql import SqlStore

T0 = 1_764_000_000.0


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config and state directory, whatever the environment says."""
    config = tmp_path / "advisor.toml"
    config.write_text(f'[advisor]\nstate_dir = "{tmp_path}"\n')
    for name in ("FLEETSIGHT_ADVISOR_DATABASE_URL", "FLEETSIGHT_ADVISOR_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLEETSIGHT_ADVISOR_CONFIG", str(config))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_db_upgrade_creates_the_schema_once_and_status_says_it_is_current(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "db", "upgrade")[1].count("empty ->") == 1
    again = run(capsys, "db", "upgrade")[1]
    code, after, _ = run(capsys, "db", "status")

    assert "already at" in again
    assert code == 0
    assert "up to date" in after


@pytest.mark.parametrize(
    "command", [("db", "status"), ("host", "list"), ("token", "list"), ("findings", "list")]
)
def test_a_read_only_command_on_a_missing_database_names_it_and_creates_nothing(
    state: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    code, out, err = run(capsys, *command)

    database = state / "advisor.sqlite3"
    assert (code, out) == (1, "")
    assert err == (
        f"fleetsight-advisor: the database {database} does not exist: create it with "
        "`fleetsight-advisor db upgrade`\n"
    )
    assert not database.exists()


def test_the_common_options_work_after_the_command_too(
    state: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    run(capsys, "db", "upgrade", "--state-dir", str(elsewhere))
    assert (elsewhere / "advisor.sqlite3").exists()
    assert not (state / "advisor.sqlite3").exists()
    # Given before the command only, an option is not reset by the command's own copy of it.
    code, out, err = run(capsys, "--state-dir", str(elsewhere), "token", "list")
    assert code == 0
    assert out.split() == ["ID", "DEPARTMENT", "STATE", "EXPIRES", "USES", "NOTE"]
    assert "no tokens" in err
    # simulate keeps its own --database-url: where the simulated fleet goes, not the advisor's.
    truth = str(elsewhere / "truth.json")
    fleet = elsewhere / "fleet.sqlite3"
    code, _, err = run(
        capsys, "simulate", "--hosts", "1", "--days", "1", "--truth", truth,
        "--database-url", f"sqlite:///{fleet}",
    )  # fmt: skip
    assert code == 1
    assert f"the database sqlite:///{fleet} has no Fleetsight schema" in err


def test_commands_on_a_database_never_migrated_name_the_command_that_fixes_it(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["serve"], ["token", "list"], ["host", "list"], ["findings", "list"]):
        code, _, err = run(capsys, *command)

        assert code == 1, command
        assert "fleetsight-advisor db upgrade" in err, command
        assert "Traceback" not in err


def test_a_token_is_shown_once_listed_without_its_secret_and_revoked(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "db", "upgrade")

    code, created, _ = run(
        capsys, "token", "create", "--department", "finance", "--expires", "2d", "--max-uses", "3"
    )
    secret = next(word for word in created.split() if word.startswith("fst_"))
    token_id = created.split()[1]
    listed = run(capsys, "token", "list")[1]
    revoked = run(capsys, "token", "revoke", token_id)[1]
    after = run(capsys, "token", "list")[1]
    unknown = run(capsys, "token", "revoke", "no-such-token")

    assert code == 0
    assert listed.splitlines()[1].split()[:3] == [token_id[:8], "finance", "valid"]
    assert listed.splitlines()[1].split()[4] == "0/3"
    assert secret not in listed
    assert f"token {token_id} revoked" in revoked
    assert "revoked" in after
    assert unknown[0] == 1
    assert "no token no-such-token" in unknown[2]


def test_hosts_are_listed_and_a_revoked_one_can_no_longer_authenticate(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "db", "upgrade")
    store = SqlStore(make_engine(f"sqlite:///{state / 'advisor.sqlite3'}"))
    try:
        token, _ = store.create_token(department="hr", expires_at=T0 * 2, now=T0)
        enrolment = store.enrol(
            token=token, host_id="host-1", hostname="hr-ws-1", agent_version="0.1.0", now=T0
        )

        listed = run(capsys, "host", "list")[1]
        code, revoked, _ = run(capsys, "host", "revoke", "host-1")
        unknown = run(capsys, "host", "revoke", "host-2")

        assert listed.splitlines()[1].split() == [
            "host-1", "hr-ws-1", "hr", "active", "never", "0.1.0", "-"
        ]  # fmt: skip
        assert code == 0
        assert "its batches are refused" in revoked
        assert store.authenticate(enrolment.credential) is None
        assert unknown[0] == 1
        assert "no host host-2" in unknown[2]
    finally:
        store.close()


def test_host_list_escapes_what_an_agent_put_in_a_hostname_on_one_line(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "db", "upgrade")
    store = SqlStore(make_engine(f"sqlite:///{state / 'advisor.sqlite3'}"))
    try:
        # Stored before ingest refused such names; the store itself takes any text.
        token, _ = store.create_token(department="hr", expires_at=T0 * 2, now=T0)
        store.enrol(
            token=token,
            host_id="host-1",
            hostname="hr-ws-1\x1b]0;owned\x07\nhost-2  evil\u202e",
            agent_version="0.1.0\x1b[2J",
            now=T0,
        )

        code, listed, _ = run(capsys, "host", "list")
    finally:
        store.close()

    assert code == 0
    _, line = listed.splitlines()
    assert line.startswith("host-1  hr-ws-1\\x1b]0;owned\\x07\\nhost-2  evil\\u202e ")
    assert line.endswith("  0.1.0\\x1b[2J  -")
    assert "\x1b" not in listed
    assert "\u202e" not in listed


def test_a_released_host_is_taken_over_by_its_next_enrolment_in_the_new_department(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "db", "upgrade")
    store = SqlStore(make_engine(f"sqlite:///{state / 'advisor.sqlite3'}"))
    try:
        hr, _ = store.create_token(department="hr", expires_at=T0 * 2, now=T0)
        legal, _ = store.create_token(department="legal", expires_at=T0 * 2, now=T0)
        first = store.enrol(
            token=hr, host_id="host-1", hostname="hr-ws-1", agent_version="0.1.0", now=T0
        )

        code, released, _ = run(capsys, "host", "release", "host-1", "--department", "legal")
        unknown = run(capsys, "host", "release", "host-2")
        empty = run(capsys, "host", "release", "host-1", "--department", " ")
        second = store.enrol(
            token=legal, host_id="host-1", hostname="hr-ws-1", agent_version="0.2.0", now=T0
        )

        assert code == 0
        assert "released" in released
        assert store.authenticate(first.credential) is None
        assert second.department == "legal"
        assert (unknown[0], empty[0]) == (1, 2)
        assert "no host host-2" in unknown[2]
    finally:
        store.close()


def test_check_config_shows_the_settings_without_the_database_password(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "FLEETSIGHT_ADVISOR_DATABASE_URL", "postgresql+psycopg://fleet:s3cret@db.example/fleet"
    )

    code, out, _ = run(capsys, "check-config")

    assert code == 0
    assert ": OK" in out
    assert "db.example/fleet" in out
    assert "s3cret" not in out


def test_a_bad_setting_stops_every_command_with_the_file_and_key(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = state / "advisor.toml"
    config.write_text(config.read_text() + "[ingest]\nmax_concurrent = 0\n")

    code, _, err = run(capsys, "check-config")

    assert code == 2
    assert str(config) in err
    assert "max_concurrent" in err
    assert "Traceback" not in err
