"""``fleetsight-advisor catalog ...`` and ``api-token ...`` end to end through advisor.cli.main."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from advisor.catalog.fleet import OutdatedReport, OutdatedRow, Unordered
from advisor.cli import main
from advisor.cli.catalog import write_outdated
from advisor.store.sql import SqlStore
from tests.advisor.catalog.conftest import ENDOFLIFE
from tests.advisor.catalog.fleetdata import write_fleet

ROOT = Path(__file__).resolve().parents[3]
AT = ["--at", "2026-08-22"]


def run(url: str, *argv: str) -> int:
    return main(["--database-url", url, *argv])


@pytest.fixture
def imported(database_url: str, store: SqlStore, tmp_path: Path) -> str:
    """A database with the fleet, the endoflife catalog, an alias file, costs and offers."""
    write_fleet(store)
    org = tmp_path / "org.toml"
    org.write_text('[aliases]\n"dpkg:postgresql-15" = "postgresql"\n', encoding="utf-8")
    assert run(database_url, "catalog", "import", "endoflife", str(ENDOFLIFE)) == 0
    assert run(database_url, "catalog", "import", "org", str(org)) == 0
    assert run(database_url, "catalog", "import", "costs", str(ROOT / "config/costs.toml")) == 0
    assert run(database_url, "catalog", "import", "upgradable") == 0
    return database_url


def test_importing_twice_says_no_changes(imported: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()

    assert run(imported, "catalog", "import", "endoflife", str(ENDOFLIFE)) == 0

    assert capsys.readouterr().out.endswith(f"(endoflife, {ENDOFLIFE}): no changes\n")
    assert run(imported, "catalog", "log", "--limit", "1") == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "IMPORTED", "KIND", "SUMMARY", "SOURCE"]
    assert "  endoflife  no changes  " in line
    assert run(imported, "catalog", "log", "--limit", "1", "--format", "json") == 0
    (entry,) = json.loads(capsys.readouterr().out)["imports"]
    assert (entry["kind"], entry["summary"]) == ("endoflife", "no changes")
    assert entry["imported_at"].endswith("Z")


def test_outdated_lists_the_behind_host_by_department_in_each_format(
    imported: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(imported, "catalog", "outdated", *AT) == 0
    table = capsys.readouterr().out
    assert table.split()[:3] == ["DEPARTMENT", "HOST", "PRODUCT"]
    assert "\nfinance: 2 host(s), 3 outdated\n" in table
    assert "15.20 (security)" in table

    assert run(imported, "catalog", "outdated", *AT, "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    (finance,) = document["departments"]
    assert (finance["department"], finance["hosts"]) == ("finance", 2)
    pg = next(r for r in finance["rows"] if r["product"] == "postgresql")
    assert (pg["installed"], pg["offered"], pg["status"]) == ("15.18", "15.20", "behind")

    assert run(imported, "catalog", "outdated", *AT, "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {row["department"] for row in rows} == {"finance"}
    assert len(rows) == 3
    assert run(imported, "catalog", "outdated", *AT, "--format", "csv", "--department", "hr") == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == []


def test_show_prints_cycles_with_their_status_on_the_date(
    imported: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    assert run(imported, "catalog", "show", "postgresql", *AT) == 0

    out = capsys.readouterr().out
    assert out.startswith("PostgreSQL (postgresql)\n")
    assert "aliases    dpkg:postgresql-15" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  1")}
    assert lines["15"].endswith("supported")
    assert lines["13"].endswith("end-of-life")
    newest = out.split("newest versions (")[1].splitlines()
    assert newest[1].split()[:2] == ["18.6", "2026-08-11"]


def test_unmatched_lists_packages_with_host_counts(
    imported: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    assert run(imported, "catalog", "unmatched") == 0

    captured = capsys.readouterr()
    rows = {line.split()[2]: line.split() for line in captured.out.splitlines()[1:]}
    assert captured.out.split()[:4] == ["HOSTS", "SOURCE", "PACKAGE", "REASON"]
    assert rows["jq"][:2] == ["1", "dpkg"]
    assert "postgresql-15" not in captured.out
    assert "unmatched package(s)" in captured.err


def test_an_org_file_with_a_bad_row_imports_the_rest_and_exits_1(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = tmp_path / "org.csv"
    org.write_text(
        "product,name,scheme,version,licence,price,currency,price_as_of\n"
        "acme-erp,ACME ERP,semver,5.2.0,per_seat_year,150.00,USD,2026-01-15\n"
        "vpn,VPN,semver,1.x,,,,\n",
        encoding="utf-8",
    )

    assert run(database_url, "catalog", "import", "org", str(org)) == 1

    captured = capsys.readouterr()
    assert f"{org}, line 3: '1.x' is not a valid semver version" in captured.err
    assert "1 rejected" in captured.out
    assert run(database_url, "catalog", "show", "acme-erp") == 0
    assert "per_seat_year 150.00 USD as of 2026-01-15" in capsys.readouterr().out


def test_errors_name_the_file_and_exit_1_and_bad_options_exit_2(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "products"
    broken.mkdir()
    (broken / "thing.md").write_text("---\ntitle: Thing\nreleases:\n  - eol: 2020-01-01\n---\n")

    assert run(database_url, "catalog", "import", "endoflife", str(tmp_path)) == 1
    assert f"{broken / 'thing.md'}: releases.0.releaseCycle" in capsys.readouterr().err
    assert run(database_url, "catalog", "show", "nothing") == 1
    assert "no product 'nothing'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        run(database_url, "catalog", "outdated", "--eol-within", "soon")
    assert usage.value.code == 2
    assert "'soon' is not a number of days" in capsys.readouterr().err


def test_api_tokens_are_created_listed_and_revoked(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(database_url, "api-token", "create", "--note", "grafana") == 0
    out = capsys.readouterr().out.splitlines()
    token_id = out[0].split()[-1]
    assert out[1].strip().startswith("fsa_")

    assert run(database_url, "api-token", "list") == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == [token_id[:8], "valid"]
    assert run(database_url, "api-token", "revoke", token_id[:8]) == 0
    assert f"api token {token_id} revoked" in capsys.readouterr().out
    assert run(database_url, "api-token", "revoke", "nope") == 1
    capsys.readouterr()
    assert run(database_url, "api-token", "list", "--format", "csv") == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert (row["token_id"], row["state"], row["note"]) == (token_id, "revoked", "grafana")


def test_outdated_prints_what_agents_sent_escaped_one_row_a_line() -> None:
    row = OutdatedRow(
        department="finance",
        host_id="host-1",
        hostname="fin-ws-1\x1b]0;owned\x07\nfin-ws-2",
        product="postgresql",
        package="postgresql-15",
        package_version="15.18-0+deb12u1",
        installed="15.18\u202e",
        cycle="15",
        latest="15.20",
        newest_in_cycle="15.20",
        newest_supported="17.6",
        offered="15.20\x1b[2J",
        offered_security=True,
        status="behind",
        end_of_life_on=None,
        cost_per_seat=None,
        currency=None,
    )
    odd = Unordered("host-1\x1b", "postgresql", "postgresql-15\n", "x\x1by", "cannot be ordered")
    report = OutdatedReport(rows=[row], unordered=[odd])
    table, as_csv = io.StringIO(), io.StringIO()

    write_outdated(report, "table", table, dt.date(2026, 8, 22))
    write_outdated(report, "csv", as_csv, dt.date(2026, 8, 22))

    for out in (table.getvalue(), as_csv.getvalue()):
        assert not {"\x1b", "\x07", "\u202e"} & set(out)
    lines = table.getvalue().splitlines()
    assert len(lines) == 5  # header, the row, a gap, the department, the version not compared
    assert lines[1].startswith(
        "finance     fin-ws-1\\x1b]0;owned\\x07\\nfin-ws-2  postgresql  15.18\\u202e"
    )
    assert "15.20\\x1b[2J (security)" in lines[1]
    assert lines[3] == "finance: 1 host(s), 1 outdated"
    assert lines[4] == (
        "not compared: postgresql 'x\\x1by' (postgresql-15\\n on host-1\\x1b): cannot be ordered"
    )
    (written,) = csv.DictReader(io.StringIO(as_csv.getvalue()))
    assert written["hostname"] == "fin-ws-1\\x1b]0;owned\\x07\\nfin-ws-2"
