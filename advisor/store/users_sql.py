""":class:`~advisor.store.users.Users` and :class:`~advisor.store.users.UiSessions` in SQL
(tables ``users`` and ``ui_sessions``, migration 0012)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from advisor.store.fields import finite, names, one_line
from advisor.store.models import UiSessionRow, UserRow, table_of
from advisor.store.tokens import new_secret, secret_sha256
from advisor.store.users import (
    HASH_PREFIX,
    MAX_NAME,
    MAX_USER_ID,
    ROLES,
    TOUCH_SECONDS,
    Role,
    UiSession,
    User,
)

USERS = table_of(UserRow)
SESSIONS = table_of(UiSessionRow)

SESSION_PREFIX = "fsu_"
SESSION_BYTES = 32
# Login names end up in URLs, logs and the audit log: plain characters only.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")


def checked_user_id(value: object) -> str:
    """``value`` if it can be a login name, else ValueError saying what one is."""
    if not isinstance(value, str) or not _USER_ID.fullmatch(value) or len(value) > MAX_USER_ID:
        raise ValueError(
            f"a user name is 1 to {MAX_USER_ID} letters, digits and . _ @ - (starting with a"
            f" letter or digit), not {value!r}"
        )
    return value


def checked_role(value: object) -> Role:
    if value not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {value!r}")
    return value


def _user(row: Mapping[Any, Any]) -> User:
    return User(
        user_id=row["user_id"],
        name=row["name"],
        role=checked_role(row["role"]),
        departments=tuple(row["departments"]),
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
    )


class SqlUsers:
    """:class:`~advisor.store.users.Users` on ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add(
        self, user_id: str, *, name: str, role: Role, departments: tuple[str, ...], now: float
    ) -> User:
        user = User(
            user_id=checked_user_id(user_id),
            name=one_line(name, field="name", limit=MAX_NAME),
            role=checked_role(role),
            departments=tuple(sorted(set(names(departments, field="departments", limit=200)))),
            created_at=finite(now, field="now"),
            disabled_at=None,
        )
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    USERS.insert().values(
                        user_id=user.user_id,
                        name=user.name,
                        role=user.role,
                        departments=list(user.departments),
                        password_hash=None,
                        created_at=user.created_at,
                        disabled_at=None,
                    )
                )
        except sa.exc.IntegrityError:
            raise ValueError(f"there is a user {user_id!r} already") from None
        return user

    def get(self, user_id: str) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(USERS).where(USERS.c.user_id == user_id)).first()
        return None if row is None else _user(row._mapping)

    def list(self) -> list[User]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(USERS).order_by(USERS.c.user_id))
            return [_user(r._mapping) for r in rows]

    def set_role(self, user_id: str, role: Role) -> bool:
        checked = checked_role(role)
        with self._engine.begin() as conn:
            changed = conn.execute(
                USERS.update().where(USERS.c.user_id == user_id).values(role=checked)
            )
            return changed.rowcount > 0

    def disable(self, user_id: str, *, now: float) -> bool:
        with self._engine.begin() as conn:
            conn.execute(
                USERS.update()
                .where(USERS.c.user_id == user_id, USERS.c.disabled_at.is_(None))
                .values(disabled_at=finite(now, field="now"))
            )
            conn.execute(SESSIONS.delete().where(SESSIONS.c.user_id == user_id))
            found = conn.execute(sa.select(USERS.c.user_id).where(USERS.c.user_id == user_id))
            return found.first() is not None

    def set_password_hash(self, user_id: str, password_hash: str) -> bool:
        if not password_hash.startswith(HASH_PREFIX):
            raise ValueError("a password is stored as its argon2 hash, never as itself")
        with self._engine.begin() as conn:
            changed = conn.execute(
                USERS.update().where(USERS.c.user_id == user_id).values(password_hash=password_hash)
            )
            return changed.rowcount > 0

    def password_hash(self, user_id: str) -> str | None:
        with self._engine.connect() as conn:
            found = conn.execute(
                sa.select(USERS.c.password_hash).where(USERS.c.user_id == user_id)
            ).scalar()
        return None if found is None else str(found)


class SqlUiSessions:
    """:class:`~advisor.store.users.UiSessions` on ``engine``; ``rng`` makes the random bytes
    (injected so tests are reproducible)."""

    def __init__(
        self, engine: sa.Engine, *, rng: Callable[[int], bytes] = secrets.token_bytes
    ) -> None:
        self._engine = engine
        self._rng = rng

    def create(self, user_id: str, *, now: float, lifetime: float) -> tuple[str, UiSession]:
        token = new_secret(SESSION_PREFIX, SESSION_BYTES, self._rng)
        row = {
            "token_sha256": secret_sha256(token),
            "user_id": user_id,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + lifetime,
            "csrf_secret": self._rng(SESSION_BYTES).hex(),
        }
        with self._engine.begin() as conn:
            user = conn.execute(sa.select(USERS).where(USERS.c.user_id == user_id)).first()
            if user is None or user.disabled_at is not None:
                raise ValueError(f"no active user {user_id!r} to log in")
            conn.execute(SESSIONS.insert().values(**row))
        return token, _session(row, _user(user._mapping))

    def lookup(self, token: str, *, now: float, idle_seconds: float) -> UiSession | None:
        key = secret_sha256(token)
        query = (
            sa.select(SESSIONS, *[c.label(f"u_{c.name}") for c in USERS.c])
            .join(USERS, USERS.c.user_id == SESSIONS.c.user_id)
            .where(
                SESSIONS.c.token_sha256 == key,
                SESSIONS.c.expires_at > now,
                SESSIONS.c.last_seen_at > now - idle_seconds,
                USERS.c.disabled_at.is_(None),
            )
        )
        with self._engine.connect() as conn:
            found = conn.execute(query).first()
        if found is None:
            return None
        values = found._mapping
        user = _user({c.name: values[f"u_{c.name}"] for c in USERS.c})
        session = _session({c.name: values[c.name] for c in SESSIONS.c}, user)
        if now - session.last_seen_at >= TOUCH_SECONDS:
            with self._engine.begin() as conn:
                conn.execute(
                    SESSIONS.update().where(SESSIONS.c.token_sha256 == key).values(last_seen_at=now)
                )
        return session

    def end(self, token: str) -> bool:
        with self._engine.begin() as conn:
            deleted = conn.execute(
                SESSIONS.delete().where(SESSIONS.c.token_sha256 == secret_sha256(token))
            )
            return deleted.rowcount > 0

    def end_all(self, user_id: str) -> int:
        with self._engine.begin() as conn:
            return conn.execute(SESSIONS.delete().where(SESSIONS.c.user_id == user_id)).rowcount

    def purge(self, *, now: float, idle_seconds: float) -> int:
        with self._engine.begin() as conn:
            return conn.execute(
                SESSIONS.delete().where(
                    sa.or_(
                        SESSIONS.c.expires_at <= now,
                        SESSIONS.c.last_seen_at <= now - idle_seconds,
                    )
                )
            ).rowcount


def _session(row: Mapping[str, Any], user: User) -> UiSession:
    return UiSession(
        session_id=row["token_sha256"],
        user=user,
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        expires_at=row["expires_at"],
        csrf_secret=row["csrf_secret"],
    )
