"""Signing in and out through the real pages, the second factor, lockout, CSRF and headers.

Runs on SQLite and PostgreSQL (the `db_url` fixture); the commands run as a user runs them.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyotp
import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from services.bootstrap import Runtime, bootstrap
from services.config import Settings, SettingsInvalid
from services.db.models import AuditEvent
from services.domain.clock import FixedClock
from services.web.auth import SignedInUser, load_user_from_bearer
from services.web.auth.rate_limit import attempt_key
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    ROOT,
    TEST_PASSWORD,
    WebUser,
    app,
    client,
    clock,
    csrf_token,
    login,
    make_user,
    settings_for_tests,
    submit_code,
    web_runtime,
    web_settings,
)

SAFEGUARD = Path(sys.executable).parent / "safeguard"
WRONG_CREDENTIALS = "Enter a correct email address and password"
MakeUser = Callable[..., WebUser]


def post_sign_in(client: FlaskClient, email: str, password: str) -> TestResponse:
    token = csrf_token(client, "/sign-in")
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})


def error_summary(response: TestResponse) -> str:
    tree = html.fromstring(response.get_data(as_text=True))
    return " ".join(tree.xpath("string(//div[@class='govuk-error-summary__body'])").split())


def audit_rows(runtime: Runtime, action: str, user_id: int | None = None) -> list[AuditEvent]:
    with runtime.unit_of_work() as uow:
        query = select(AuditEvent).where(AuditEvent.action == action)
        if user_id is not None:
            query = query.where(AuditEvent.actor_id == user_id)
        return list(uow.session.scalars(query.order_by(AuditEvent.id)))


# Signing in and out


def test_staff_signs_in_with_a_password_alone_and_sees_their_schools_and_roles(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user("staff")
    response = post_sign_in(client, user.email.upper(), TEST_PASSWORD)

    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    text = " ".join(html.fromstring(page.get_data(as_text=True)).text_content().split())
    assert user.email in text and "Staff" in text
    assert "Sign out" in text
    [signed_in] = audit_rows(web_runtime, "auth.signed_in", user.id)
    assert signed_in.new_values == {"address": "127.0.0.1", "second_factor": "none"}


def test_a_user_with_roles_in_two_schools_sees_both(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user("staff")
    with web_runtime.unit_of_work() as uow:
        other = uow.schools.add(f"Other {user.id}", f"other-{user.id}")
        uow.users.grant(user.id, other.id, "auditor")
        uow.users.grant(user.id, user.school_id, "auditor")
        uow.commit()
    login(client, user.email)
    rows = html.fromstring(client.get("/").get_data(as_text=True)).xpath("//tbody/tr")
    cells = [" ".join(row.text_content().split()) for row in rows]
    assert f"Other {user.id} Auditor" in cells
    assert any(cell.endswith("Staff, Auditor") for cell in cells), cells


def test_pages_need_a_signed_in_user_and_come_back_after_sign_in(
    client: FlaskClient, make_user: MakeUser
) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=/"
    user = make_user("staff")
    token = csrf_token(client, "/sign-in?next=/")
    response = client.post(
        "/sign-in?next=/",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_sign_in_never_redirects_to_another_site(client: FlaskClient, make_user: MakeUser) -> None:
    user = make_user("staff")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client = client.application.test_client()  # a new browser each time
        token = csrf_token(client, "/sign-in")
        response = client.post(
            "/sign-in",
            query_string={"next": target},
            data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token},
        )
        assert response.headers["Location"] == "/", target


def test_sign_out_ends_the_session_and_is_audited(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user("staff")
    login(client, user.email)
    token = csrf_token(client, "/")
    response = client.post("/sign-out", data={"csrf_token": token})

    assert response.status_code == 302 and response.headers["Location"] == "/signed-out"
    assert "You have signed out" in client.get("/signed-out").get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert len(audit_rows(web_runtime, "auth.signed_out", user.id)) == 1


def sign_out(browser: FlaskClient) -> None:
    response = browser.post("/sign-out", data={"csrf_token": csrf_token(browser, "/")})
    assert response.headers["Location"] == "/signed-out"


def test_a_cookie_kept_from_before_sign_out_is_refused_afterwards(
    client: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user("dsl")
    login(client, user.email)
    kept = client.get_cookie("safeguard_session")
    assert kept is not None
    sign_out(client)

    client.set_cookie("safeguard_session", kept.value)  # put the copied cookie back
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in?next=/"
    elsewhere = client.application.test_client()  # or replay it from another browser
    elsewhere.set_cookie("safeguard_session", kept.value)
    assert elsewhere.get("/").headers["Location"] == "/sign-in?next=/"

    login(client, user.email)  # signing in again starts a session that works
    assert client.get("/").status_code == 200


def test_signing_out_ends_the_sessions_on_every_device(
    app: Flask, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user("staff")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user.email)
    login(phone, user.email)
    assert phone.get("/").status_code == 200

    sign_out(laptop)
    assert phone.get("/").headers["Location"] == "/sign-in?next=/"
    with web_runtime.unit_of_work() as uow:
        found = uow.users.get(user.id)
        assert found is not None and found.session_generation == 1


def test_enrolling_an_authenticator_ends_the_sessions_begun_with_a_password_alone(
    app: Flask, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user("staff")
    before = app.test_client()
    login(before, user.email)  # password alone: staff need no code
    with web_runtime.unit_of_work() as uow:
        uow.users.grant(user.id, user.school_id, "dsl")
        uow.commit()

    enrolling = app.test_client()
    login(enrolling, user.email)  # now through the authenticator set-up
    assert enrolling.get("/").status_code == 200
    assert before.get("/").headers["Location"] == "/sign-in?next=/"


def test_a_session_without_a_generation_is_refused(
    client: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user("staff")
    login(client, user.email)
    with client.session_transaction() as session:
        del session["generation"]  # as a cookie issued before generations existed
    assert client.get("/").headers["Location"] == "/sign-in?next=/"
    with client.session_transaction() as session:
        assert "user_id" not in session


def test_sign_out_needs_the_csrf_token(client: FlaskClient, make_user: MakeUser) -> None:
    user = make_user("staff")
    login(client, user.email)
    assert client.post("/sign-out").status_code == 400
    assert client.get("/").status_code == 200


def test_a_disabled_account_cannot_sign_in(client: FlaskClient, make_user: MakeUser) -> None:
    user = make_user("staff", active=False)
    response = post_sign_in(client, user.email, TEST_PASSWORD)
    assert response.status_code == 200
    assert WRONG_CREDENTIALS in error_summary(response)


# Wrong passwords, and never telling whether an account exists


def test_a_wrong_password_shows_a_gov_uk_error_summary_linked_to_the_field(
    client: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user("staff")
    response = post_sign_in(client, user.email, "not the password")

    assert response.status_code == 200
    tree = html.fromstring(response.get_data(as_text=True))
    assert tree.xpath("string(//title)").startswith("Error: Sign in")
    [link] = tree.xpath("//div[contains(@class, 'govuk-error-summary')]//a")
    assert link.text_content().strip() == WRONG_CREDENTIALS
    assert link.get("href") == "#password"
    assert tree.get_element_by_id("password") is not None
    assert WRONG_CREDENTIALS in tree.xpath("string(//p[@class='govuk-error-message'])")
    assert tree.xpath("//input[@name='email']/@value") == [user.email]
    assert not tree.xpath("//input[@name='password']/@value")
    assert client.get("/").status_code == 302


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user("staff")
    wrong_password = post_sign_in(client, user.email, "not the password")
    unknown = "nobody-" + user.email
    no_account = post_sign_in(client, unknown, "not the password")

    assert wrong_password.status_code == no_account.status_code == 200
    assert error_summary(wrong_password) == error_summary(no_account) == WRONG_CREDENTIALS
    failures = audit_rows(web_runtime, "auth.sign_in_failed")
    mine = [f for f in failures if f.new_values and f.new_values.get("email") == user.email]
    assert [f.reason for f in mine] == ["wrong password"]
    key = attempt_key(web_runtime.settings.secret_key, unknown, "127.0.0.1")
    [no_account_row] = [f for f in failures if f.new_values and f.new_values["attempt_key"] == key]
    assert no_account_row.reason == "unknown email"
    assert no_account_row.actor_id is None
    assert unknown not in str(no_account_row.new_values)  # may be a password typed in the box
    for row in [*mine, no_account_row]:
        assert "not the password" not in f"{row.target} {row.reason} {row.new_values}"


def test_missing_fields_are_named_in_the_error_summary(client: FlaskClient) -> None:
    token = csrf_token(client, "/sign-in")
    response = client.post("/sign-in", data={"email": "", "password": "", "csrf_token": token})
    summary = error_summary(response)
    assert "Enter your email address" in summary and "Enter your password" in summary


# The second factor


@pytest.mark.parametrize("role", ["dsl", "headteacher", "admin"])
def test_safeguarding_roles_must_enter_a_code_after_their_password(
    role: str, client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user(role)
    assert user.totp_secret is not None
    response = post_sign_in(client, user.email, TEST_PASSWORD)

    assert response.headers["Location"] == "/sign-in/code"
    assert client.get("/").status_code == 302  # not signed in yet
    assert audit_rows(web_runtime, "auth.signed_in", user.id) == []

    token = csrf_token(client, "/sign-in/code")
    wrong = client.post("/sign-in/code", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 200 and "code is not right" in error_summary(wrong)
    assert client.get("/").status_code == 302

    assert submit_code(client, "/sign-in/code", user.totp_secret).headers["Location"] == "/"
    assert client.get("/").status_code == 200
    [signed_in] = audit_rows(web_runtime, "auth.signed_in", user.id)
    assert signed_in.new_values is not None and signed_in.new_values["second_factor"] == "totp"


def test_a_role_needing_a_code_in_any_school_needs_it_everywhere(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user("staff")
    other_school = make_user("auditor").school_id
    with web_runtime.unit_of_work() as uow:
        uow.users.grant(user.id, other_school, "headteacher")
        uow.commit()
    response = post_sign_in(client, user.email, TEST_PASSWORD)
    assert response.headers["Location"] == "/sign-in/set-up-authenticator"


def test_someone_who_enrolled_a_code_is_always_asked_for_it(
    client: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user("staff", totp=True)
    assert post_sign_in(client, user.email, TEST_PASSWORD).headers["Location"] == "/sign-in/code"


def test_first_sign_in_without_a_code_goes_through_set_up(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user("dsl", totp=False)
    response = post_sign_in(client, user.email, TEST_PASSWORD)
    assert response.headers["Location"] == "/sign-in/set-up-authenticator"

    page = html.fromstring(client.get("/sign-in/set-up-authenticator").get_data(as_text=True))
    secret = "".join(page.get_element_by_id("totp-secret").text.split())
    uri = page.get_element_by_id("totp-uri").text.strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert pyotp.parse_uri(uri).secret == secret
    assert uri.startswith("otpauth://totp/Safeguard%20Flow:")
    assert not page.xpath("//img")  # text only: no QR image
    token = csrf_token(client, "/sign-in/set-up-authenticator")
    wrong = client.post(
        "/sign-in/set-up-authenticator", data={"code": "123456", "csrf_token": token}
    )
    assert "code is not right" in error_summary(wrong)
    with web_runtime.unit_of_work() as uow:
        found = uow.users.get(user.id)
        assert found is not None and found.totp_secret is None

    response = submit_code(client, "/sign-in/set-up-authenticator", secret)
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    with web_runtime.unit_of_work() as uow:
        found = uow.users.get(user.id)
        assert found is not None and found.totp_secret == secret
    assert len(audit_rows(web_runtime, "auth.totp_enrolled", user.id)) == 1

    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    again = post_sign_in(client, user.email, TEST_PASSWORD)
    assert again.headers["Location"] == "/sign-in/code"


def test_staff_never_see_the_code_pages(client: FlaskClient, make_user: MakeUser) -> None:
    user = make_user("staff")
    assert post_sign_in(client, user.email, TEST_PASSWORD).headers["Location"] == "/"
    assert client.get("/sign-in/code").headers["Location"] == "/sign-in"
    assert client.get("/sign-in/set-up-authenticator").headers["Location"] == "/sign-in"


def test_a_code_is_accepted_once(
    client: FlaskClient, make_user: MakeUser, clock: FixedClock
) -> None:
    user = make_user("dsl")
    assert user.totp_secret is not None
    login(client, user.email)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})

    post_sign_in(client, user.email, TEST_PASSWORD)
    same_code = pyotp.TOTP(user.totp_secret).at(clock.now())
    token = csrf_token(client, "/sign-in/code")
    again = client.post("/sign-in/code", data={"code": same_code, "csrf_token": token})
    assert again.status_code == 200 and "code is not right" in error_summary(again)


def test_the_code_step_expires(client: FlaskClient, make_user: MakeUser, clock: FixedClock) -> None:
    user = make_user("admin")
    post_sign_in(client, user.email, TEST_PASSWORD)
    clock.advance(timedelta(minutes=11))
    assert client.get("/sign-in/code").headers["Location"] == "/sign-in"


# Lockout


def test_after_five_failures_sign_in_waits_longer_after_each_whatever_the_address(
    client: FlaskClient, make_user: MakeUser, clock: FixedClock, web_runtime: Runtime
) -> None:
    user = make_user("staff")
    for _ in range(5):
        assert post_sign_in(client, user.email, "wrong").status_code == 200
        clock.advance(timedelta(seconds=10))

    locked = post_sign_in(client, user.email, TEST_PASSWORD)  # the right password, too soon
    assert locked.status_code == 429
    assert error_summary(locked) == (
        "You have tried to sign in too many times. Try again in 20 seconds."
    )
    assert locked.headers["Retry-After"] == "20"
    assert client.get("/").status_code == 302
    assert audit_rows(web_runtime, "auth.signed_in", user.id) == []
    assert audit_rows(web_runtime, "auth.sign_in_failed", user.id)[-1].reason == "locked out"
    other_address = client.application.test_client()  # another address is held all the same
    other_address.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert post_sign_in(other_address, user.email, TEST_PASSWORD).status_code == 429

    clock.advance(timedelta(seconds=20))  # 30 s after the fifth failure
    assert post_sign_in(other_address, user.email, "wrong again").status_code == 200
    held = post_sign_in(client, user.email, TEST_PASSWORD)  # the sixth failure doubles the wait
    until = (clock.now() + timedelta(minutes=1)).astimezone(ZoneInfo("Europe/London"))
    clock_time = f"{until.hour % 12 or 12}:{until.minute:02d}{'am' if until.hour < 12 else 'pm'}"
    assert error_summary(held) == (
        f"You have tried to sign in too many times. Try again in 1 minute, after {clock_time}."
    )
    clock.advance(timedelta(minutes=1))
    assert post_sign_in(client, user.email, TEST_PASSWORD).status_code == 302


def test_lockout_does_not_reveal_whether_the_account_exists(
    client: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user("staff")
    answers = []
    for email in (user.email, "nobody-" + user.email):
        for _ in range(5):
            post_sign_in(client, email, "wrong")
        locked = post_sign_in(client, email, "wrong")
        answers.append((locked.status_code, error_summary(locked)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 429


def test_wrong_codes_count_towards_the_lockout(client: FlaskClient, make_user: MakeUser) -> None:
    user = make_user("headteacher")
    post_sign_in(client, user.email, TEST_PASSWORD)
    for _ in range(5):
        token = csrf_token(client, "/sign-in/code")
        client.post("/sign-in/code", data={"code": "000000", "csrf_token": token})
    token = csrf_token(client, "/sign-in/code")
    locked = client.post("/sign-in/code", data={"code": "000000", "csrf_token": token})
    assert locked.status_code == 429
    assert "too many times" in error_summary(locked)
    assert client.get("/sign-in/code").headers["Location"] == "/sign-in"


# CSRF


def test_sign_in_without_the_csrf_token_is_refused_and_changes_nothing(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    user = make_user("staff")
    with web_runtime.unit_of_work() as uow:
        events_before = uow.session.scalar(select(func.count()).select_from(AuditEvent))

    response = client.post("/sign-in", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "This page has timed out" in response.get_data(as_text=True)
    client.get("/sign-in")  # a session with a token now exists; a forged one still fails
    forged = client.post(
        "/sign-in",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": "forged"},
    )
    assert forged.status_code == 400

    assert client.get("/").status_code == 302
    with web_runtime.unit_of_work() as uow:
        events_after = uow.session.scalar(select(func.count()).select_from(AuditEvent))
    assert events_after == events_before


# Headers, CSP and cookies


def assert_secure_page(response: TestResponse) -> None:
    headers = response.headers
    policy = dict(
        [*part.strip().split(" ", 1), ""][:2]
        for part in headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    [nonce] = re.findall(r"'nonce-([^']+)'", policy["script-src"])
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "microphone=()" in headers["Permissions-Policy"]
    if response.mimetype == "text/html" and not response.location:
        assert headers["Cache-Control"] == "no-store"
        tree = html.fromstring(response.get_data(as_text=True))
        for script in tree.xpath("//script"):
            if script.get("src") is None:
                assert script.get("nonce") == nonce, html.tostring(script)
            else:
                assert script.get("src").startswith("/"), script.get("src")
        assert not tree.xpath("//@*[starts-with(name(), 'on')]"), "inline event handler"
        assert not tree.xpath("//@style | //style"), "inline style"
        assert tree.xpath("//script[@src='/static/app/init.js' and @type='module']")


@pytest.mark.parametrize("path", ["/sign-in", "/signed-out", "/", "/no-such-page", "/sign-in/code"])
def test_every_page_has_the_security_headers_and_no_inline_script_without_the_nonce(
    path: str, client: FlaskClient
) -> None:
    response = client.get(path)
    assert_secure_page(response)
    if response.status_code == 200 or response.status_code == 404:
        assert response.mimetype == "text/html"


def test_signed_in_pages_and_error_pages_are_secured_too(
    client: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user("dsl", totp=False)
    post_sign_in(client, user.email, TEST_PASSWORD)
    assert_secure_page(client.get("/sign-in/set-up-authenticator"))
    login_client = client.application.test_client()
    login(login_client, make_user("admin").email)
    assert_secure_page(login_client.get("/"))
    assert_secure_page(login_client.post("/sign-out"))  # 400: no CSRF token


def test_each_response_gets_a_new_nonce(client: FlaskClient) -> None:
    first = client.get("/sign-in").headers["Content-Security-Policy"]
    second = client.get("/sign-in").headers["Content-Security-Policy"]
    assert first != second


def test_the_gov_uk_assets_are_served_from_our_own_origin(client: FlaskClient) -> None:
    page = html.fromstring(client.get("/sign-in").get_data(as_text=True))
    sheets = page.xpath("//link[@rel='stylesheet']/@href")
    assert "/static/govuk/govuk-frontend.min.css" in sheets
    for url in [*sheets, "/static/app/init.js", "/static/govuk/govuk-frontend.min.js"]:
        response = client.get(url)
        assert response.status_code == 200, f"{url}: run `npm ci && npm run build:assets`"
        response.close()
    assert client.get("/assets/images/govuk-crest.svg").status_code == 200
    assert client.get("/assets/../app.py").status_code == 404


def session_cookie(response: TestResponse, name: str = "safeguard_session") -> str:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    return cookie


def test_the_session_cookie_is_http_only_lax_and_replaced_at_sign_in(
    client: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user("staff")
    before = session_cookie(client.get("/sign-in"))
    with client.session_transaction() as session:
        session["left_over"] = "from before sign-in"
        token_before = session["csrf_token"]

    token = csrf_token(client, "/sign-in")
    response = client.post(
        "/sign-in", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token}
    )
    after = session_cookie(response)
    flags = [part.strip().lower() for part in after.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags
    assert any(flag.startswith("expires=") for flag in flags)  # the idle timeout
    assert after.split(";")[0] != before.split(";")[0]
    with client.session_transaction() as session:
        assert "left_over" not in session
        assert session.get("csrf_token") != token_before
        assert session["user_id"] == user.id and len(session["nonce"]) >= 24


def test_secure_cookies_are_secure_and_host_only(
    make_user: MakeUser, db_url: str, tmp_path: Path, web_runtime: Runtime
) -> None:
    from services.web import create_app

    settings = settings_for_tests(db_url, tmp_path, secure_cookies=True)
    runtime = bootstrap(settings, clock=web_runtime.clock, engine=web_runtime.engine)
    secure_app = create_app(settings, runtime=runtime)
    secure_client = secure_app.test_client()
    user = make_user("staff")
    token = csrf_token(secure_client, "https://localhost/sign-in")
    response = secure_client.post(
        "https://localhost/sign-in",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    flags = [p.strip().lower() for p in session_cookie(response, "__Host-session").split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags
    assert not any(flag.startswith("domain=") for flag in flags)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_session_ends_after_its_lifetime(
    client: FlaskClient, make_user: MakeUser, clock: FixedClock
) -> None:
    user = make_user("staff")
    login(client, user.email)
    clock.advance(timedelta(minutes=599))
    assert client.get("/").status_code == 200
    clock.advance(timedelta(minutes=2))
    assert client.get("/").headers["Location"].startswith("/sign-in")


# API tokens


def run_safeguard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")}
    return subprocess.run(
        [str(SAFEGUARD), *args],
        cwd=ROOT,
        env={**full_env, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_safeguard_token_prints_a_token_the_api_accepts_until_revoked(
    app: Flask, make_user: MakeUser, db_url: str, web_runtime: Runtime
) -> None:
    user = make_user("dsl")
    result = run_safeguard(
        "token", user.email, "--label", "test", env={"SAFEGUARD_DATABASE_URL": db_url}
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("sgf_") and len(token) > 40

    def bearer(value: str) -> SignedInUser | None:
        with app.test_request_context(headers={"Authorization": value}):
            return load_user_from_bearer(request)

    signed_in = bearer(f"Bearer {token}")
    assert signed_in is not None and signed_in.id == user.id
    assert signed_in.roles_in(user.school_id) == frozenset({"dsl"})
    assert bearer("Bearer sgf_garbage") is None
    assert bearer(f"Basic {token}") is None
    assert bearer("Bearer ") is None
    with web_runtime.unit_of_work() as uow:
        [stored] = uow.tokens.list_for_user(user.id, limit=10)
        assert stored.token_hash != token and stored.last_used_at is not None
        uow.tokens.revoke([stored.id], at=web_runtime.clock.now())
        uow.commit()
    assert bearer(f"Bearer {token}") is None


def test_safeguard_token_refuses_an_unknown_email(db_url: str) -> None:
    result = run_safeguard("token", "nobody@nowhere.test", env={"SAFEGUARD_DATABASE_URL": db_url})
    assert result.returncode == 1
    assert "nobody@nowhere.test" in result.stderr and result.stdout == ""


# safeguard init


def test_init_demo_sets_up_the_database_process_and_demo_school_idempotently(
    tmp_path: Path,
) -> None:
    env = {"SAFEGUARD_INSTANCE_DIR": str(tmp_path / "instance")}
    first = run_safeguard("init", "--demo", env=env)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "DEMO ONLY" in out
    assert "Deployed: sharing_nudes_response version 1" in out
    for email in (
        "staff@demo.school",
        "dsl@demo.school",
        "head@demo.school",
        "auditor@demo.school",
        "admin@demo.school",
        "process@demo.school",
        "process2@demo.school",
    ):
        assert email in out
    # Everyone but staff reads records (or changes the process): all have a second factor.
    assert out.count("TOTP secret:") == 6
    assert "safeguard totp-code EMAIL" in out
    password = re.search(r"Password for every demo account: (\S+)", out)
    assert password is not None

    second = run_safeguard("init", "--demo", env=env)
    assert second.returncode == 0, second.stderr
    assert "Unchanged: sharing_nudes_response version 1" in second.stdout
    assert "Deployed: " not in second.stdout
    assert re.findall(r"TOTP secret: (\S+)", second.stdout) == re.findall(
        r"TOTP secret: (\S+)", out
    )
    database = sqlite3.connect(tmp_path / "instance" / "safeguard.sqlite3")
    try:
        assert database.execute("select count(*) from schools").fetchone() == (1,)
        assert database.execute("select count(*) from users").fetchone() == (7,)
        assert database.execute("select count(*) from definition_versions").fetchone() == (1,)
        memberships = database.execute(
            "select u.email, m.role, s.name from users u join memberships m on m.user_id = u.id "
            "join schools s on s.id = m.school_id order by u.email"
        ).fetchall()
    finally:
        database.close()
    assert memberships == [
        ("admin@demo.school", "admin", "Demo School"),
        ("auditor@demo.school", "auditor", "Demo School"),
        ("dsl@demo.school", "dsl", "Demo School"),
        ("head@demo.school", "headteacher", "Demo School"),
        ("process2@demo.school", "process_admin", "Demo School"),
        ("process@demo.school", "process_admin", "Demo School"),
        ("staff@demo.school", "staff", "Demo School"),
    ]

    code = run_safeguard("totp-code", "dsl@demo.school", env=env)
    assert code.returncode == 0, code.stderr
    [secret] = re.findall(r"dsl@demo.school\s+dsl\s+TOTP secret: (\S+)", out)
    assert pyotp.TOTP(secret).verify(code.stdout.strip(), valid_window=1)


def test_totp_code_refuses_anyone_outside_the_demo_school(tmp_path: Path) -> None:
    env = {"SAFEGUARD_INSTANCE_DIR": str(tmp_path)}
    assert run_safeguard("init", env=env).returncode == 0
    database = sqlite3.connect(tmp_path / "safeguard.sqlite3")
    try:
        database.execute(
            "insert into users (email, display_name, password_hash, totp_secret, is_active, "
            "created_at) values ('real@school.test', 'Real', 'x', 'JBSWY3DPEHPK3PXP', 1, "
            "'2025-01-01 00:00:00')"
        )
        database.commit()
    finally:
        database.close()
    refused = run_safeguard("totp-code", "real@school.test", env=env)
    assert refused.returncode == 1
    assert "not a demo account" in refused.stderr and refused.stdout == ""


def test_init_refuses_a_bad_diagram_with_located_problems(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "bad.bpmn").write_text(
        '<?xml version="1.0"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">\n'
        '  <bpmn:process id="p" isExecutable="true">\n'
        '    <bpmn:task id="t" />\n'
        '    <bpmn:sequenceFlow id="f" sourceRef="t" targetRef="nowhere" />\n'
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    )
    env = {"SAFEGUARD_INSTANCE_DIR": str(tmp_path), "SAFEGUARD_BPMN_DIR": str(models)}
    result = run_safeguard("init", env=env)
    assert result.returncode == 1
    assert f"{models / 'bad.bpmn'}:5: f" in result.stderr
    assert "nowhere" in result.stderr and "Traceback" not in result.stderr
    database = sqlite3.connect(tmp_path / "safeguard.sqlite3")
    try:
        assert database.execute("select count(*) from definition_versions").fetchone() == (0,)
    finally:
        database.close()


def test_serve_refuses_a_database_that_was_never_set_up(tmp_path: Path) -> None:
    result = run_safeguard("serve", env={"SAFEGUARD_INSTANCE_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "safeguard init" in result.stderr


def test_the_sign_in_settings_come_from_the_environment_and_bad_values_are_named() -> None:
    settings = Settings.from_env(
        {"SAFEGUARD_LOGIN_MAX_FAILURES": "3", "SAFEGUARD_SESSION_IDLE_MINUTES": "20"}
    )
    assert settings.login_max_failures == 3 and settings.session_idle_minutes == 20
    assert settings.login_window_minutes == 15 and settings.proxy_hops == 0
    with pytest.raises(SettingsInvalid, match="SAFEGUARD_LOGIN_WINDOW_MINUTES='soon'"):
        Settings.from_env({"SAFEGUARD_LOGIN_WINDOW_MINUTES": "soon"})
    with pytest.raises(SettingsInvalid, match="SAFEGUARD_LOGIN_MAX_FAILURES='0': must be at"):
        Settings.from_env({"SAFEGUARD_LOGIN_MAX_FAILURES": "0"})
