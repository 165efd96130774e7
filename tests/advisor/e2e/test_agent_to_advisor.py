"""A real agent enrols with and ships to a real advisor, on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.store.models import BatchRecord, Host, LaunchRow
from advisor.store.sql import SqlStore
from tests.e2e.advisorproc import AdvisorProcess
from tests.e2e.agentproc import AgentProcess, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def stored_sequences(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(conn.scalars(sa.select(BatchRecord.sequence)))


def test_every_batch_is_stored_exactly_once_across_an_advisor_crash(
    database_url: str, tmp_path: Path
) -> None:
    engine = sa.create_engine(database_url)
    advisor = AdvisorProcess(tmp_path, database_url).start()
    (tmp_path / "agent").mkdir()
    agent = AgentProcess(tmp_path / "agent")
    try:
        token = advisor.create_token("finance")
        enrolled = agent.cli("enroll", advisor.url, token)
        assert "department finance" in enrolled.stdout
        agent.start()
        assert wait_until(lambda: len(stored_sequences(engine)) >= 3, timeout=60), agent.log_text()
        advisor.kill9()  # mid-stream: the agent keeps spooling
        time.sleep(2.5)
        agent.cli("time", "--app", "login-script", "--", "true")
        advisor.start()

        def login_stored() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.scalar(sa.select(sa.func.count()).where(LaunchRow.app == "login-script"))
                )

        assert wait_until(login_stored, timeout=60), agent.log_text()
        assert agent.terminate() == 0
        agent.start()  # ships the partial interval spooled at SIGTERM
        assert wait_until(lambda: not agent.spooled_ids(), timeout=60), agent.log_text()
        assert agent.terminate() == 0
    finally:
        agent.close()
        advisor.close()

    sequences = stored_sequences(engine)
    assert len(sequences) == len(set(sequences)), "a batch was stored twice"
    assert sequences == list(range(sequences[0], sequences[-1] + 1)), "a batch went missing"
    with engine.connect() as conn:
        host = conn.execute(sa.select(Host.host_id, Host.department)).one()
    assert host.department == "finance"
    store = SqlStore(engine)
    assert store.version_history(host.host_id), "the inventory built no version history"
    engine.dispose()
