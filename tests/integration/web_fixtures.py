"""Reusable fixtures for web tests: an app on the migrated test database, its client, and login().

Use them from a test module by importing the fixtures it takes (pytest finds them by name);
ruff's F811 then flags every test taking one, hence the file-level noqa:

    # ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
    from tests.integration.web_fixtures import app, client, clock, login, make_user  # noqa: F401
    from tests.integration.web_fixtures import web_runtime, web_settings  # noqa: F401

    def test_something(client, make_user):
        user = make_user("dsl")                # a fresh school and a DSL with TOTP enrolled
        login(client, user.email)             # password, then the TOTP code, like a person
        page = client.get("/")

`client` needs app, web_runtime, web_settings and clock imported too (pytest resolves them by
name in the test module).

What they give:
- `app` / `client`: the real app from `create_app`, with CSRF on (as in production), on the
  `db_url` database of tests/integration/conftest.py, so every test runs on SQLite and
  PostgreSQL. The secret key is new per test, so sign-in lockouts never leak between tests.
- `clock`: the app's FixedClock (starts at the real time); move it with `clock.advance(...)`.
  login() moves it 30 s before entering a code, since a code is accepted only once.
- `make_user(role, ...)`: a user with TEST_PASSWORD and a role in a new school (or `school_id`);
  TOTP is enrolled for every role that needs it (dsl, headteacher, auditor, admin,
  process_admin) unless `totp=False` (to test enrolment); `totp=True` enrols staff too.
- `login(client, email, password=TEST_PASSWORD)`: signs in through the real pages (CSRF token,
  code or authenticator set-up) and fails the test if it does not end signed in.
- `csrf_token(client, path)`: the CSRF token of the form on a page, for POSTs of your own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from services.bootstrap import Runtime, bootstrap
from services.config import Settings
from services.db.models.accounts import SECOND_FACTOR_ROLES
from services.domain.clock import FixedClock
from services.web import create_app
from services.web.auth.passwords import hash_password
from services.web.extensions import RUNTIME_KEY

ROOT = Path(__file__).resolve().parents[2]
TEST_PASSWORD = "correct horse battery staple"  # test data
TOTP_ROLES = SECOND_FACTOR_ROLES  # every role that reads records signs in with a code


@dataclass(frozen=True)
class WebUser:
    """A user made for one test: how to sign in as them and where they belong."""

    id: int
    email: str
    role: str
    school_id: int
    totp_secret: str | None


@lru_cache(maxsize=1)
def password_hash_for_tests() -> str:
    """The Argon2 hash of TEST_PASSWORD, made once: hashing costs ~0.2 s."""
    return hash_password(TEST_PASSWORD)


def settings_for_tests(database_url: str, instance_dir: Path, **changes: object) -> Settings:
    """Settings for a test app: this database, a fresh secret key, insecure cookies (HTTP)."""
    settings = Settings(
        database_url=database_url,
        instance_dir=instance_dir,
        secret_key=secrets.token_hex(32),
        amqp_url=None,
        bpmn_dir=ROOT / "bpmn",
        base_url="http://localhost",
        secure_cookies=False,
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FixedClock:
    """The app's clock: fixed at the real time when the test starts; advance it by hand."""
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def web_settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings of the test app (override this fixture to change one)."""
    return settings_for_tests(db_url, tmp_path)


@pytest.fixture
def web_runtime(web_settings: Settings, engine: Engine, clock: FixedClock) -> Runtime:
    """The runtime of the test app: the shared test engine, and the fixed clock."""
    return bootstrap(web_settings, clock=clock, engine=engine)


@pytest.fixture
def app(web_settings: Settings, web_runtime: Runtime) -> Iterator[Flask]:
    """The app, as create_app builds it, with CSRF protection on."""
    app = create_app(web_settings, runtime=web_runtime)
    app.config["TESTING"] = True  # errors propagate to the test instead of a 500 page
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like client of the app (keeps cookies)."""
    return app.test_client()


@pytest.fixture
def make_user(web_runtime: Runtime) -> Callable[..., WebUser]:
    """Make users: make_user(role, *, school_id=None, totp=None, active=True, email=None)."""

    def make(
        role: str = "staff",
        *,
        school_id: int | None = None,
        totp: bool | None = None,
        active: bool = True,
        email: str | None = None,
    ) -> WebUser:
        tag = secrets.token_hex(4)
        email = email or f"{role}-{tag}@school.test"
        enrolled = role in TOTP_ROLES if totp is None else totp
        with web_runtime.unit_of_work() as uow:
            if school_id is None:
                school_id = uow.schools.add(f"School {tag}", f"school-{tag}").id
            user = uow.users.add(email, f"{role.title()} {tag}", password_hash_for_tests())
            user.totp_secret = pyotp.random_base32(32) if enrolled else None
            user.is_active = active
            uow.users.grant(user.id, school_id, role)
            uow.commit()
            return WebUser(user.id, user.email, role, school_id, user.totp_secret)

    return make


def csrf_token(client: FlaskClient, path: str) -> str:
    """Return the CSRF token in the form of the page at `path`."""
    page = client.get(path)
    assert page.status_code == 200, f"GET {path}: {page.status_code}"
    return form_csrf_token(page.get_data(as_text=True))


def form_csrf_token(page_html: str) -> str:
    """Return the value of the csrf_token field of the first form in this HTML."""
    values = html.fromstring(page_html).xpath("//form//input[@name='csrf_token']/@value")
    assert values, "no csrf_token field in the page"
    return str(values[0])


def login(client: FlaskClient, email: str, password: str = TEST_PASSWORD) -> None:
    """Sign in through the pages as a person would, entering a TOTP code when asked."""
    response = client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": csrf_token(client, "/sign-in")},
    )
    assert response.status_code == 302, _failure("password", response.get_data(as_text=True))
    location = response.headers["Location"]
    if location.endswith("/sign-in/code"):
        runtime = _runtime(client)
        with runtime.unit_of_work() as uow:
            user = uow.users.get_by_email(email)
            assert user is not None and user.totp_secret is not None
            secret = user.totp_secret
        response = submit_code(client, "/sign-in/code", secret)
    elif location.endswith("/sign-in/set-up-authenticator"):
        page = client.get(location).get_data(as_text=True)
        secret = "".join(html.fromstring(page).get_element_by_id("totp-secret").text.split())
        response = submit_code(client, "/sign-in/set-up-authenticator", secret)
    assert response.status_code == 302, _failure("code", response.get_data(as_text=True))
    assert "/sign-in" not in response.headers["Location"], response.headers["Location"]


def submit_code(client: FlaskClient, path: str, secret: str) -> TestResponse:
    """Post the current TOTP code for `secret` to the code page at `path` (a new time step)."""
    clock = _runtime(client).clock
    assert isinstance(clock, FixedClock), "login() needs the app's clock to be a FixedClock"
    clock.advance(timedelta(seconds=30))  # each code is accepted once: use the next step's
    code = pyotp.TOTP(secret).at(clock.now())
    return client.post(path, data={"code": code, "csrf_token": csrf_token(client, path)})


def _runtime(client: FlaskClient) -> Runtime:
    runtime = client.application.extensions[RUNTIME_KEY]
    assert isinstance(runtime, Runtime)
    return runtime


def _failure(step: str, page_html: str) -> str:
    summary = html.fromstring(page_html).xpath("string(//*[@class='govuk-error-summary__body'])")
    return f"sign-in failed at the {step}: {' '.join(str(summary).split()) or page_html[:500]}"
