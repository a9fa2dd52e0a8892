"""Break-glass grants live on the server with an expiry; production refuses an unsafe start.

Runs on SQLite and PostgreSQL (the `db_url` fixture), through the real pages.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import base64
import os
import subprocess
import sys
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from services.bootstrap import Runtime, bootstrap
from services.config import Settings, SettingsInvalid
from services.db.models import BreakGlassGrant
from services.domain.clock import FixedClock
from services.web import create_app
from tests.integration.test_web_incidents import (  # noqa: F401  # fixtures, found by name
    School,
    deployed,
    post_with_token,
    school,
    signed_in,
    start_incident,
)
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    ROOT,
    TEST_PASSWORD,
    app,
    client,
    clock,
    csrf_token,
    make_user,
    settings_for_tests,
    web_runtime,
    web_settings,
)

REASON = "Covering for the DSL while she is away"
GOOD_KEY = "9f" * 32


def cookie_text(browser: FlaskClient) -> str:
    """What anyone holding the session cookie can read in it (Flask signs, never encrypts)."""
    cookie = browser.get_cookie("safeguard_session")
    assert cookie is not None
    payload = cookie.value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(raw) if cookie.value.startswith(".") else raw).decode()


def test_a_break_glass_reason_is_kept_on_the_server_never_in_the_cookie(
    app: Flask, school: School, web_runtime: Runtime, clock: FixedClock
) -> None:
    incident_id = start_incident(web_runtime, school)
    bystander = signed_in(app, school.bystander)
    assert bystander.get(f"/incidents/{incident_id}").status_code == 403
    given = post_with_token(bystander, f"/incidents/{incident_id}/break-glass", {"reason": REASON})
    assert given.status_code == 302
    assert bystander.get(f"/incidents/{incident_id}").status_code == 200
    assert "Covering" not in cookie_text(bystander) and incident_id not in cookie_text(bystander)
    with web_runtime.unit_of_work() as uow:
        [grant] = uow.session.scalars(
            select(BreakGlassGrant).where(BreakGlassGrant.incident_id == incident_id)
        )
    assert grant.user_id == school.bystander.id and grant.reason == REASON
    assert grant.expires_at - grant.granted_at == timedelta(hours=1)

    clock.advance(timedelta(minutes=59))
    assert bystander.get(f"/incidents/{incident_id}").status_code == 200
    clock.advance(timedelta(minutes=2))  # the grant has expired: a new reason is needed
    assert bystander.get(f"/incidents/{incident_id}").status_code == 403


def test_signing_out_ends_a_break_glass_grant(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    bystander = signed_in(app, school.bystander)
    post_with_token(bystander, f"/incidents/{incident_id}/break-glass", {"reason": REASON})
    assert bystander.get(f"/incidents/{incident_id}").status_code == 200
    bystander.post("/sign-out", data={"csrf_token": csrf_token(bystander, "/")})
    again = signed_in(app, school.bystander)
    assert again.get(f"/incidents/{incident_id}").status_code == 403


def test_break_glass_for_an_incident_that_does_not_exist_is_a_404(
    app: Flask, school: School
) -> None:
    bystander = signed_in(app, school.bystander)
    missing = "00000000-0000-4000-8000-000000000000"
    response = post_with_token(bystander, f"/incidents/{missing}/break-glass", {"reason": REASON})
    assert response.status_code == 404


# Production


def test_production_refuses_a_missing_short_or_example_secret_key() -> None:
    base = {"SAFEGUARD_ENVIRONMENT": "production"}
    with pytest.raises(SettingsInvalid, match="SAFEGUARD_SECRET_KEY: not set"):
        Settings.from_env(base)
    with pytest.raises(SettingsInvalid, match="example value"):
        Settings.from_env({**base, "SAFEGUARD_SECRET_KEY": "change-me-to-a-long-random-value"})
    with pytest.raises(SettingsInvalid, match="shorter than 32"):
        Settings.from_env({**base, "SAFEGUARD_SECRET_KEY": "short"})
    with pytest.raises(SettingsInvalid, match="SAFEGUARD_ENVIRONMENT='staging'"):
        Settings.from_env({"SAFEGUARD_ENVIRONMENT": "staging"})
    settings = Settings.from_env({**base, "SAFEGUARD_SECRET_KEY": GOOD_KEY})
    assert settings.production and settings.secure_cookies  # Secure by default
    development = Settings.from_env({})
    assert not development.production and not development.secure_cookies
    assert len(development.secret_key) == 64


def test_the_app_refuses_to_start_in_production_with_a_weak_key(
    db_url: str, tmp_path: Path, web_runtime: Runtime
) -> None:
    weak = settings_for_tests(db_url, tmp_path, environment="production", secret_key="dev")
    with pytest.raises(SettingsInvalid, match="refusing to start"):
        create_app(weak, runtime=web_runtime)


def test_production_sends_secure_host_only_cookies_and_hsts(
    db_url: str, tmp_path: Path, web_runtime: Runtime, make_user: object
) -> None:
    settings = Settings.from_env(
        {
            "SAFEGUARD_ENVIRONMENT": "production",
            "SAFEGUARD_SECRET_KEY": GOOD_KEY,
            "SAFEGUARD_DATABASE_URL": db_url,
            "SAFEGUARD_INSTANCE_DIR": str(tmp_path),
        }
    )
    runtime = bootstrap(settings, clock=web_runtime.clock, engine=web_runtime.engine)
    browser = create_app(settings, runtime=runtime).test_client()
    page = browser.get("https://localhost/sign-in")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "HttpOnly" in cookie


def test_the_gunicorn_entry_point_runs_in_production_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")}
    env |= {
        "SAFEGUARD_INSTANCE_DIR": str(tmp_path),
        "SAFEGUARD_SECRET_KEY": "change-me-to-a-long-random-value",
    }
    code = "import services.web.wsgi"
    refused = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0
    assert "SAFEGUARD_SECRET_KEY: still the example value" in refused.stderr
