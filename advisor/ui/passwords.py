"""Passwords: argon2id hashes (argon2-cffi's PasswordHasher), never the password itself.

:meth:`Passwords.verify` takes the same time whether the user exists or not (an unknown
user's password is checked against a dummy hash made with the same parameters), and says
when a stored hash was made with other parameters than today's, so the login that just
proved the password stores it again with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be chosen, as one sentence; None if it may.

    >>> password_problem("short")
    'a password must be at least 12 characters (this one has 5)'
    """
    if not password.strip():
        return "a password must not be empty"
    if len(password) < MIN_PASSWORD_CHARS:
        return (
            f"a password must be at least {MIN_PASSWORD_CHARS} characters"
            f" (this one has {len(password)})"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        return f"a password must be at most {MAX_PASSWORD_CHARS} characters"
    return None


@dataclass(frozen=True, slots=True)
class Verified:
    """The outcome of a password check: ``ok``, and the new hash to store when the old one
    used other parameters (None otherwise)."""

    ok: bool
    rehashed: str | None = None


class Passwords:
    """Hashes and checks passwords with ``hasher`` (argon2-cffi's defaults: RFC 9106's
    low-memory profile; tests pass cheaper parameters)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher if hasher is not None else PasswordHasher()
        self._dummy = self._hasher.hash("fleetsight: no such user")

    def hash(self, password: str) -> str:
        """The argon2 hash of ``password`` (ValueError if :func:`password_problem`)."""
        problem = password_problem(password)
        if problem is not None:
            raise ValueError(problem)
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> Verified:
        """Whether ``password`` matches the ``stored`` hash; None (no user, or no password
        set) is checked against the dummy hash, for the time it takes, and fails."""
        if len(password) > MAX_PASSWORD_CHARS:
            return Verified(ok=False)
        try:
            self._hasher.verify(stored if stored is not None else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return Verified(ok=False)
        if stored is None:
            return Verified(ok=False)
        if self._hasher.check_needs_rehash(stored):
            return Verified(ok=True, rehashed=self._hasher.hash(password))
        return Verified(ok=True)
