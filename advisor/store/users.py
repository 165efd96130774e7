"""The people who use the advisor's web interface, their roles, and their sessions.

Roles are ranked: a ``viewer`` reads, a ``manager`` also reviews recommendations, an
``admin`` also manages settings, users and tokens (:func:`allows`). ``departments`` limits
what a person reviews; empty means every department.

Two interfaces, one per idea: :class:`Users` (who people are, and the argon2 hash of their
password, hashed by the caller, advisor.ui.passwords) and :class:`UiSessions` (who is logged
in). Neither stores a password or a session token: a session is known by the SHA-256 of its
token, as the API tokens are (advisor.store.tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["viewer", "manager", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "manager", "admin")
"""From least to most allowed."""

MAX_USER_ID = 64
MAX_NAME = 200
HASH_PREFIX = "$argon2"


def allows(role: Role, needed: Role) -> bool:
    """Whether ``role`` may do what ``needed`` may.

    >>> allows("admin", "manager"), allows("viewer", "manager")
    (True, False)
    """
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True, slots=True)
class User:
    """A person; ``departments`` empty means every department.

    Example: ``User("alice", "Alice Martin", "manager", ("finance",), 1787400000.0, None)``.
    """

    user_id: str
    name: str
    role: Role
    departments: tuple[str, ...]
    created_at: float
    disabled_at: float | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


class Users(Protocol):
    """People and their roles.

    Contract: :meth:`add` refuses (ValueError) an existing ``user_id``, a ``user_id`` that is
    not 1-64 characters of letters, digits and ``._@-``, a ``name`` empty or of several
    lines, a role not in :data:`ROLES`; :meth:`set_role`, :meth:`disable` and
    :meth:`set_password_hash` are False for an unknown user, and disabling twice keeps the
    first time; a disabled user is still listed and returned by :meth:`get` (history names
    them), with ``disabled_at`` set. :meth:`list` is by ``user_id``. A user has no password
    until :meth:`set_password_hash`; hashes must be argon2 (ValueError otherwise), so a
    password can never be stored by mistake in their place.
    """

    def add(
        self, user_id: str, *, name: str, role: Role, departments: tuple[str, ...], now: float
    ) -> User: ...

    def get(self, user_id: str) -> User | None: ...

    def list(self) -> list[User]: ...

    def set_role(self, user_id: str, role: Role) -> bool: ...

    def disable(self, user_id: str, *, now: float) -> bool: ...

    def set_password_hash(self, user_id: str, password_hash: str) -> bool: ...

    def password_hash(self, user_id: str) -> str | None:
        """The argon2 hash of ``user_id``'s password; None for an unknown user or one
        without a password."""
        ...


@dataclass(frozen=True, slots=True)
class UiSession:
    """A logged-in browser: whose, since when, and the secret its forms carry (CSRF).

    ``session_id`` is the SHA-256 of the cookie's token, never the token itself.
    """

    session_id: str
    user: User
    created_at: float
    last_seen_at: float
    expires_at: float
    csrf_secret: str


class UiSessions(Protocol):
    """Sessions of the web interface.

    Contract: times are Unix seconds. :meth:`create` returns ``(token, session)``; the token
    is shown only then (only its SHA-256 is stored). :meth:`lookup` returns the session of a
    token while it is valid: ``now`` before its ``expires_at`` (set at creation: the absolute
    lifetime), less than ``idle_seconds`` after it was last seen, and its user not disabled;
    it notes ``now`` as last seen (at most every :data:`TOUCH_SECONDS`, to spare the
    database a write per page). Anything else, unknown tokens included, is None.
    :meth:`end` deletes one session (False if unknown); :meth:`end_all` every session of a
    user (on disable and password change); :meth:`purge` the expired ones.
    """

    def create(self, user_id: str, *, now: float, lifetime: float) -> tuple[str, UiSession]: ...

    def lookup(self, token: str, *, now: float, idle_seconds: float) -> UiSession | None: ...

    def end(self, token: str) -> bool: ...

    def end_all(self, user_id: str) -> int: ...

    def purge(self, *, now: float, idle_seconds: float) -> int: ...


TOUCH_SECONDS = 30.0
