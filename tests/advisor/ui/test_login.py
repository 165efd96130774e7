"""Logging in and out of the web interface, sessions and their expiry, through the real app."""

from __future__ import annotations

import pytest

from advisor.ui.app import BAD_LOGIN
from advisor.ui.auth import SESSION_COOKIE
from tests.advisor.ui.conftest import PASSWORD, TestClient, Ui, form_token


def test_a_user_logs_in_and_sees_who_they_are(ui: Ui) -> None:
    ui.add_user("alice", "manager")

    assert ui.login("alice") == 303
    page = ui.client.get("/ui/")

    assert page.status_code == 200
    assert "logged in as <strong>Alice</strong> (alice)" in page.text
    assert "<strong>manager</strong>" in page.text
    entries = ui.stores.audit.entries(actor="alice")
    assert [e.action for e in entries] == ["ui.login"]


def test_the_session_cookie_is_httponly_strict_and_scoped_to_the_ui(ui: Ui) -> None:
    ui.add_user("alice", "viewer")
    token = form_token(ui.client.get("/ui/login").text)

    answer = ui.client.post(
        "/ui/login",
        data={"user": "alice", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )

    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(ui: Ui) -> None:
    ui.add_user("alice", "viewer")
    token = form_token(ui.client.get("/ui/login").text)

    def attempt(user: str, password: str) -> tuple[int, str]:
        answer = ui.client.post(
            "/ui/login", data={"user": user, "password": password, "csrf_token": token}
        )
        return answer.status_code, answer.text.split("<form")[0].split("</h1>")[1]

    wrong = attempt("alice", "not the password at all")
    unknown = attempt("mallory", "not the password at all")

    assert wrong == unknown
    assert wrong[0] == 401
    assert BAD_LOGIN in wrong[1]
    assert SESSION_COOKIE not in ui.client.cookies
    failures = [e for e in ui.stores.audit.entries() if e.action == "ui.login_failed"]
    assert [e.target for e in failures] == ["user:unknown", "user:alice"]
    assert all("not the password" not in str(e.to_dict()) for e in failures)


def test_a_disabled_user_cannot_log_in(ui: Ui) -> None:
    ui.add_user("alice", "admin")
    ui.stores.users.disable("alice", now=ui.clock())

    assert ui.login("alice") == 401


def test_logins_are_throttled_after_repeated_failures_even_with_the_right_password(
    ui: Ui,
) -> None:
    ui.add_user("alice", "viewer")

    statuses = [ui.login("alice", "wrong password!!") for _ in range(3)]
    statuses.append(ui.login("alice"))

    assert statuses == [401, 401, 401, 429]


def test_logins_from_one_address_are_throttled_across_user_names(ui: Ui) -> None:
    ui.add_user("alice", "viewer")

    statuses = [ui.login(f"guess{n}", "wrong password!!") for n in range(5)]

    assert statuses == [401] * 5
    assert ui.login("alice") == 429


def test_a_login_without_the_forms_token_is_refused(ui: Ui) -> None:
    ui.add_user("alice", "viewer")
    ui.client.get("/ui/login")

    answer = ui.client.post(
        "/ui/login", data={"user": "alice", "password": PASSWORD, "csrf_token": "forged"}
    )

    assert answer.status_code == 403
    assert SESSION_COOKIE not in ui.client.cookies


def test_pages_send_people_without_a_session_to_the_login_form(ui: Ui) -> None:
    answer = ui.client.get("/ui/", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login"


def test_logout_ends_the_session_on_the_server(ui: Ui) -> None:
    ui.add_user("alice", "viewer")
    ui.login("alice")
    stolen = ui.client.cookies[SESSION_COOKIE]

    answer = ui.client.post("/ui/logout", data={"csrf_token": ui.csrf()}, follow_redirects=False)

    assert answer.status_code == 303
    replay = TestClient(ui.client.app).get(
        "/ui/", headers={"Cookie": f"{SESSION_COOKIE}={stolen}"}, follow_redirects=False
    )
    assert replay.status_code == 303
    assert "ui.logout" in [e.action for e in ui.stores.audit.entries(actor="alice")]


def test_logout_without_the_csrf_token_is_refused_and_keeps_the_session(ui: Ui) -> None:
    ui.add_user("alice", "viewer")
    ui.login("alice")

    missing = ui.client.post("/ui/logout", data={}, follow_redirects=False)
    wrong = ui.client.post("/ui/logout", data={"csrf_token": "x" * 64}, follow_redirects=False)

    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert ui.client.get("/ui/", follow_redirects=False).status_code == 200


@pytest.mark.parametrize(("elapsed", "alive"), [(500, True), (700, False)])
def test_a_session_left_idle_ends(ui: Ui, elapsed: float, alive: bool) -> None:
    ui.add_user("alice", "viewer")
    ui.login("alice")

    ui.clock.now += elapsed

    assert (ui.client.get("/ui/", follow_redirects=False).status_code == 200) is alive


def test_a_session_ends_after_its_lifetime_however_busy(ui: Ui) -> None:
    ui.add_user("alice", "viewer")
    ui.login("alice")

    statuses = []
    for _ in range(8):  # every 500 s, within the idle timeout; the lifetime is 3600 s
        ui.clock.now += 500
        statuses.append(ui.client.get("/ui/", follow_redirects=False).status_code)

    assert statuses == [200] * 7 + [303]


def test_a_password_hashed_with_old_parameters_is_rehashed_at_login(ui: Ui) -> None:
    ui.add_user("alice", "viewer")
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORD)
    ui.stores.users.set_password_hash("alice", old)

    assert ui.login("alice") == 303
    new = ui.stores.users.password_hash("alice")
    assert new is not None
    assert new != old
    assert "m=1024" in new


def test_the_ui_does_not_take_an_api_token_and_the_api_not_a_session(ui: Ui) -> None:
    secret, _ = ui.stores.api_tokens.create(now=ui.clock())
    ui.add_user("alice", "admin")
    ui.login("alice")
    session = ui.client.cookies[SESSION_COOKIE]
    bare = TestClient(ui.client.app)

    ui_with_token = bare.get(
        "/ui/", headers={"Authorization": f"Bearer {secret}"}, follow_redirects=False
    )
    api_with_session = bare.get(
        "/api/v1/recommendations", headers={"Cookie": f"{SESSION_COOKIE}={session}"}
    )
    api_with_token = bare.get(
        "/api/v1/recommendations", headers={"Authorization": f"Bearer {secret}"}
    )

    assert ui_with_token.status_code == 303
    assert api_with_session.status_code == 401
    assert api_with_token.status_code == 200
