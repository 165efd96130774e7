from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from advisor.cli import main
from tests.advisor.analysis.noise import steps

ROOT = Path(__file__).parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "analysis"
RECORDED = FIXTURES / "libreoffice-warm.csv"


def write_series(path: Path, values: np.ndarray, *, gaps: tuple[int, ...] = ()) -> Path:
    rows = ["t,value"]
    for i, v in enumerate(values.tolist()):
        rows.append(f"{1_700_000_000 + 600 * i},{'' if i in gaps else round(v, 4)}")
    path.write_text("\n".join(rows) + "\n")
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_it_prints_the_change_points_of_a_file_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = steps(np.random.default_rng(1), 300, {120: 0.8}, outliers=0.0)
    code, out, err = run(["detect", str(write_series(tmp_path / "s.csv", values))], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert list(result) == ["change_points"]
    assert len(result["change_points"]) == 1
    assert abs(result["change_points"][0] - 120) <= 3


def test_it_counts_rows_with_empty_values_in_the_indices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = steps(np.random.default_rng(2), 300, {150: 0.8}, outliers=0.0)
    gaps = (*range(140, 155), *range(0, 300, 9))
    code, out, _ = run(["detect", str(write_series(tmp_path / "s.csv", values, gaps=gaps))], capsys)
    assert code == 0
    (index,) = json.loads(out)["change_points"]
    assert 155 <= index <= 158  # the first observed row of the new level


def test_it_prints_an_empty_list_for_a_steady_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = steps(np.random.default_rng(3), 500, {})
    code, out, _ = run(["detect", str(write_series(tmp_path / "s.csv", values))], capsys)
    assert (code, out) == (0, '{"change_points": []}\n')


def test_it_adds_segments_and_intervals_only_when_verbose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    truth = json.loads((FIXTURES / "libreoffice-warm.truth.json").read_text())
    code, out, _ = run(["detect", "--verbose", str(RECORDED)], capsys)
    assert code == 0
    result = json.loads(out)
    (index,) = result["change_points"]
    assert abs(index - truth["first_index_after"]) <= 3
    assert result["points"] == truth["points"]
    assert result["scale"] == "log"
    assert [(s["start"], s["end"]) for s in result["segments"]] == [(0, index), (index, 141)]
    (shift,) = result["shifts"]
    low, high = shift["relative_interval"]
    assert low < truth["effect"] < high


def test_it_reads_stdin_for_a_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(RECORDED.read_bytes())))
    code, out, _ = run(["detect", "-"], capsys)
    assert code == 0
    assert len(json.loads(out)["change_points"]) == 1


def test_it_names_stdin_in_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"t,value\n1,x\n")))
    code, out, err = run(["detect", "-"], capsys)
    assert (code, out) == (2, "")
    assert err == "fleetsight-advisor detect: <stdin>, line 2: value 'x' is not a number\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{path}: the file is empty"),
        ("1,2\n2,3\n", "{path}, line 1: missing header"),
        ("t,value\n1,2\n2,slow\n", "{path}, line 3: value 'slow' is not a number"),
        ("t,value\n5,2\n4,3\n", "{path}, line 3: t '4' is earlier than the t of line 2"),
    ],
    ids=["empty file", "missing header", "non-numeric value", "time going backwards"],
)
def test_it_refuses_a_bad_file_with_exit_code_2_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code, out, err = run(["detect", str(path)], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("fleetsight-advisor detect: " + message.format(path=path))
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_it_refuses_a_missing_file_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    code, _, err = run(["detect", str(missing)], capsys)
    assert code == 2
    assert err == f"fleetsight-advisor detect: {missing}: cannot read: No such file or directory\n"


def test_it_refuses_a_directory_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["detect", str(tmp_path)], capsys)
    assert code == 2
    assert err.startswith(f"fleetsight-advisor detect: {tmp_path}: cannot read: ")


def test_it_escapes_control_characters_of_the_file_name_in_its_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fleet\x1b[2J\nexport.csv"
    path.write_text("t,value\n1,x\n")

    code, _, err = run(["detect", str(path)], capsys)

    assert code == 2
    assert "fleet\\x1b[2J\\nexport.csv" in err
    assert "\x1b" not in err
    assert err.count("\n") == 1


def test_its_options_change_the_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = steps(np.random.default_rng(4), 300, {150: 0.3}, outliers=0.0)
    path = str(write_series(tmp_path / "s.csv", values))
    _, out, _ = run(["detect", path], capsys)
    assert len(json.loads(out)["change_points"]) == 1
    _, out, _ = run(["detect", "--penalty-factor", "1000", path], capsys)
    assert json.loads(out)["change_points"] == []
    _, out, _ = run(["detect", "--min-shift", "0.5", path], capsys)
    assert json.loads(out)["change_points"] == []
    with pytest.raises(SystemExit) as exited:
        main(["detect", "--min-size", "1", path])
    assert exited.value.code == 2


def test_the_installed_command_runs_detect() -> None:
    command = ROOT / ".venv" / "bin" / "fleetsight-advisor"
    if not command.exists():
        found = shutil.which("fleetsight-advisor")
        assert found, "fleetsight-advisor is not installed"
        command = Path(found)
    done = subprocess.run(
        [str(command), "detect", str(RECORDED)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    truth = json.loads((FIXTURES / "libreoffice-warm.truth.json").read_text())
    (index,) = json.loads(done.stdout)["change_points"]
    assert abs(index - truth["first_index_after"]) <= 3
