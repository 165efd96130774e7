"""The web interface's ASGI app, mounted at /ui by the advisor (advisor.api.app).

=========================  ==================================================================
route                      what it does
=========================  ==================================================================
GET  /ui/login             the login form (sets its one-hour CSRF cookie)
POST /ui/login             log in: 303 to /ui/ with the session cookie; a wrong user name or
                           password is 401 with one message either way; 429 when throttled
POST /ui/logout            end the session (server-side too): 303 to the login form
GET  /ui/                  the Overview: the fleet at a glance (advisor.ui.pages_overview)
GET  /ui/recommendations   the ranked list, filtered and paged; GET /ui/recommendations/{key}
                           one in full (advisor.ui.pages_recommendations); its
                           /series.json: the chart's load times (advisor.ui.chart_series)
POST /ui/recommendations/  approve / reject / defer a recommendation (manager; see
     {key}/{verdict}       advisor.ui.review), then back to its page
GET  /ui/budget            the budget planner (advisor.ui.budget_page)
GET  /ui/findings          the findings, filtered and paged; GET /ui/findings/{key} one in full
                           (advisor.ui.pages_findings; only when given the findings store)
GET  /ui/audit             the audit log, filtered and paged (manager; advisor.ui.pages_audit)
GET  /ui/static/...        the stylesheet; nothing comes from elsewhere
=========================  ==================================================================

Every answer carries a strict Content-Security-Policy (advisor.ui.pages); every route but
the login form's checks the session and role with :meth:`Authenticator.require`; every POST
carries the session's CSRF token (advisor.ui.csrf).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from advisor.finding_costs import FindingCosts
from advisor.store import Enrolments, HostRecord
from advisor.store.analysis_data import FleetFrames
from advisor.store.audit import AuditLog
from advisor.store.catalog import CatalogStore
from advisor.store.findings import Findings
from advisor.store.recommendations import Recommendations
from advisor.store.users import UiSession, UiSessions, Users
from advisor.ui import csrf
from advisor.ui.auth import SESSION_COOKIE, Authenticator, LoginRequired, SessionCookie, UiRefusal
from advisor.ui.budget_page import add_budget_page
from advisor.ui.chart_series import add_series_route
from advisor.ui.pages import PREFIX, Pages, SecurityHeaders
from advisor.ui.pages_audit import add_audit_page
from advisor.ui.pages_findings import add_findings_pages
from advisor.ui.pages_overview import OverviewStores, add_overview_page
from advisor.ui.pages_recommendations import add_recommendation_pages
from advisor.ui.passwords import Passwords
from advisor.ui.review import add_review_routes
from advisor.ui.settings import UiSettings
from advisor.ui.throttle import LoginThrottle

log = logging.getLogger(__name__)

BAD_LOGIN = "wrong user name or password"
THROTTLED = "too many failed logins: wait a few minutes and try again"
ANONYMOUS = "anonymous"


def create_ui(
    *,
    users: Users,
    sessions: UiSessions,
    audit: AuditLog,
    recommendations: Recommendations,
    settings: UiSettings,
    hosts: Enrolments | None = None,
    frames: FleetFrames | None = None,
    findings: Findings | None = None,
    window_days: int = 90,
    catalog: CatalogStore | None = None,
    passwords: Passwords | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The web interface on its stores; mount it at /ui (``app.mount("/ui", ...)``).

    ``hosts`` names a recommendation's hosts (None: by the names its document holds);
    ``frames`` and ``findings`` feed its load-time chart over ``window_days`` (None: no series);
    ``findings`` (None: no findings pages) are priced from ``frames``' launch rates over
    ``window_days`` and the cost settings of ``catalog``, whose end-of-life dates the
    Overview lists (None: not shown);
    ``passwords`` hashes and checks passwords (default: argon2-cffi's parameters); ``clock``
    stamps sessions and audit entries.
    """
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders)
    pages = Pages()
    auth = Authenticator(sessions, settings, clock)
    cookie = SessionCookie(secure=settings.secure_cookie)
    _install_error_pages(app, pages)
    static = files("advisor.ui").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    login = _Login(
        users=users,
        sessions=sessions,
        audit=audit,
        settings=settings,
        passwords=passwords if passwords is not None else Passwords(),
        throttle=LoginThrottle(
            per_user=settings.login_failures_per_user,
            per_address=settings.login_failures_per_address,
            window=settings.login_failure_window,
        ),
        clock=clock,
    )
    _add_login_routes(app, pages, auth, cookie, login)
    add_review_routes(app, auth, recommendations, clock)
    add_series_route(app, auth, recommendations, frames, findings, days=window_days, clock=clock)
    add_recommendation_pages(app, pages, auth, recommendations, audit, hosts)
    add_budget_page(app, pages, auth, recommendations, clock)
    costs = None
    if findings is not None:
        costs = FindingCosts(
            findings=findings,
            hosts=hosts if hosts is not None else _NoHosts(),
            frames=frames,
            catalog=catalog,
            window_days=window_days,
        )
        add_findings_pages(app, pages, auth, findings, costs)
    overview = OverviewStores(recommendations, audit, hosts, findings, costs, catalog)
    add_overview_page(app, pages, auth, overview, clock)
    add_audit_page(app, pages, auth, audit, recommendations)
    return app


