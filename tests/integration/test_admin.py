"""The administration area and its command line: schools, invitations, roles, deactivation,
second-factor resets and tokens, all audited.

Runs on SQLite and PostgreSQL (the `db_url` fixture), through the real pages and commands.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select
from werkzeug.test import TestResponse

from services.bootstrap import Runtime
from services.config import Settings, SmtpSettings
from services.db.models import AuditEvent, EmailDelivery, School
from services.domain.clock import FixedClock
from services.web.auth.tokens import issue_api_token
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
    web_runtime,
)

MakeUser = Callable[..., WebUser]
SAFEGUARD = Path(sys.executable).parent / "safeguard"
NEW_PASSWORD = "a new password of my own"  # test data


@pytest.fixture
def web_settings(db_url: str, tmp_path: Path) -> Settings:
    """Email on, so invitations are queued as emails (nothing is sent here)."""
    smtp = SmtpSettings(host="smtp.invalid", port=587, sender="safeguard@school.test")
    return settings_for_tests(db_url, tmp_path, smtp=smtp)


def text_of(response: TestResponse) -> str:
    return " ".join(html.fromstring(response.get_data(as_text=True)).text_content().split())


def post(browser: FlaskClient, path: str, data: dict[str, object], page: str) -> TestResponse:
    return browser.post(path, data={**data, "csrf_token": csrf_token(browser, page)})


def audit(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.unit_of_work() as uow:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(uow.session.scalars(query))


def invite(browser: FlaskClient, school_id: int, email: str, role: str) -> TestResponse:
    page = f"/admin/schools/{school_id}"
    data = {"display_name": "Nia New", "email": email, "role": role}
    return post(browser, page, data, page)


def test_an_admin_invites_a_dsl_who_sets_a_password_and_authenticator_and_signs_in(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime, app: object
) -> None:
    admin = make_user("admin")
    login(client, admin.email)
    email = f"new-dsl-{admin.id}@school.test"
    response = invite(client, admin.school_id, email, "dsl")
    assert response.status_code == 200
    link = html.fromstring(response.get_data(as_text=True)).get_element_by_id("invitation-link")
    path = "/" + link.text.split("/", 3)[3]
    assert path.startswith("/invitations/")
    assert "Nia New" in text_of(response) and "Invited" in text_of(response)

    with web_runtime.unit_of_work() as uow:
        user = uow.users.get_by_email(email)
        assert user is not None and uow.users.roles_in(user.id, admin.school_id) == {"dsl"}
        [queued] = uow.session.scalars(
            select(EmailDelivery).where(EmailDelivery.user_id == user.id)
        )
    assert queued.subject == "Your Safeguard Flow invitation" and path in queued.body
    [invited] = audit(web_runtime, "user.invited")[-1:]
    assert invited.actor_id == admin.id and invited.school_id == admin.school_id

    newcomer = client.application.test_client()  # type: ignore[attr-defined]
    blank = post(newcomer, path, {"password": "short", "confirm": "other"}, path)
    assert blank.status_code == 422 and "Password must be 12 to 1024 characters" in text_of(blank)
    chosen = post(newcomer, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, path)
    assert chosen.status_code == 302 and chosen.headers["Location"].startswith("/sign-in")
    assert newcomer.get(path).status_code == 404  # the link works once
    login(newcomer, email, NEW_PASSWORD)  # then sets up an authenticator app, as a DSL must
    home = text_of(newcomer.get("/"))
    assert "Designated safeguarding lead" in home
    with web_runtime.unit_of_work() as uow:
        user = uow.users.get_by_email(email)
        assert user is not None and user.totp_secret is not None


def test_an_invitation_expires_after_seven_days(
    client: FlaskClient, make_user: MakeUser, clock: FixedClock
) -> None:
    admin = make_user("admin")
    login(client, admin.email)
    response = invite(client, admin.school_id, f"late-{admin.id}@school.test", "staff")
    link = html.fromstring(response.get_data(as_text=True)).get_element_by_id("invitation-link")
    path = "/" + link.text.split("/", 3)[3]
    clock.advance(timedelta(days=7, minutes=1))
    assert client.get(path).status_code == 404
    assert client.get("/invitations/" + "x" * 500).status_code == 404


def test_inviting_someone_who_has_an_account_gives_them_the_role(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    admin = make_user("admin")
    staff = make_user("staff", school_id=admin.school_id)
    login(client, admin.email)
    response = invite(client, admin.school_id, staff.email.upper(), "auditor")
    assert response.status_code == 200 and "invitation-link" not in response.get_data(True)
    with web_runtime.unit_of_work() as uow:
        assert uow.users.roles_in(staff.id, admin.school_id) == {"staff", "auditor"}


def test_bad_input_is_a_named_field_error(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    admin = make_user("admin")
    login(client, admin.email)
    bad_email = invite(client, admin.school_id, "not-an-address", "staff")
    assert bad_email.status_code == 422
    assert "Enter an email address like name@example.com" in text_of(bad_email)
    bad_role = invite(client, admin.school_id, "x@school.test", "superuser")
    assert bad_role.status_code == 422 and "Not a valid choice" in text_of(bad_role)
    with web_runtime.unit_of_work() as uow:
        taken = uow.schools.get(admin.school_id)
        assert taken is not None
    dup = post(client, "/admin/", {"name": "Copy", "slug": taken.slug}, "/admin/")
    assert dup.status_code == 422 and "already has the short name" in text_of(dup)
    slug = post(client, "/admin/", {"name": "Odd", "slug": "No Spaces!"}, "/admin/")
    assert slug.status_code == 422 and "lower-case letters" in text_of(slug)


def test_an_admin_adds_a_school_and_administers_it(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    admin = make_user("admin")
    login(client, admin.email)
    slug = f"new-school-{admin.id}"
    added = post(client, "/admin/", {"name": "New School", "slug": slug}, "/admin/")
    assert added.status_code == 302
    with web_runtime.unit_of_work() as uow:
        school = uow.schools.get_by_slug(slug)
        assert school is not None and uow.users.roles_in(admin.id, school.id) == {"admin"}
    assert client.get(added.headers["Location"]).status_code == 200
    assert "New School" in text_of(client.get("/admin/"))


def test_only_administrators_reach_the_area_and_only_for_their_schools(
    client: FlaskClient, make_user: MakeUser
) -> None:
    assert client.get("/admin/").headers["Location"].startswith("/sign-in")
    dsl = make_user("dsl")
    login(client, dsl.email)
    assert client.get("/admin/").status_code == 403
    assert "Administration" not in text_of(client.get("/"))
    admin = make_user("admin")
    other_admin = client.application.test_client()
    login(other_admin, admin.email)
    assert "Administration" in text_of(other_admin.get("/"))
    assert other_admin.get(f"/admin/schools/{dsl.school_id}").status_code == 404
    assert other_admin.get(f"/admin/schools/{admin.school_id}/people/{dsl.id}").status_code == 404


def test_roles_deactivation_and_second_factor_resets_are_recorded_with_reasons(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime, app: object
) -> None:
    admin = make_user("admin")
    dsl = make_user("dsl", school_id=admin.school_id)
    with web_runtime.unit_of_work() as uow:
        token = issue_api_token(uow, dsl.id, "script", at=web_runtime.clock.now())
        uow.commit()
    their_browser = client.application.test_client()
    login(their_browser, dsl.email)
    login(client, admin.email)
    person = f"/admin/schools/{admin.school_id}/people/{dsl.id}"
    assert "script" in text_of(client.get(person))

    roles = post(client, person + "/roles", {"roles": ["dsl", "headteacher"]}, person)
    assert roles.status_code == 302
    no_reason = post(client, person + "/reset-second-factor", {"reason": " "}, person)
    assert no_reason.status_code == 422 and "Enter the reason" in text_of(no_reason)
    reset = post(client, person + "/reset-second-factor", {"reason": "Lost phone"}, person)
    assert reset.status_code == 302
    assert their_browser.get("/").status_code == 302  # their session ended
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/tasks", headers=bearer).status_code == 401

    off = post(client, person + "/deactivate", {"reason": "Left the school"}, person)
    assert off.status_code == 302
    assert "Deactivated" in text_of(client.get(person))
    refused = post(
        their_browser, "/sign-in", {"email": dsl.email, "password": TEST_PASSWORD}, "/sign-in"
    )
    assert refused.status_code == 200  # "Enter a correct email address and password"

    with web_runtime.unit_of_work() as uow:
        assert uow.users.roles_in(dsl.id, admin.school_id) == {"dsl", "headteacher"}
        user = uow.users.get(dsl.id)
        assert user is not None and user.totp_secret is None and not user.is_active
    [granted] = [a for a in audit(web_runtime, "user.role_granted") if a.target == f"user:{dsl.id}"]
    assert granted.new_values == {"role": "headteacher"} and granted.actor_id == admin.id
    [was_reset] = [
        a for a in audit(web_runtime, "user.second_factor_reset") if a.target == f"user:{dsl.id}"
    ]
    assert was_reset.reason == "Lost phone" and was_reset.school_id == admin.school_id
    [gone] = [a for a in audit(web_runtime, "user.deactivated") if a.target == f"user:{dsl.id}"]
    assert gone.reason == "Left the school"
    viewed = [a for a in audit(web_runtime, "admin.person_viewed") if a.target == f"user:{dsl.id}"]
    assert viewed and {a.actor_id for a in viewed} == {admin.id}  # reads are audited too


def test_an_admin_revokes_a_persons_tokens(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    admin = make_user("admin")
    auditor = make_user("auditor", school_id=admin.school_id)
    with web_runtime.unit_of_work() as uow:
        token = issue_api_token(uow, auditor.id, "export", at=web_runtime.clock.now())
        uow.commit()
    login(client, admin.email)
    person = f"/admin/schools/{admin.school_id}/people/{auditor.id}"
    assert post(client, person + "/revoke-tokens", {}, person).status_code == 302
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/tasks", headers=bearer).status_code == 401
    assert [a.actor_id for a in audit(web_runtime, "auth.tokens_revoked")][-1] == admin.id


def test_an_admin_cannot_deactivate_themselves_or_drop_their_own_admin_role(
    client: FlaskClient, make_user: MakeUser
) -> None:
    admin = make_user("admin")
    login(client, admin.email)
    me = f"/admin/schools/{admin.school_id}/people/{admin.id}"
    response = post(client, me + "/deactivate", {"reason": "oops"}, me)
    assert response.status_code == 422 and "cannot deactivate yourself" in text_of(response)
    dropped = post(client, me + "/roles", {"roles": ["staff"]}, me)
    assert dropped.status_code == 422 and "own administrator role" in text_of(dropped)


def test_the_school_setting_requires_staff_to_use_a_second_factor(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    admin = make_user("admin")
    login(client, admin.email)
    page = f"/admin/schools/{admin.school_id}"
    saved = post(client, page + "/settings", {"staff_second_factor": "y"}, page)
    assert saved.status_code == 302
    with web_runtime.unit_of_work() as uow:
        school = uow.session.get(School, admin.school_id)
        assert school is not None and school.staff_second_factor
    assert audit(web_runtime, "school.setting_changed")[-1].new_values == {
        "staff_second_factor": True
    }


# The command line


def run_safeguard(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")}
    env["SAFEGUARD_DATABASE_URL"] = db_url
    return subprocess.run(
        [str(SAFEGUARD), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_the_cli_adds_a_school_invites_its_admin_and_disables_people(
    client: FlaskClient, web_runtime: Runtime, db_url: str, make_user: MakeUser
) -> None:
    slug = f"cli-school-{os.getpid()}-{id(client)}"
    added = run_safeguard("school", "add", "Cli School", "--slug", slug, db_url=db_url)
    assert added.returncode == 0, added.stderr
    again = run_safeguard("school", "add", "Cli School", "--slug", slug, db_url=db_url)
    assert again.returncode == 1 and "already has the short name" in again.stderr

    email = f"head-{slug}@school.test"
    invited = run_safeguard(
        "user",
        "invite",
        email,
        "--name",
        "Hana Head",
        "--school",
        slug,
        "--role",
        "admin",
        db_url=db_url,
    )
    assert invited.returncode == 0, invited.stderr
    path = "/" + invited.stdout.strip().split("/", 3)[3]
    newcomer = client.application.test_client()
    chosen = post(newcomer, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, path)
    assert chosen.status_code == 302
    login(newcomer, email, NEW_PASSWORD)
    assert newcomer.get("/admin/").status_code == 200

    unknown = run_safeguard(
        "user",
        "invite",
        "x@school.test",
        "--name",
        "X",
        "--school",
        "nowhere",
        "--role",
        "staff",
        db_url=db_url,
    )
    assert unknown.returncode == 1 and "No school has the short name 'nowhere'" in unknown.stderr
    disabled = run_safeguard("user", "disable", email, "--reason", "Test over", db_url=db_url)
    assert disabled.returncode == 0, disabled.stderr
    assert newcomer.get("/").status_code == 302
    [gone] = [a for a in audit(web_runtime, "user.deactivated") if a.reason == "Test over"]
    assert gone.actor_id is None
