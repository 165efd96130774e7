"""What a new operator reads in the first hour matches what the programs do (issue 12)."""

from __future__ import annotations

import re

from agent.reported import LAUNCHES_PATH, MAX_BODY_BYTES, MAX_EVENTS_PER_POST
from tests.conftest import REPO

DOCS = REPO / "docs"


def test_no_document_tells_the_operator_to_sudo_to_the_dynamic_user() -> None:
    for path in [REPO / "README.md", *DOCS.glob("*.md")]:
        assert "sudo -u fleetsight" not in path.read_text(), path


def test_the_readme_enrols_as_root_and_restarts_the_agent() -> None:
    readme = (REPO / "README.md").read_text()
    assert re.search(r"sudo \S*fleetsight-agent enroll https://\S+ - < token\.txt", readme)
    assert "sudo systemctl restart fleetsight-agent" in readme


def test_the_readme_makes_the_tls_files_the_example_config_names() -> None:
    readme = (REPO / "README.md").read_text()
    assert "-keyout /etc/fleetsight/advisor.key -out /etc/fleetsight/advisor.crt" in readme
    assert "LoadCredential=" in readme


def test_the_report_endpoint_doc_states_the_limits_the_code_enforces() -> None:
    text = (DOCS / "report-endpoint.md").read_text()
    assert f"POST {LAUNCHES_PATH}" in text
    assert f"curl -sS -X POST http://127.0.0.1:9799{LAUNCHES_PATH}" in text
    assert f"{MAX_BODY_BYTES // 1024} KiB" in text
    assert f"up to {MAX_EVENTS_PER_POST}" in text


def test_the_short_process_limit_of_passive_watching_is_documented_with_ways_around_it() -> None:
    text = (DOCS / "launch-timing.md").read_text()
    for way in ("fleetsight-agent time", "[[probes.command]]", "report-endpoint.md"):
        assert way in text
    assert "launch-timing.md" in (DOCS / "configuration.md").read_text()