class _NoHosts:
    """No hosts store: findings name their hosts by id."""

    def list_hosts(self) -> list[HostRecord]:
        return []


class _Login:
    """Checks a user name and password, and answers the same for every failure."""

    def __init__(
        self,
        *,
        users: Users,
        sessions: UiSessions,
        audit: AuditLog,
        settings: UiSettings,
        passwords: Passwords,
        throttle: LoginThrottle,
        clock: Callable[[], float],
    ) -> None:
        self.users = users
        self.sessions = sessions
        self.audit = audit
        self.settings = settings
        self.passwords = passwords
        self.throttle = throttle
        self.clock = clock

    def attempt(self, user_id: str, password: str, address: str) -> str:
        """The new session's token, or UiRefusal (401 with :data:`BAD_LOGIN`, 429)."""
        if self.throttle.blocked(user_id, address):
            raise UiRefusal(429, THROTTLED)
        user = self.users.get(user_id) if 0 < len(user_id) <= 64 else None
        stored = self.users.password_hash(user_id) if user is not None else None
        verified = self.passwords.verify(stored, password)  # argon2 runs in every case
        now = self.clock()
        if user is None or not user.active or not verified.ok:
            self.throttle.failed(user_id, address)
            why = "unknown_user" if user is None else "disabled" if not user.active else "password"
            # An unknown name is not written down: people type passwords into that field.
            target = f"user:{user.user_id}" if user is not None else "user:unknown"
            self.audit.record(
                actor=ANONYMOUS,
                action="ui.login_failed",
                target=target,
                detail={"address": address, "reason": why},
                now=now,
            )
            log.info("failed login from %s (%s)", address, why)
            raise UiRefusal(401, BAD_LOGIN)
        if verified.rehashed is not None:
            self.users.set_password_hash(user.user_id, verified.rehashed)
        self.throttle.succeeded(user.user_id)
        token, _ = self.sessions.create(
            user.user_id, now=now, lifetime=self.settings.session_lifetime
        )
        self.audit.record(
            actor=user.user_id,
            action="ui.login",
            target=f"user:{user.user_id}",
            detail={"address": address},
            now=now,
        )
        return token


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _add_login_routes(
    app: FastAPI, pages: Pages, auth: Authenticator, cookie: SessionCookie, login: _Login
) -> None:
    def login_form(request: Request, error: str | None = None, status: int = 200) -> Response:
        # The token stays while its cookie does: a second tab, or a second try, still works.
        token = request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_login_token()
        response = pages.render("login.html", {"login_token": token, "error": error}, status=status)
        cookie.set_login_token(response, token)
        return response

    @app.get("/login")
    def show_login(request: Request) -> Response:
        if auth.session(request) is not None:
            return RedirectResponse(f"{PREFIX}/", status_code=303)
        return login_form(request)

    @app.post("/login")
    def do_login(
        request: Request,
        user: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        if not csrf.matches(request.cookies.get(csrf.LOGIN_COOKIE), csrf_token):
            return login_form(request, "the login form has expired: please try again", 403)
        try:
            token = login.attempt(user.strip(), password, _address(request))
        except UiRefusal as refused:
            return login_form(request, refused.message, refused.status)
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        cookie.set(response, token)
        return response

    # Sessions are defaults (= Depends(...)), not Annotated types: FastAPI resolves
    # annotations at module level, where this app's authenticator is not.
    viewer = Depends(auth.require("viewer"))

    @app.post("/logout")
    def do_logout(request: Request, session: UiSession = viewer) -> Response:
        login.sessions.end(request.cookies.get(SESSION_COOKIE, ""))
        login.audit.record(
            actor=session.user.user_id,
            action="ui.logout",
            target=f"user:{session.user.user_id}",
            detail={"address": _address(request)},
            now=login.clock(),
        )
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        cookie.clear(response)
        return response


def _install_error_pages(app: FastAPI, pages: Pages) -> None:
    async def refused(request: Request, exc: Exception) -> Response:
        if isinstance(exc, LoginRequired) and request.method in ("GET", "HEAD"):
            return RedirectResponse(f"{PREFIX}/login", status_code=303)
        status, message = (
            (exc.status, exc.message) if isinstance(exc, UiRefusal) else (500, "internal error")
        )
        return pages.render("error.html", {"status": status, "message": message}, status=status)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        message = "no such page" if status == 404 else str(getattr(exc, "detail", "error"))
        return pages.render("error.html", {"status": status, "message": message}, status=status)

    async def invalid(request: Request, exc: Exception) -> Response:
        message = "the form is incomplete or malformed: reload the page and try again"
        return pages.render("error.html", {"status": 400, "message": message}, status=400)

    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("web interface error on %s", request.url.path, exc_info=exc)
        message = "internal error in the advisor; its log has the details"
        return pages.render("error.html", {"status": 500, "message": message}, status=500)

    app.add_exception_handler(UiRefusal, refused)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, internal)
