"""``token create`` and ``api-token create`` with ``--format json``: one object a script reads
the secret from, the same row ``list --format json`` shows, and the text for people unchanged.
Run on SQLite and PostgreSQL through advisor.cli.main."""

from __future__ import annotations

import datetime as dt
import doctest
import json
from typing import Any

import pytest
import sqlalchemy as sa

import advisor.cli.tokens
from advisor.cli import main
from advisor.cli.units import when
from advisor.store.api_tokens import SqlApiTokens
from advisor.store.sql import SqlStore


def run(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--database-url", url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: pytest.CaptureFixture[str], url: str, command: str) -> list[dict[str, Any]]:
    code, out, _ = run(capsys, url, command, "list", "--format", "json")
    assert code == 0
    rows: list[dict[str, Any]] = json.loads(out)["tokens" if command == "token" else "api_tokens"]
    return rows


def unix(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_token_create_as_json_is_one_object_whose_secret_enrols_a_host(
    database_url: str, store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, database_url, "token", "create", "--department", "finance", "--expires", "2d",
        "--max-uses", "3", "--note", "lab", "--format", "json",
    )  # fmt: skip
    created = json.loads(out)
    (row,) = listed(capsys, database_url, "token")
    enrolment = store.enrol(
        token=created["secret"],
        host_id="fin-ws-1",
        hostname="fin-ws-1",
        agent_version="0.1.0",
        now=unix(created["created_at"]) + 60,
    )

    assert (code, err) == (0, "")
    assert list(created)[:2] == ["token_id", "secret"]
    assert created["secret"].startswith("fst_")
    assert {k: v for k, v in created.items() if k != "secret"} == row
    assert (created["department"], created["note"], created["max_uses"]) == ("finance", "lab", 3)
    assert (created["state"], created["uses"], created["revoked_at"]) == ("valid", 0, None)
    assert created["created_at"].endswith("Z")
    assert created["expires_at"].endswith("Z")
    assert unix(created["expires_at"]) - unix(created["created_at"]) == pytest.approx(2 * 86400)
    assert enrolment.department == "finance"
    assert listed(capsys, database_url, "token")[0]["uses"] == 1


def test_api_token_create_as_json_is_one_object_whose_secret_the_api_accepts(
    database_url: str, engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, database_url, "api-token", "create", "--note", "grafana", "--format", "json"
    )
    created = json.loads(out)
    (row,) = listed(capsys, database_url, "api-token")

    assert (code, err) == (0, "")
    assert list(created)[:2] == ["token_id", "secret"]
    assert created["secret"].startswith("fsa_")
    assert {k: v for k, v in created.items() if k != "secret"} == row
    assert (created["state"], created["note"], created["revoked_at"]) == ("valid", "grafana", None)
    assert created["created_at"].endswith("Z")
    assert SqlApiTokens(engine).check(created["secret"])


def test_token_create_without_format_prints_the_same_text_as_before(
    database_url: str, store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, database_url, "token", "create", "--department", "finance")
    (row,) = listed(capsys, database_url, "token")
    secret = out.splitlines()[1].strip()

    assert (code, err) == (0, "")
    assert out == (
        f"token {row['token_id']} for department finance, "
        f"valid until {when(unix(row['expires_at']))}\n"
        f"  {secret}\n"
        "shown once; on each machine, the token on stdin (never on the command line, where ps "
        "shows it), as root: sudo fleetsight-agent enroll https://ADVISOR - < token.txt\n"
    )
    enrolment = store.enrol(
        token=secret,
        host_id="h-1",
        hostname="h-1",
        agent_version="0.1.0",
        now=unix(row["created_at"]) + 60,
    )
    assert enrolment.department == "finance"


def test_api_token_create_with_format_text_prints_the_same_text_as_before(
    database_url: str, engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, database_url, "api-token", "create", "--format", "text")
    (row,) = listed(capsys, database_url, "api-token")
    secret = out.splitlines()[1].strip()

    assert (code, err) == (0, "")
    assert out == (
        f"api token {row['token_id']}\n"
        f"  {secret}\n"
        "shown once; send it as 'Authorization: Bearer TOKEN' to /api/v1/...\n"
    )
    assert SqlApiTokens(engine).check(secret)


@pytest.mark.parametrize(
    "command", [["token", "create", "--department", "hr"], ["api-token", "create"]]
)
def test_create_refuses_csv_before_it_makes_a_token(
    database_url: str, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["--database-url", database_url, *command, "--format", "csv"])
    capsys.readouterr()

    assert usage.value.code == 2
    assert listed(capsys, database_url, command[0]) == []


def test_the_examples_in_the_tokens_docstrings_hold() -> None:
    result = doctest.testmod(advisor.cli.tokens, optionflags=doctest.NORMALIZE_WHITESPACE)

    assert result.attempted > 0
    assert result.failed == 0
