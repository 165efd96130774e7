"""``fleetsight-advisor --help`` answers without loading the heavy modules, and output into a
pipe whose reader has gone ends quietly (`| head`), both in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# Each takes from tens of milliseconds (httpx, the store) to most of a second (scipy,
# sklearn, ruptures) to import; none is needed to build the parser or print help.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "numpy",
    "scipy",
    "sklearn",
    "ruptures",
    "statsmodels",
    "pandas",
    "httpx",
    "prometheus_client",
    "advisor.store",
    "advisor.simulator",
    "advisor.jobs.tasks",
    "advisor.jobs.serving",
    "advisor.jobs.scheduler",
    "advisor.api",
    "advisor.catalog",
    "advisor.analysis.changepoints",
    "advisor.analysis.fleet",
)

EVERY_HELP = """
import contextlib, io, json, sys
from advisor.cli import GROUPS, build_parser, main
parser = build_parser()
commands = ["", "serve", "check-config", "db", "token", "api-token", "host", "jobs",
            "catalog", "simulate", "detect", "analyse", "findings", "recommendations",
            "recommendations list", "recommendations approve", "budget", "budget plan"]
for command in commands:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main([*command.split(), "--help"])
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(
        name for name in modules if any(name == h or name.startswith(f"{h}.") for h in HEAVY)
    )


def test_building_the_parser_and_every_help_loads_nothing_heavy() -> None:
    loaded = loaded_after(EVERY_HELP)

    assert "advisor.cli.catalog" in loaded  # the real parser was built
    assert heavy_in(loaded) == []


def test_the_checker_sees_a_heavy_module_when_one_is_loaded() -> None:
    loaded = loaded_after(
        "import json, sys, advisor.store.open; print(json.dumps(list(sys.modules)))"
    )

    assert "sqlalchemy" in heavy_in(loaded)


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["token", "list", "--format", "csv"], 141),
        (["host", "list"], 141),
        (["--help"], 0),  # argparse drops what it cannot write of its help, and exits 0
    ],
)
def test_writing_into_a_pipe_nobody_reads_ends_quietly(
    argv: list[str], status: int, tmp_path: Path
) -> None:
    env = {**os.environ, "FLEETSIGHT_ADVISOR_CONFIG": os.devnull}
    env["FLEETSIGHT_ADVISOR_STATE_DIR"] = str(tmp_path)
    subprocess.run([sys.executable, "-m", "advisor", "db", "upgrade"], env=env, check=True,
                   cwd=REPO, capture_output=True)  # fmt: skip
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line, like `| head -0`
    try:
        done = subprocess.run(
            [sys.executable, "-m", "advisor", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            cwd=REPO,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)

    assert done.stderr == ""
    assert done.returncode == status


def test_a_reader_that_stops_after_one_line_gets_that_line_and_no_traceback() -> None:
    # The help is larger than what `head -c 1` takes and its pipe buffer: a real `| head`.
    pipeline = subprocess.run(
        ["sh", "-c", f"'{sys.executable}' -m advisor catalog --help | head -n 1; "
                     f"'{sys.executable}' -c 'print(\"x\" * 300000)' >/dev/null"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert pipeline.stdout.startswith("usage: fleetsight-advisor")
    assert "Traceback" not in pipeline.stderr
