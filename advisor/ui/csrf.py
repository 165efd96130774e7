"""CSRF protection for the web interface's forms: the synchronizer token pattern.

Every session has a random secret (stored with it, advisor.store.users.UiSession); each form
carries it in a hidden ``csrf_token`` field and every POST is refused (403) unless the field
matches, compared in constant time. The login form has no session yet: its token is a random
value set in a short-lived cookie (Path ``/ui/login``) and in the form, which must match
(double submit). SameSite=Strict cookies already keep other sites' forms from carrying the
session; the token is the second lock, for browsers and proxies that get SameSite wrong.

Why not a library: starlette-csrf checks a header that JavaScript sets (the pages have no
scripts), and fastapi-csrf-protect signs double-submit cookies where a per-session secret
kept server-side is both simpler and ends with the session. This is the whole mechanism.
"""

from __future__ import annotations

import hmac
import secrets

FIELD = "csrf_token"
LOGIN_COOKIE = "fleetsight_login"
LOGIN_TOKEN_MAX_AGE = 3600


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def matches(expected: str | None, given: object) -> bool:
    """Whether the form's ``given`` token is ``expected`` (constant time; nothing matches
    a missing token).

    >>> matches("abc", "abc"), matches("abc", "abd"), matches(None, ""), matches("abc", None)
    (True, False, False, False)
    """
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
