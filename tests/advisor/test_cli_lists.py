"""The list commands' three formats and the id prefixes the commands accept, on ``host`` and
``token`` (every list is written by the same advisor.cli.output)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.cli import main
from advisor.store.engine import make_engine
from advisor.store.sql import SqlStore
from tests.advisor.store.batches import batch

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlStore]:
    """An upgraded SQLite database in a state dir the CLI is pointed at."""
    config = tmp_path / "advisor.toml"
    config.write_text("")
    monkeypatch.setenv("FLEETSIGHT_ADVISOR_CONFIG", str(config))
    monkeypatch.setenv("FLEETSIGHT_ADVISOR_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("FLEETSIGHT_ADVISOR_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    opened = SqlStore(make_engine(f"sqlite:///{tmp_path / 'advisor.sqlite3'}"))
    yield opened
    opened.close()


def enrol(store: SqlStore, host_id: str, hostname: str) -> None:
    token, _ = store.create_token(department="finance", expires_at=T0 * 2, now=T0)
    store.enrol(token=token, host_id=host_id, hostname=hostname, agent_version="0.3.1", now=T0)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


HOST_A = "9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d"
HOST_B = "9b1deb4d77aa0c11d0e2f3a4b5c6d7e8"


def test_host_list_shows_a_header_short_ids_hostnames_and_iso_times(
    store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    enrol(store, HOST_A, "fin-ws-01")
    enrol(store, HOST_B, "fin-ws-02")

    code, out, _ = run(capsys, "host", "list")

    header, *lines = out.splitlines()
    assert code == 0
    assert header.split() == [
        "ID",
        "HOSTNAME",
        "DEPARTMENT",
        "STATE",
        "LAST",
        "SEEN",
        "AGENT",
        "CLOCK",
    ]
    # The two ids share 8 characters, so each is shown to the first that differs.
    assert [line.split()[:2] for line in lines] == [
        ["9b1deb4d3", "fin-ws-01"],
        ["9b1deb4d7", "fin-ws-02"],
    ]
    assert lines[0].split()[4] == "never"


def test_host_list_as_json_and_csv_carries_full_ids_and_exact_iso_times(
    store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    enrol(store, HOST_A, "fin-ws-01")

    _, as_json, _ = run(capsys, "host", "list", "--format", "json")
    _, as_csv, _ = run(capsys, "host", "list", "--format", "csv")

    (host,) = json.loads(as_json)["hosts"]
    assert host == {
        "host_id": HOST_A,
        "hostname": "fin-ws-01",
        "department": "finance",
        "state": "active",
        "last_seen_at": None,
        "enrolled_at": "2025-11-24T16:00:00Z",
        "revoked_at": None,
        "agent_version": "0.3.1",
        "clock_skew_seconds": None,
    }
    (row,) = csv.DictReader(io.StringIO(as_csv))
    assert row == {key: "" if value is None else value for key, value in host.items()}


def test_host_list_says_whose_clock_is_ahead_from_the_newest_batch(
    store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    enrol(store, HOST_A, "fin-ws-01")
    enrol(store, HOST_B, "fin-ws-02")
    # A sends its batch stamped 5 minutes after the advisor receives it: its clock is ahead.
    store.ingest(HOST_A, batch(HOST_A, 1, [(T0, {})]), received_at=T0 + 60, sent_at=T0 + 360)
    store.ingest(HOST_B, batch(HOST_B, 1, [(T0, {})]), received_at=T0 + 60, sent_at=T0 + 59.5)

    _, table, _ = run(capsys, "host", "list")
    _, as_json, _ = run(capsys, "host", "list", "--format", "json")

    lines = table.splitlines()[1:]
    assert lines[0].endswith("5 min ahead")
    assert lines[1].endswith("in sync")
    skews = [h["clock_skew_seconds"] for h in json.loads(as_json)["hosts"]]
    assert skews == [-300.0, 0.5]


def test_a_hostname_a_spreadsheet_would_run_is_defused_in_csv_only(
    store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    enrol(store, HOST_A, '=HYPERLINK("http://evil.example","x")')

    _, as_csv, _ = run(capsys, "host", "list", "--format", "csv")
    _, as_json, _ = run(capsys, "host", "list", "--format", "json")

    (row,) = csv.DictReader(io.StringIO(as_csv))
    assert row["hostname"] == '\'=HYPERLINK("http://evil.example","x")'
    assert json.loads(as_json)["hosts"][0]["hostname"].startswith("=HYPERLINK")


def test_host_revoke_takes_a_unique_prefix_and_refuses_an_ambiguous_one(
    store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    enrol(store, HOST_A, "fin-ws-01")
    enrol(store, HOST_B, "fin-ws-02")

    ambiguous = run(capsys, "host", "revoke", "9b1deb4d")
    code, out, _ = run(capsys, "host", "revoke", "9b1deb4d3")
    missing = run(capsys, "host", "release", "0000")

    assert ambiguous[0] == 2
    assert ambiguous[2] == (
        "fleetsight-advisor: host id '9b1deb4d' is ambiguous: it starts 2 ids "
        f"({HOST_A}, {HOST_B}); type more of it\n"
    )
    assert code == 0
    assert out.startswith(f"host {HOST_A} revoked")
    assert {h.host_id: h.revoked_at is not None for h in store.list_hosts()} == {
        HOST_A: True,
        HOST_B: False,
    }
    assert missing[0] == 1
    assert "no host 0000" in missing[2]


def test_token_revoke_takes_the_short_id_the_list_prints(
    store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    _, created, _ = run(capsys, "token", "create", "--department", "hr", "--note", "=1+1")
    token_id = created.split()[1]
    _, listed, _ = run(capsys, "token", "list")
    short = listed.splitlines()[1].split()[0]

    code, out, _ = run(capsys, "token", "revoke", short)
    _, as_csv, _ = run(capsys, "token", "list", "--format", "csv")

    assert token_id.startswith(short)
    assert len(short) == 8
    assert (code, out) == (0, f"token {token_id} revoked\n")
    (row,) = csv.DictReader(io.StringIO(as_csv))
    assert (row["token_id"], row["state"], row["note"]) == (token_id, "revoked", "'=1+1")
    assert row["expires_at"].endswith("Z")


def test_every_list_has_the_format_option(capsys: pytest.CaptureFixture[str]) -> None:
    lists = [["token", "list"], ["api-token", "list"], ["host", "list"], ["jobs", "status"],
             ["findings", "list"], ["catalog", "outdated"], ["catalog", "unmatched"],
             ["catalog", "log"], ["recommendations", "list"], ["recommendations", "departments"],
             ["budget", "plan"]]  # fmt: skip
    for argv in lists:
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        assert "--format {table,json,csv}" in capsys.readouterr().out, argv
