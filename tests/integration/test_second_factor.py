"""Who must sign in with a second factor: every role that reads records, and staff where required.

Runs on SQLite and PostgreSQL (the `db_url` fixture), through the real sign-in pages.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from lxml import html

from services.bootstrap import Runtime
from services.db.models import School
from services.db.models.accounts import ROLES, SECOND_FACTOR_ROLES
from services.demo import seed_demo
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    TEST_PASSWORD,
    WebUser,
    app,
    client,
    clock,
    csrf_token,
    login,
    make_user,
    web_runtime,
    web_settings,
)

MakeUser = Callable[..., WebUser]


def post_password(client: FlaskClient, email: str) -> str:
    token = csrf_token(client, "/sign-in")
    response = client.post(
        "/sign-in", data={"email": email, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return response.headers["Location"]


def test_process_admin_is_a_known_role_that_reads_records() -> None:
    assert "process_admin" in ROLES
    assert {"dsl", "headteacher", "auditor", "admin", "process_admin"} == SECOND_FACTOR_ROLES


@pytest.mark.parametrize("role", sorted(SECOND_FACTOR_ROLES))
def test_every_role_that_reads_records_is_asked_for_a_code_or_to_set_one_up(
    client: FlaskClient, make_user: MakeUser, role: str
) -> None:
    enrolled = make_user(role)
    assert post_password(client, enrolled.email) == "/sign-in/code"
    assert client.get("/").status_code == 302  # not signed in on a password alone

    newcomer = make_user(role, totp=False)
    browser = client.application.test_client()
    assert post_password(browser, newcomer.email) == "/sign-in/set-up-authenticator"
    login(browser, newcomer.email)  # enrols on first sign-in, then signed in
    assert browser.get("/").status_code == 200


def test_staff_sign_in_with_a_password_unless_their_school_requires_a_second_factor(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    staff = make_user("staff")
    assert post_password(client, staff.email) == "/"

    with web_runtime.unit_of_work() as uow:
        school = uow.session.get(School, staff.school_id)
        assert school is not None
        school.staff_second_factor = True
        uow.commit()
    # The session begun with a password alone ends at the next request.
    assert client.get("/").headers["Location"] == "/sign-in?next=/"
    assert post_password(client, staff.email) == "/sign-in/set-up-authenticator"
    login(client, staff.email)
    assert client.get("/").status_code == 200


def test_a_password_only_session_ends_when_its_user_is_given_a_reading_role(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    staff = make_user("staff")
    login(client, staff.email)
    assert client.get("/").status_code == 200
    with web_runtime.unit_of_work() as uow:
        uow.users.grant(staff.id, staff.school_id, "auditor")
        uow.commit()
    assert client.get("/").headers["Location"] == "/sign-in?next=/"


def test_the_demo_seeds_two_process_admins_with_second_factors(web_runtime: Runtime) -> None:
    seed = seed_demo(web_runtime.unit_of_work())
    by_email = {account.email: account for account in seed.accounts}
    for email in ("process@demo.school", "process2@demo.school"):
        assert by_email[email].role == "process_admin"
        assert by_email[email].totp_secret
    assert by_email["auditor@demo.school"].totp_secret  # auditors read every record
    assert by_email["staff@demo.school"].totp_secret is None


def test_the_home_page_names_the_process_administrator_role(
    client: FlaskClient, make_user: MakeUser
) -> None:
    admin = make_user("process_admin")
    login(client, admin.email)
    text = html.fromstring(client.get("/").get_data(as_text=True)).text_content()
    assert "Process administrator" in " ".join(text.split())
