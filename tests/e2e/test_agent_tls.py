"""The agent enrols and ships over HTTPS, trusting the system's store as a machine has it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.agentproc import AgentProcess
from tests.fakes.receiver import Receiver
from tests.fakes.tls import hashed_store, server_context

pytestmark = pytest.mark.e2e


def test_batches_arrive_over_https_verified_against_the_system_store(tmp_path: Path) -> None:
    with Receiver(tls=server_context()) as receiver:
        receiver.add_token("tok-tls")
        agent = AgentProcess(tmp_path, environ=hashed_store(tmp_path))
        assert "enrolled with" in agent.cli("enroll", receiver.url, "tok-tls").stdout
        agent.start()
        try:
            assert receiver.wait_for_batches(2, timeout=30), agent.log_text()
        finally:
            assert agent.terminate() == 0


def test_an_advisor_the_store_does_not_vouch_for_is_refused_with_a_reason(
    tmp_path: Path,
) -> None:
    with Receiver(tls=server_context()) as receiver:
        receiver.add_token("tok-tls")
        agent = AgentProcess(tmp_path, environ=hashed_store(tmp_path, with_test_ca=False))
        result = agent.cli("enroll", receiver.url, "tok-tls", check=False)
    assert result.returncode != 0
    assert "certificate verify failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert not receiver.enrolled
