"""The people who use the advisor's web interface, and their roles.

Only the interface for now (issue 12 prepares it; the next issues implement it with a
migration and a contract suite over SQLite and PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["viewer", "reviewer", "admin"]


@dataclass(frozen=True, slots=True)
class User:
    """A person; ``departments`` empty means every department."""

    user_id: str
    name: str
    role: Role
    departments: tuple[str, ...]
    created_at: float
    disabled_at: float | None


class Users(Protocol):
    """People and their roles.

    Contract: :meth:`add` refuses (ValueError) an existing ``user_id``; :meth:`set_role` and
    :meth:`disable` are False for an unknown user, and disabling twice keeps the first time;
    a disabled user is still listed and returned by :meth:`get` (history names them), with
    ``disabled_at`` set. :meth:`list` is by ``user_id``. Secrets (passwords, sessions) are
    not this interface's: it stores who people are, not how they log in.
    """

    def add(
        self, user_id: str, *, name: str, role: Role, departments: tuple[str, ...], now: float
    ) -> User: ...

    def get(self, user_id: str) -> User | None: ...

    def list(self) -> list[User]: ...

    def set_role(self, user_id: str, role: Role) -> bool: ...

    def disable(self, user_id: str, *, now: float) -> bool: ...
