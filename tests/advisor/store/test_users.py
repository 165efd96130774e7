"""The Users and UiSessions contracts on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from advisor.store.users import TOUCH_SECONDS, UiSessions, Users
from advisor.store.users_sql import SESSIONS, SqlUiSessions, SqlUsers

T0 = 1_787_400_000.0
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
DAY = 86400.0


@pytest.fixture
def users(engine: sa.Engine) -> Users:
    return SqlUsers(engine)


@pytest.fixture
def sessions(engine: sa.Engine) -> UiSessions:
    return SqlUiSessions(engine)


def test_a_user_is_added_once_and_read_back(users: Users) -> None:
    added = users.add("alice", name="Alice Martin", role="manager", departments=("hr",), now=T0)

    assert users.get("alice") == added
    assert added.departments == ("hr",)
    with pytest.raises(ValueError, match="already"):
        users.add("alice", name="Another", role="viewer", departments=(), now=T0)


@pytest.mark.parametrize("bad", ["", "al ice", "<script>", "a" * 65, "-x"])
def test_user_names_that_cannot_be_login_names_are_refused(users: Users, bad: str) -> None:
    with pytest.raises(ValueError, match="user name"):
        users.add(bad, name="X", role="viewer", departments=(), now=T0)
    assert users.list() == []


def test_the_old_reviewer_role_is_refused(users: Users) -> None:
    with pytest.raises(ValueError, match="viewer, manager, admin"):
        users.add("bob", name="Bob", role="reviewer", departments=(), now=T0)  # type: ignore[arg-type]


def test_users_are_listed_by_id_disabled_ones_too(users: Users) -> None:
    users.add("zoe", name="Zoe", role="admin", departments=(), now=T0)
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)
    assert users.disable("zoe", now=T0 + 1)
    assert users.disable("zoe", now=T0 + 2)

    listed = users.list()

    assert [(u.user_id, u.disabled_at) for u in listed] == [("bob", None), ("zoe", T0 + 1)]


def test_unknown_users_cannot_be_changed(users: Users) -> None:
    assert not users.set_role("nobody", "admin")
    assert not users.disable("nobody", now=T0)
    assert not users.set_password_hash("nobody", HASH)
    assert users.password_hash("nobody") is None


def test_a_role_is_changed(users: Users) -> None:
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)

    assert users.set_role("bob", "manager")

    found = users.get("bob")
    assert found is not None
    assert found.role == "manager"


def test_only_argon2_hashes_are_stored_as_passwords(users: Users) -> None:
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)
    assert users.password_hash("bob") is None

    with pytest.raises(ValueError, match="argon2"):
        users.set_password_hash("bob", "hunter2hunter2")
    assert users.set_password_hash("bob", HASH)

    assert users.password_hash("bob") == HASH


def test_a_session_is_found_by_its_token_until_it_ends(users: Users, sessions: UiSessions) -> None:
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)
    token, created = sessions.create("bob", now=T0, lifetime=DAY)

    found = sessions.lookup(token, now=T0 + 1, idle_seconds=600)

    assert found == created
    assert found.user.user_id == "bob"
    assert sessions.lookup(token + "x", now=T0 + 1, idle_seconds=600) is None
    assert sessions.end(token)
    assert not sessions.end(token)
    assert sessions.lookup(token, now=T0 + 2, idle_seconds=600) is None


def test_only_the_hash_of_a_session_token_is_stored(
    users: Users, sessions: UiSessions, engine: sa.Engine
) -> None:
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)
    token, _ = sessions.create("bob", now=T0, lifetime=DAY)

    with engine.connect() as conn:
        stored = [tuple(str(v) for v in row) for row in conn.execute(sa.select(SESSIONS))]

    assert stored
    assert not any(token in value for row in stored for value in row)


def test_a_session_ends_after_its_lifetime_however_busy(users: Users, sessions: UiSessions) -> None:
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)
    token, _ = sessions.create("bob", now=T0, lifetime=3600)

    for minute in range(1, 60):
        assert sessions.lookup(token, now=T0 + 60 * minute, idle_seconds=600) is not None
    assert sessions.lookup(token, now=T0 + 3600, idle_seconds=600) is None


def test_a_session_left_idle_ends_and_being_seen_keeps_it(
    users: Users, sessions: UiSessions
) -> None:
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)
    busy, _ = sessions.create("bob", now=T0, lifetime=DAY)
    idle, _ = sessions.create("bob", now=T0, lifetime=DAY)

    assert sessions.lookup(busy, now=T0 + 500, idle_seconds=600) is not None
    assert sessions.lookup(busy, now=T0 + 1000, idle_seconds=600) is not None
    assert sessions.lookup(idle, now=T0 + 1000, idle_seconds=600) is None


def test_seen_again_within_the_touch_interval_is_not_written(
    users: Users, sessions: UiSessions
) -> None:
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)
    token, _ = sessions.create("bob", now=T0, lifetime=DAY)

    sessions.lookup(token, now=T0 + TOUCH_SECONDS / 2, idle_seconds=600)
    found = sessions.lookup(token, now=T0 + TOUCH_SECONDS, idle_seconds=600)

    assert found is not None
    assert found.last_seen_at == T0


def test_disabling_a_user_ends_their_sessions_and_refuses_new_ones(
    users: Users, sessions: UiSessions
) -> None:
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)
    token, _ = sessions.create("bob", now=T0, lifetime=DAY)

    users.disable("bob", now=T0 + 1)

    assert sessions.lookup(token, now=T0 + 2, idle_seconds=600) is None
    with pytest.raises(ValueError, match="no active user"):
        sessions.create("bob", now=T0 + 3, lifetime=DAY)


def test_every_session_of_a_user_can_be_ended_and_expired_ones_purged(
    users: Users, sessions: UiSessions
) -> None:
    users.add("bob", name="Bob", role="viewer", departments=(), now=T0)
    users.add("eve", name="Eve", role="viewer", departments=(), now=T0)
    sessions.create("bob", now=T0, lifetime=DAY)
    sessions.create("bob", now=T0, lifetime=DAY)
    old, _ = sessions.create("eve", now=T0, lifetime=60)
    kept, _ = sessions.create("eve", now=T0 + 100, lifetime=DAY)

    assert sessions.end_all("bob") == 2
    assert sessions.purge(now=T0 + 120, idle_seconds=600) == 1
    assert sessions.lookup(kept, now=T0 + 120, idle_seconds=600) is not None
    assert sessions.lookup(old, now=T0 + 30, idle_seconds=600) is None
