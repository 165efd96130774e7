"""The AuditLog contract on SQLite and PostgreSQL, and the database holding it append-only."""

from __future__ import annotations

import math
from typing import Any

import pytest
import sqlalchemy as sa

from advisor.store.audit import AuditLog
from tests.advisor.store.recommendationsdata import T0


def test_an_entry_is_kept_as_recorded_with_increasing_ids(audit_log: AuditLog) -> None:
    first = audit_log.record(
        actor=" alice ",
        action="host.revoke",
        target="host:ws-0042",
        detail={"reason": "stolen laptop", "hosts": ("ws-0042",)},
        now=T0,
    )
    second = audit_log.record(
        actor="bob", action="catalog.import", target="catalog", detail={}, now=T0
    )

    assert second.entry_id > first.entry_id
    assert (first.actor, first.at, first.detail) == (
        "alice",
        T0,
        {"reason": "stolen laptop", "hosts": ["ws-0042"]},
    )
    assert audit_log.entries() == [second, first]


def test_entries_are_newest_first_filtered_by_actor_and_target_and_paged(
    audit_log: AuditLog,
) -> None:
    for i, (actor, target) in enumerate(
        [("alice", "host:a"), ("bob", "host:a"), ("alice", "host:b"), ("alice", "host:a")]
    ):
        # Entries are ordered as appended, whatever time the caller says they happened at.
        audit_log.record(
            actor=actor, action="host.revoke", target=target, detail={"i": i}, now=T0 - i
        )

    def order(**where: Any) -> list[int]:
        return [e.detail["i"] for e in audit_log.entries(**where)]

    assert order() == [3, 2, 1, 0]
    assert order(limit=2) == [3, 2]
    assert order(actor="alice") == [3, 2, 0]
    assert order(target="host:a") == [3, 1, 0]
    assert order(actor="alice", target="host:a") == [3, 0]
    page = audit_log.entries(limit=2)
    assert order(limit=2, before=page[-1].entry_id) == [1, 0]
    with pytest.raises(ValueError, match="limit must be at least 1"):
        audit_log.entries(limit=0)


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"actor": ""}, "actor must not be empty"),
        ({"actor": "x" * 201}, "actor must be at most 200 characters"),
        ({"actor": "alice\x1b]0;pwned\x07"}, "actor must be one line"),
        ({"action": "Host Revoke"}, "action must be dotted lower-case words"),
        ({"action": "host..revoke"}, "action must be dotted lower-case words"),
        ({"target": ""}, "target must not be empty"),
        ({"target": "host:a\nhost:b"}, "target must be one line"),
        ({"detail": {"seconds": math.nan}}, "detail is not JSON with finite numbers"),
        ({"detail": "stolen"}, "detail must be a JSON object"),
        ({"detail": {"blob": "x" * (1 << 20)}}, "detail must be at most 1048576 bytes"),
        ({"now": math.inf}, "now must be a finite number"),
    ],
)
def test_an_entry_that_cannot_be_stored_is_refused_naming_the_problem(
    audit_log: AuditLog, entry: dict[str, Any], named: str
) -> None:
    arguments: dict[str, Any] = {
        "actor": "alice",
        "action": "host.revoke",
        "target": "host:a",
        "detail": {},
        "now": T0,
        **entry,
    }

    with pytest.raises(ValueError) as refused:
        audit_log.record(**arguments)

    assert named in str(refused.value)
    assert audit_log.entries() == []


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"]
)
def test_the_database_refuses_to_change_or_delete_an_entry(
    audit_log: AuditLog, engine: sa.Engine, statement: str
) -> None:
    entry = audit_log.record(
        actor="alice", action="host.revoke", target="host:a", detail={}, now=T0
    )

    with (
        engine.begin() as conn,
        pytest.raises(sa.exc.DatabaseError, match="audit_log is append-only"),
    ):
        conn.execute(sa.text(statement))

    assert audit_log.entries() == [entry]
