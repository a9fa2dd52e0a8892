"""In a real browser against the real server: the demo admin invites a new person, gives them a
second role, and the person follows the one-time link, chooses a password, sets up an
authenticator app and signs in. Screenshots of each step go to artifacts/screenshots/.
"""

from __future__ import annotations

import secrets
from typing import Any

import pyotp
import pytest

from tests.e2e.conftest import SCREENSHOTS, LiveApp

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a long password of my own"  # test data


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_an_admin_invites_a_person_who_sets_a_password_and_authenticator_and_signs_in(
    chromium: Any, live_app: LiveApp
) -> None:
    admin_context = chromium.new_context(base_url=live_app.base_url)
    admin_context.set_default_timeout(90_000)  # waits are hang guards: CI shares two cores
    admin = admin_context.new_page()
    admin.goto("/sign-in")
    admin.fill("#email", "admin@demo.school")
    admin.fill("#password", live_app.demo.password)
    admin.click("button:has-text('Sign in')")
    admin.fill("#code", live_app.fresh_code("admin@demo.school"))
    admin.click("button:has-text('Continue')")

    admin.click("a:has-text('Administration')")
    admin.click("a:has-text('Demo School')")
    email = f"new-dsl-{secrets.token_hex(3)}@demo.school"
    admin.fill("#display_name", "Nia Newcomer")
    admin.fill("#email", email)
    admin.select_option("#role", "dsl")
    admin.click("button:has-text('Send invitation')")
    link = admin.inner_text("#invitation-link").strip()
    assert "/invitations/" in link
    link = "/" + link.split("/", 3)[3]  # SAFEGUARD_BASE_URL names another port than the test's
    shot(admin, "admin-1-invited")

    admin.click("a:has-text('Nia Newcomer')")
    admin.check("input[name=roles][value=auditor]")
    admin.click("button:has-text('Save roles')")
    assert admin.is_checked("input[name=roles][value=auditor]")
    shot(admin, "admin-2-roles")

    newcomer_context = chromium.new_context(base_url=live_app.base_url)
    newcomer_context.set_default_timeout(90_000)
    newcomer = newcomer_context.new_page()
    newcomer.goto(link)
    assert "Choose your password" in newcomer.inner_text("h1")
    newcomer.fill("#password", NEW_PASSWORD)
    newcomer.fill("#confirm", NEW_PASSWORD)
    shot(newcomer, "admin-3-choose-password")
    newcomer.click("button:has-text('Set password')")
    newcomer.wait_for_selector("#invited")  # waits for the page, however busy the machine

    newcomer.fill("#email", email)
    newcomer.fill("#password", NEW_PASSWORD)
    newcomer.click("button:has-text('Sign in')")
    newcomer.wait_for_url("**/sign-in/set-up-authenticator")
    their_secret = "".join(newcomer.inner_text("#totp-secret").split())
    newcomer.fill("#code", pyotp.TOTP(their_secret).now())
    shot(newcomer, "admin-4-authenticator")
    newcomer.click("button:has-text('Continue')")
    newcomer.wait_for_url(lambda url: "/sign-in" not in url)
    home = newcomer.inner_text("main")
    assert "Designated safeguarding lead" in home and "Auditor" in home
    shot(newcomer, "admin-5-signed-in")

    newcomer.goto(link)  # the link worked once
    assert "does not work" in newcomer.inner_text("h1")
    admin_context.close()
    newcomer_context.close()
