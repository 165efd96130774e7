"""``fleetsight-advisor user ...`` through advisor.cli.main, on an embedded SQLite state dir."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.cli import main
from advisor.store.open import Stores, open_store_at

PASSWORD = "correct horse battery"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "advisor.toml"
    config.write_text(f'[advisor]\nstate_dir = "{tmp_path}"\n')
    for name in ("FLEETSIGHT_ADVISOR_DATABASE_URL", "FLEETSIGHT_ADVISOR_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLEETSIGHT_ADVISOR_CONFIG", str(config))
    assert main(["db", "upgrade"]) == 0
    return tmp_path


@pytest.fixture
def stores(state: Path) -> Iterator[Stores]:
    opened = open_store_at(f"sqlite:///{state / 'advisor.sqlite3'}")
    try:
        yield opened
    finally:
        opened.close()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_first_admin_is_created_with_a_hashed_password_and_audited(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stores: Stores
) -> None:
    code, out, _ = run(
        capsys,
        monkeypatch,
        "user",
        "create",
        "alice",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )

    assert code == 0
    assert "alice created as admin" in out
    stored = stores.users.password_hash("alice")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    entry = stores.audit.entries(target="user:alice")[0]
    assert (entry.action, entry.detail["role"]) == ("user.created", "admin")


def test_a_short_password_is_refused_with_a_clear_message_and_nothing_created(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stores: Stores
) -> None:
    code, _, err = run(
        capsys,
        monkeypatch,
        "user",
        "create",
        "bob",
        "--role",
        "viewer",
        "--password-stdin",
        stdin="short\n",
    )

    assert code == 1
    assert "at least 12 characters" in err
    assert stores.users.get("bob") is None


def test_the_password_is_asked_twice_at_a_terminal_and_must_match(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stores: Stores
) -> None:
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    monkeypatch.setattr("sys.stdin", _Terminal())

    code = main(["user", "create", "bob", "--role", "viewer"])

    assert code == 1
    assert "differ" in capsys.readouterr().err
    assert stores.users.get("bob") is None


def test_users_are_listed_as_json_and_roles_changed_and_users_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stores: Stores
) -> None:
    for name, role in (("bob", "manager"), ("ada", "admin")):
        run(
            capsys,
            monkeypatch,
            "user",
            "create",
            name,
            "--role",
            role,
            "--department",
            "finance",
            "--password-stdin",
            stdin=PASSWORD,
        )

    assert run(capsys, monkeypatch, "user", "set-role", "bob", "viewer")[0] == 0
    assert run(capsys, monkeypatch, "user", "disable", "ada")[0] == 0
    code, out, _ = run(capsys, monkeypatch, "user", "list", "--format", "json")

    assert code == 0
    listed = json.loads(out)["users"]
    assert [(u["user_id"], u["role"], u["state"], u["departments"]) for u in listed] == [
        ("ada", "admin", "disabled", ["finance"]),
        ("bob", "viewer", "active", ["finance"]),
    ]
    assert "$argon2" not in out
    actions = [e.action for e in stores.audit.entries()]
    assert actions[:2] == ["user.disabled", "user.role_changed"]


def test_a_new_password_ends_the_users_sessions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stores: Stores
) -> None:
    run(
        capsys,
        monkeypatch,
        "user",
        "create",
        "bob",
        "--role",
        "viewer",
        "--password-stdin",
        stdin=PASSWORD,
    )
    old = stores.users.password_hash("bob")
    token, _ = stores.ui_sessions.create("bob", now=1e9, lifetime=1e10)

    code, _, _ = run(
        capsys,
        monkeypatch,
        "user",
        "password",
        "bob",
        "--password-stdin",
        stdin="another long password",
    )

    assert code == 0
    assert stores.users.password_hash("bob") != old
    assert stores.ui_sessions.lookup(token, now=1e9 + 1, idle_seconds=600) is None


def test_changing_an_unknown_user_fails_with_its_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stores: Stores
) -> None:
    code, _, err = run(capsys, monkeypatch, "user", "set-role", "nobody", "admin")

    assert code == 1
    assert "no user 'nobody'" in err


def test_the_user_command_is_in_the_top_level_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])

    out = capsys.readouterr().out
    assert "people of the web interface" in out
    assert "user create alice --role admin" in out
