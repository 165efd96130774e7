"""Who is asking: the session cookie, and :func:`require`, the check every /ui route makes.

The web interface knows people by their session cookie only: an agent's credential or an
admin API token in an Authorization header is not a session (the API, for its part, reads
only the Authorization header, never this cookie). Every check happens here, server-side,
whatever a page shows or hides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from advisor.store.users import Role, UiSession, UiSessions, allows
from advisor.ui import csrf
from advisor.ui.pages import PREFIX
from advisor.ui.settings import UiSettings

SESSION_COOKIE = "fleetsight_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class UiRefusal(Exception):  # noqa: N818 - read as the answer it is
    """A request the interface answers with ``status`` and one sentence (an error page)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoginRequired(UiRefusal):
    """No valid session: a page sends the browser to the login form; a POST gets 401."""

    def __init__(self) -> None:
        super().__init__(401, "your session has ended: log in again")


@dataclass(frozen=True, slots=True)
class SessionCookie:
    """How the session cookie is set and cleared (Path=/ui, HttpOnly, SameSite=Strict,
    Secure unless :attr:`UiSettings.secure_cookie` is off)."""

    secure: bool

    def set(self, response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            path=PREFIX,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path=PREFIX, secure=self.secure, httponly=True, samesite="strict"
        )

    def set_login_token(self, response: Response, token: str) -> None:
        response.set_cookie(
            csrf.LOGIN_COOKIE,
            token,
            max_age=csrf.LOGIN_TOKEN_MAX_AGE,
            path=f"{PREFIX}/login",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )


class Authenticator:
    """Finds the session of a request (``sessions``, ``settings.idle_timeout``, ``clock``)."""

    def __init__(
        self, sessions: UiSessions, settings: UiSettings, clock: Callable[[], float]
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._clock = clock

    def session(self, request: Request) -> UiSession | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 200:
            return None
        return self._sessions.lookup(
            token, now=self._clock(), idle_seconds=self._settings.idle_timeout
        )

    def require(self, role: Role) -> Callable[[Request], Awaitable[UiSession]]:
        """A FastAPI dependency: the request's session, if its user has ``role`` (or more).

        No valid session: :class:`LoginRequired`. A POST (any unsafe method) whose form's
        ``csrf_token`` is not the session's: 403. A user below ``role``: 403.
        """

        async def dependency(request: Request) -> UiSession:
            session = await run_in_threadpool(self.session, request)
            if session is None:
                raise LoginRequired
            if request.method not in SAFE_METHODS:
                form = await request.form()
                if not csrf.matches(session.csrf_secret, form.get(csrf.FIELD)):
                    raise UiRefusal(
                        403,
                        "the form has expired or did not come from this advisor: reload"
                        " the page and try again",
                    )
            if not allows(session.user.role, role):
                raise UiRefusal(403, f"this needs the {role} role; you are a {session.user.role}")
            return session

        return dependency
