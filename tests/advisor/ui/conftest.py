"""A real advisor app with its web interface, on SQLite and PostgreSQL (``engine``)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.store.open import Stores, stores_on
from advisor.store.users import Role
from advisor.ui.app import create_ui
from advisor.ui.passwords import Passwords
from advisor.ui.settings import UiSettings

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient as TestClient

T0 = 1_787_400_000.0
PASSWORD = "correct horse battery"
# Cheap parameters: the tests hash and check passwords dozens of times.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Ui:
    """The app, its stores and clock, and helpers to act like a browser."""

    client: TestClient
    stores: Stores
    clock: Clock
    passwords: Passwords

    def add_user(self, user_id: str, role: Role, *, departments: tuple[str, ...] = ()) -> None:
        self.stores.users.add(
            user_id, name=user_id.title(), role=role, departments=departments, now=self.clock()
        )
        self.stores.users.set_password_hash(user_id, self.passwords.hash(PASSWORD))

    def login(self, user_id: str, password: str = PASSWORD) -> int:
        token = form_token(self.client.get("/ui/login").text)
        answer = self.client.post(
            "/ui/login",
            data={"user": user_id, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        return int(answer.status_code)

    def csrf(self) -> str:
        return form_token(self.client.get("/ui/").text)


def form_token(page: str) -> str:
    found = _TOKEN.search(page)
    assert found is not None, page
    return found.group(1)


@pytest.fixture
def ui(engine: sa.Engine) -> Iterator[Ui]:
    clock = Clock()
    stores = stores_on(engine)
    passwords = Passwords(CHEAP)
    settings = UiSettings(
        idle_timeout=600,
        session_lifetime=3600,
        login_failures_per_user=3,
        login_failures_per_address=5,
        secure_cookie=False,
    )
    web = create_ui(
        users=stores.users,
        sessions=stores.ui_sessions,
        audit=stores.audit,
        recommendations=stores.recommendations,
        settings=settings,
        passwords=passwords,
        clock=clock,
    )
    app = create_app(
        stores.hosts,
        ApiSettings(),
        api_tokens=stores.api_tokens,
        recommendations=stores.recommendations,
        audit=stores.audit,
        clock=clock,
        ui=web,
    )
    with TestClient(app) as client:
        yield Ui(client, stores, clock, passwords)
