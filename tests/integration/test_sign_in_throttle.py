"""Sign-in throttling: per account whatever the address, per address with a short delay only,
and the account holder is told of repeated failures.

Runs on SQLite and PostgreSQL (the `db_url` fixture), through the real pages; the clock is the
app's FixedClock, moved by hand: nothing sleeps.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from services.bootstrap import Runtime
from services.config import Settings, SmtpSettings
from services.db.models import EmailDelivery, Notification, SignInThrottle
from services.domain.clock import FixedClock
from services.web.auth.rate_limit import LoginLimit, account_delay
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    TEST_PASSWORD,
    WebUser,
    app,
    client,
    clock,
    csrf_token,
    login,
    make_user,
    settings_for_tests,
    web_runtime,
)

MakeUser = Callable[..., WebUser]
SCHOOL_ADDRESS = "198.51.100.20"


@pytest.fixture
def web_settings(db_url: str, tmp_path: Path) -> Settings:
    """Email on (nothing is sent: the sender does not run here), so emails are queued."""
    smtp = SmtpSettings(host="smtp.invalid", port=587, sender="safeguard@school.test")
    return settings_for_tests(db_url, tmp_path, smtp=smtp)


def browser(client: FlaskClient, address: str) -> FlaskClient:
    other = client.application.test_client()
    other.environ_base["REMOTE_ADDR"] = address
    return other


def post_sign_in(client: FlaskClient, email: str, password: str) -> int:
    token = csrf_token(client, "/sign-in")
    response = client.post(
        "/sign-in", data={"email": email, "password": password, "csrf_token": token}
    )
    return response.status_code


def test_delays_double_after_the_free_failures_up_to_fifteen_minutes() -> None:
    limit = LoginLimit(max_failures=5, window=timedelta(minutes=15))
    delays = [account_delay(n, limit) for n in range(4, 12)]
    assert delays == [
        None,
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=15),
        timedelta(minutes=15),
    ]
    assert account_delay(10_000, limit) == timedelta(minutes=15)


def test_a_guesser_rotating_addresses_is_held_per_account(
    client: FlaskClient, make_user: MakeUser, clock: FixedClock
) -> None:
    dsl = make_user("dsl")
    for n in range(5):
        assert post_sign_in(browser(client, f"203.0.113.{n}"), dsl.email, "guess") == 200
    assert post_sign_in(browser(client, "203.0.113.99"), dsl.email, "guess") == 429
    clock.advance(timedelta(seconds=30))
    assert post_sign_in(browser(client, "203.0.113.98"), dsl.email, "guess") == 200
    assert post_sign_in(browser(client, "203.0.113.97"), dsl.email, "guess") == 429


def test_an_address_with_many_failures_waits_a_short_delay_but_is_never_locked_out(
    client: FlaskClient, make_user: MakeUser, clock: FixedClock
) -> None:
    pupil = browser(client, SCHOOL_ADDRESS)
    for n in range(20):  # different accounts: no account reaches its own limit
        assert post_sign_in(pupil, f"guess{n}@school.test", "guess") == 200
    assert post_sign_in(pupil, "guess99@school.test", "guess") == 429
    assert post_sign_in(browser(client, "192.0.2.50"), "guess99@school.test", "guess") == 200

    # A DSL who never signed in from the school's address waits the short delay, then gets in.
    dsl = make_user("dsl")
    school = browser(client, SCHOOL_ADDRESS)
    assert post_sign_in(school, dsl.email, TEST_PASSWORD) == 429
    clock.advance(timedelta(seconds=30))
    login(school, dsl.email)
    assert school.get("/").status_code == 200


def test_someone_who_signed_in_from_the_shared_address_is_not_held_by_others_failures(
    client: FlaskClient, make_user: MakeUser, clock: FixedClock
) -> None:
    dsl = make_user("dsl")
    login(browser(client, SCHOOL_ADDRESS), dsl.email)  # the DSL's usual address
    pupil = browser(client, SCHOOL_ADDRESS)
    for n in range(25):
        post_sign_in(pupil, f"guess{n}@school.test", "guess")
    assert post_sign_in(pupil, "guess99@school.test", "guess") == 429  # the guesser waits
    later = browser(client, SCHOOL_ADDRESS)
    login(later, dsl.email)  # password and code at once, no wait
    assert later.get("/").status_code == 200


def test_a_full_sign_in_clears_the_account_count(
    client: FlaskClient, make_user: MakeUser, clock: FixedClock
) -> None:
    staff = make_user("staff")
    for _ in range(4):
        post_sign_in(client, staff.email, "wrong")
    login(client, staff.email)
    other = browser(client, "192.0.2.60")
    for _ in range(4):
        assert post_sign_in(other, staff.email, "wrong") == 200  # four free failures again
    assert post_sign_in(other, staff.email, TEST_PASSWORD) == 302


def test_the_account_holder_is_told_of_repeated_failures_once_a_day(
    client: FlaskClient, make_user: MakeUser, clock: FixedClock, web_runtime: Runtime
) -> None:
    head = make_user("headteacher")
    for _ in range(5):
        post_sign_in(client, head.email, "guess")
    for _ in range(3):
        clock.advance(timedelta(minutes=16))
        post_sign_in(client, head.email, "guess")

    with web_runtime.unit_of_work() as uow:
        told = list(
            uow.session.scalars(select(Notification).where(Notification.user_id == head.id))
        )
        emails = list(
            uow.session.scalars(select(EmailDelivery).where(EmailDelivery.user_id == head.id))
        )
        stored_keys = list(uow.session.scalars(select(SignInThrottle.key)))
    assert [n.kind for n in told] == ["account.sign_in_failures"]
    assert "failed to sign in to your account 5 times" in told[0].text
    assert [e.state for e in emails] == ["pending"]
    assert emails[0].message_id == told[0].message_id
    assert "guess" not in told[0].text + emails[0].body
    assert not any(head.email in key or "127.0.0.1" in key for key in stored_keys)

    clock.advance(timedelta(hours=25))  # a day later, failures begin a new count
    for _ in range(5):
        post_sign_in(client, head.email, "guess")
    with web_runtime.unit_of_work() as uow:
        count = len(
            list(
                uow.session.scalars(select(Notification.id).where(Notification.user_id == head.id))
            )
        )
    assert count == 2


def test_no_one_is_told_about_failures_on_an_email_without_an_account(
    client: FlaskClient, web_runtime: Runtime
) -> None:
    def notifications() -> int:
        with web_runtime.unit_of_work() as uow:
            return len(list(uow.session.scalars(select(Notification.id))))

    before = notifications()
    for _ in range(6):
        post_sign_in(client, "nobody-at-all@school.test", "guess")
    assert notifications() == before


def test_settings_name_the_per_address_limit() -> None:
    settings = Settings.from_env({"SAFEGUARD_LOGIN_ADDRESS_MAX_FAILURES": "50"})
    assert settings.login_address_max_failures == 50
    assert dataclasses.replace(settings).login_address_max_failures == 50
