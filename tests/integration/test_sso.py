"""Single sign-on end to end: the app (Authlib) against a local OpenID Connect provider.

Runs on SQLite and PostgreSQL (the `db_url` fixture). The browser's hops to the provider are
followed by hand: the test client asks the app, urllib asks the provider (real HTTP), and the
app fetches the token and the provider's keys itself, over real HTTP too.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import dataclasses
import http.client
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from flask.testing import FlaskClient
from lxml import html
from werkzeug.test import TestResponse

from services.bootstrap import Runtime
from services.config import OidcSettings, Settings, SettingsInvalid
from services.domain.clock import FixedClock
from tests.integration.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    new_key,
    oidc_provider,  # noqa: F401  # a fixture, found by name
)
from tests.integration.test_web_auth import audit_rows
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    WebUser,
    app,
    client,
    clock,
    make_user,
    settings_for_tests,
    submit_code,
    web_runtime,
)

MakeUser = Callable[..., WebUser]


@pytest.fixture
def web_settings(db_url: str, tmp_path: Path, oidc_provider: Provider) -> Settings:
    """SSO with the local provider; its second factor is trusted."""
    oidc = OidcSettings(
        issuer=oidc_provider.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        name="Test Trust",
        trust_mfa=True,
    )
    return settings_for_tests(db_url, tmp_path, oidc=oidc)


def provider_redirect(url: str) -> str:
    """GET the provider's URL without following its redirect; return where it sends us."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        assert response.status == 302, response.read()
        return str(response.getheader("Location"))
    finally:
        connection.close()


def sso(client: FlaskClient) -> TestResponse:
    """Start at the app, pass through the provider, and come back to the app's callback."""
    start = client.get("/sign-in/sso")
    assert start.status_code == 302, start.get_data(as_text=True)
    back = urlsplit(provider_redirect(start.headers["Location"]))
    assert back.path == "/sign-in/sso/callback"
    return client.get(f"{back.path}?{back.query}")


def error_text(response: TestResponse) -> str:
    tree = html.fromstring(response.get_data(as_text=True))
    return " ".join(tree.xpath("string(//div[@class='govuk-error-summary__body'])").split())


def test_the_sign_in_page_offers_single_sign_on(client: FlaskClient) -> None:
    page = client.get("/sign-in").get_data(as_text=True)
    assert "Sign in with Test Trust" in page


def test_staff_sign_in_through_the_provider_by_verified_email(
    client: FlaskClient, make_user: MakeUser, oidc_provider: Provider, web_runtime: Runtime
) -> None:
    staff = make_user("staff")
    oidc_provider.sign_in_as(staff.email.upper())
    done = sso(client)
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    [signed_in] = audit_rows(web_runtime, "auth.signed_in", staff.id)
    assert signed_in.new_values is not None
    assert signed_in.new_values["method"] == "oidc"
    assert signed_in.new_values["second_factor"] == "none"


def test_a_dsl_with_the_providers_second_factor_is_signed_in_at_once(
    client: FlaskClient, make_user: MakeUser, oidc_provider: Provider
) -> None:
    dsl = make_user("dsl")
    oidc_provider.sign_in_as(dsl.email, amr=["pwd", "mfa"])
    done = sso(client)
    assert done.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_dsl_without_the_providers_second_factor_enters_our_code(
    client: FlaskClient, make_user: MakeUser, oidc_provider: Provider, clock: FixedClock
) -> None:
    dsl = make_user("dsl")
    oidc_provider.sign_in_as(dsl.email, amr=["pwd"])
    done = sso(client)
    assert done.headers["Location"] == "/sign-in/code"
    assert client.get("/").status_code == 302  # not signed in yet
    assert dsl.totp_secret is not None
    coded = submit_code(client, "/sign-in/code", dsl.totp_secret)
    assert coded.status_code == 302 and coded.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_an_invited_person_signs_in_by_sso_and_sets_up_our_code_when_mfa_is_not_trusted(
    app: object,
    make_user: MakeUser,
    oidc_provider: Provider,
    web_settings: Settings,
    web_runtime: Runtime,
    clock: FixedClock,
) -> None:
    from services.web import create_app

    assert web_settings.oidc is not None
    untrusting = dataclasses.replace(
        web_settings, oidc=dataclasses.replace(web_settings.oidc, trust_mfa=False)
    )
    browser = create_app(untrusting, runtime=web_runtime).test_client()
    auditor = make_user("auditor", totp=False)
    oidc_provider.sign_in_as(auditor.email, amr=["pwd", "mfa"])
    done = sso(browser)
    assert done.headers["Location"] == "/sign-in/set-up-authenticator"
    page = browser.get("/sign-in/set-up-authenticator").get_data(as_text=True)
    secret = "".join(html.fromstring(page).get_element_by_id("totp-secret").text.split())
    enrolled = submit_code(browser, "/sign-in/set-up-authenticator", secret)
    assert enrolled.headers["Location"] == "/"
    assert pyotp.TOTP(secret).now()  # a real secret the person's app now holds


def test_no_account_or_an_unverified_email_is_refused_and_audited(
    client: FlaskClient, make_user: MakeUser, oidc_provider: Provider, web_runtime: Runtime
) -> None:
    oidc_provider.sign_in_as("stranger@elsewhere.test")
    refused = sso(client)
    assert refused.status_code == 403
    assert "no active account has your email address" in error_text(refused)

    staff = make_user("staff")
    oidc_provider.sign_in_as(staff.email, verified=False)
    unverified = sso(client)
    assert unverified.status_code == 403 and "not say your email address is verified" in (
        error_text(unverified)
    )
    assert client.get("/").status_code == 302
    reasons = [row.reason for row in audit_rows(web_runtime, "auth.sign_in_failed")]
    assert "sso: no active account has your email address" in reasons

    disabled = make_user("staff", active=False)
    oidc_provider.sign_in_as(disabled.email)
    assert sso(client).status_code == 403


def test_a_token_signed_by_another_key_is_refused(
    client: FlaskClient, make_user: MakeUser, oidc_provider: Provider
) -> None:
    staff = make_user("staff")
    for forger in (new_key(), new_key(kid=oidc_provider.key.kid)):  # unknown key id; same id
        oidc_provider.sign_in_as(staff.email)
        oidc_provider.signing_key = forger
        try:
            refused = sso(client)
        finally:
            oidc_provider.signing_key = None
        assert refused.status_code == 403
        assert "the provider's answer was not accepted" in error_text(refused)
        assert client.get("/").status_code == 302


def test_sso_settings_need_the_client_and_an_https_issuer() -> None:
    with pytest.raises(SettingsInvalid, match="OIDC_CLIENT_ID and"):
        Settings.from_env({"SAFEGUARD_OIDC_ISSUER": "https://login.example"})
    with pytest.raises(SettingsInvalid, match="use an https:// address"):
        Settings.from_env(
            {
                "SAFEGUARD_OIDC_ISSUER": "http://login.example",
                "SAFEGUARD_OIDC_CLIENT_ID": "x",
                "SAFEGUARD_OIDC_CLIENT_SECRET": "y",
            }
        )
    settings = Settings.from_env(
        {
            "SAFEGUARD_OIDC_ISSUER": "https://accounts.google.com/",
            "SAFEGUARD_OIDC_CLIENT_ID": "x",
            "SAFEGUARD_OIDC_CLIENT_SECRET": "very-secret",
        }
    )
    assert settings.oidc is not None and settings.oidc.issuer == "https://accounts.google.com"
    assert "very-secret" not in repr(settings)
