"""The layout's safety: security headers, escaping, the stylesheet served locally."""

from __future__ import annotations

from advisor.ui.pages import CONTENT_SECURITY_POLICY
from tests.advisor.ui.conftest import Ui


def test_every_ui_answer_has_a_strict_content_security_policy(ui: Ui) -> None:
    ui.add_user("alice", "viewer")
    answers = [ui.client.get("/ui/login"), ui.client.get("/ui/static/ui.css")]
    ui.login("alice")
    answers += [ui.client.get("/ui/"), ui.client.get("/ui/no-such-page")]

    for answer in answers:
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert [a.status_code for a in answers] == [200, 200, 200, 404]


def test_pages_have_no_inline_script_or_style_and_load_their_stylesheet_locally(ui: Ui) -> None:
    ui.add_user("alice", "viewer")
    ui.login("alice")

    page = ui.client.get("/ui/").text
    css = ui.client.get("/ui/static/ui.css")

    assert "<script" not in page
    assert "<style" not in page
    assert "style=" not in page
    assert '<link rel="stylesheet" href="/ui/static/ui.css">' in page
    assert css.headers["content-type"].startswith("text/css")


def test_a_name_that_is_markup_is_shown_as_text(ui: Ui) -> None:
    ui.stores.users.add(
        "mallory",
        name="<script>alert(1)</script>",
        role="viewer",
        departments=("<img src=x>",),
        now=ui.clock(),
    )
    ui.stores.users.set_password_hash("mallory", ui.passwords.hash("correct horse battery"))
    ui.login("mallory")

    page = ui.client.get("/ui/").text

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x&gt;" in page


def test_the_navigation_shows_settings_to_admins_only(ui: Ui) -> None:
    ui.add_user("vera", "viewer")
    ui.add_user("ada", "admin")

    ui.login("vera")
    viewer_page = ui.client.get("/ui/").text
    ui.client.post("/ui/logout", data={"csrf_token": ui.csrf()})
    ui.login("ada")
    admin_page = ui.client.get("/ui/").text

    assert "Recommendations" in viewer_page
    assert 'href="/ui/settings"' not in viewer_page
    assert 'href="/ui/settings"' in admin_page
