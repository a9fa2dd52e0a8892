"""API tokens: only for people with a second factor, scoped, expiring, listed and revocable.

Runs on SQLite and PostgreSQL (the `db_url` fixture), through the real pages, API and CLI.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import hashlib
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

from services.bootstrap import Runtime
from services.db.models import ApiToken, AuditEvent
from services.domain.clock import FixedClock
from services.web.auth.tokens import TokenRefused, issue_api_token, lifetime_days
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    ROOT,
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

SAFEGUARD = Path(sys.executable).parent / "safeguard"
MakeUser = Callable[..., WebUser]


def run_safeguard(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")}
    env["SAFEGUARD_DATABASE_URL"] = db_url
    return subprocess.run(
        [str(SAFEGUARD), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(runtime: Runtime, user_id: int, **options: object) -> str:
    with runtime.unit_of_work() as uow:
        token = issue_api_token(uow, user_id, "test", at=runtime.clock.now(), **options)  # type: ignore[arg-type]
        uow.commit()
    return token


def test_no_token_for_a_person_without_a_second_factor(
    make_user: MakeUser, web_runtime: Runtime, db_url: str
) -> None:
    staff = make_user("staff")
    with web_runtime.unit_of_work() as uow, pytest.raises(TokenRefused, match="second factor"):
        issue_api_token(uow, staff.id, "test")
    result = run_safeguard("token", staff.email, db_url=db_url)
    assert result.returncode == 1 and result.stdout == ""
    assert "no second factor" in result.stderr


def test_a_token_stops_working_when_its_owner_loses_the_second_factor(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    dsl = make_user("dsl")
    token = issue(web_runtime, dsl.id)
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    with web_runtime.unit_of_work() as uow:
        user = uow.users.get(dsl.id)
        assert user is not None
        user.totp_secret = None  # an admin reset it
        uow.commit()
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 401


def test_a_read_token_reads_but_cannot_write(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    dsl = make_user("dsl")
    token = issue(web_runtime, dsl.id, scope="read")
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    response = client.post("/api/v1/incidents", headers=bearer(token), json={"data": {}})
    assert response.status_code == 403
    assert "read-only" in response.get_json()["error"]["message"]


def test_the_cli_issues_scoped_expiring_tokens_that_expire(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime, db_url: str, clock: FixedClock
) -> None:
    dsl = make_user("dsl")
    result = run_safeguard("token", dsl.email, "--scope", "read", "--expires", "7d", db_url=db_url)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert "read, 7 days" in result.stderr
    with web_runtime.unit_of_work() as uow:
        [stored] = uow.tokens.list_for_user(dsl.id, limit=5)
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert stored.scope == "read"
        assert timedelta(days=6) < stored.expires_at - stored.created_at <= timedelta(days=7)
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    clock.advance(timedelta(days=8))
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 401
    bad = run_safeguard("token", dsl.email, "--expires", "900d", db_url=db_url)
    assert bad.returncode == 1 and "from 1 to 366" in bad.stderr


def test_lifetimes_are_read_in_days() -> None:
    assert lifetime_days("30") == 30 and lifetime_days("30d") == 30
    for bad in ("0", "367d", "soon", "-1", ""):
        with pytest.raises(TokenRefused):
            lifetime_days(bad)


def test_an_owner_creates_lists_and_revokes_tokens_in_the_page(
    client: FlaskClient, make_user: MakeUser, web_runtime: Runtime
) -> None:
    auditor = make_user("auditor")
    login(client, auditor.email)
    response = client.post(
        "/account/api-tokens",
        data={
            "label": "MIS export",
            "scope": "read",
            "days": "30",
            "csrf_token": csrf_token(client, "/account/api-tokens"),
        },
    )
    assert response.status_code == 200
    token = html.fromstring(response.get_data(as_text=True)).get_element_by_id("new-token").text
    assert token and token.startswith("sgf_")
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200

    page = client.get("/account/api-tokens").get_data(as_text=True)
    assert token not in page  # shown once only
    text = " ".join(html.fromstring(page).text_content().split())
    assert "MIS export Read only" in text and "Never" not in text  # its last use is shown

    with web_runtime.unit_of_work() as uow:
        [stored] = uow.tokens.list_for_user(auditor.id, limit=5)
    revoke = client.post(
        f"/account/api-tokens/{stored.id}/revoke",
        data={"csrf_token": csrf_token(client, "/account/api-tokens")},
    )
    assert revoke.status_code == 302
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 401
    assert "Revoked" in client.get("/account/api-tokens").get_data(as_text=True)
    with web_runtime.unit_of_work() as uow:
        actions = list(
            uow.session.scalars(
                select(AuditEvent.action).where(AuditEvent.target == f"user:{auditor.id}")
            )
        )
    assert "auth.token_issued" in actions and "auth.token_revoked" in actions


def test_nobody_revokes_another_persons_token_from_their_own_page(
    app: object, make_user: MakeUser, web_runtime: Runtime, client: FlaskClient
) -> None:
    owner = make_user("dsl")
    token = issue(web_runtime, owner.id)
    other = make_user("dsl", school_id=owner.school_id)
    login(client, other.email)
    with web_runtime.unit_of_work() as uow:
        stored = uow.session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
        assert stored is not None
    response = client.post(
        f"/account/api-tokens/{stored.id}/revoke",
        data={"csrf_token": csrf_token(client, "/account/api-tokens")},
    )
    assert response.status_code == 404
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200


def test_staff_signed_in_with_a_password_alone_cannot_create_a_token(
    client: FlaskClient, make_user: MakeUser
) -> None:
    staff = make_user("staff")
    login(client, staff.email)
    page = client.get("/account/api-tokens").get_data(as_text=True)
    assert "only for people who sign in with an authenticator app" in page
    response = client.post(
        "/account/api-tokens",
        data={
            "label": "x",
            "scope": "write",
            "days": "5",
            "csrf_token": csrf_token(client, "/account/api-tokens"),
        },
    )
    assert response.status_code == 422
    assert "new-token" not in response.get_data(as_text=True)
