"""The main journey in a real browser against the real server: staff report a concern, the DSL
holds the initial review, the headteacher agrees in-house handling, and the case is closed.

Each person signs in once, in their own browser context, with the demo password and a TOTP
code from the seeded secret. A screenshot of each major step goes to artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest

from tests.e2e.conftest import SCREENSHOTS, LiveApp
from tests.integration.service_fixtures import scenario_steps

GOVUK_GREEN = "rgb(15, 122, 82)"  # GOV.UK Frontend 6's button (#0f7a52): the stylesheet loaded
# Who completes each task of S1 after the disclosure; everything else is the DSL's.
HEADTEACHER_TASKS = frozenset({"agree_in_house", "sign_off_closure"})


class Person:
    """One person at their own browser window (a Playwright context and page)."""

    def __init__(self, chromium: Any, app: LiveApp, email: str) -> None:
        self.context = chromium.new_context(base_url=app.base_url)
        self.context.set_default_timeout(90_000)  # waits are hang guards: CI shares two cores
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self._sign_in(app, email)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(message.text)

    def _sign_in(self, app: LiveApp, email: str) -> None:
        page = self.page
        page.goto("/sign-in")
        page.fill("#email", email)
        page.fill("#password", app.demo.password)
        page.click("button:has-text('Sign in'), input[type=submit]")
        secret = app.secret_of(email)
        if secret is not None:
            page.wait_for_url("**/sign-in/code")
            page.fill("#code", app.fresh_code(email))
            page.click("button:has-text('Continue'), input[type=submit]")
        page.wait_for_url(lambda url: "/sign-in" not in url)

    def fill_in(self, answers: Mapping[str, Any]) -> None:
        """Answer the form's questions as a person would: type, pick and tick."""
        page = self.page
        for field, value in answers.items():
            if page.locator(f"#{field}-day").count():
                day = date.fromisoformat(str(value))
                page.fill(f"#{field}-day", str(day.day))
                page.fill(f"#{field}-month", str(day.month))
                page.fill(f"#{field}-year", str(day.year))
            elif page.locator(f"select[name={field}]").count():
                page.select_option(f"select[name={field}]", str(value))
            elif page.locator(f"input[type=radio][name={field}]").count():
                choice = ("true" if value else "false") if isinstance(value, bool) else str(value)
                page.check(f"input[type=radio][name={field}][value='{choice}']")
            else:
                page.fill(f"[name={field}]", str(value))

    def submit(self) -> None:
        """Press the form's Submit button and wait for the next page."""
        with self.page.expect_navigation():
            self.page.click("main form button:has-text('Submit')")

    def shot(self, name: str) -> None:
        """Save a full-page screenshot of what this person sees now."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def complete_from_inbox(
        self, task_name: str, reference: str, answers: Mapping[str, Any]
    ) -> None:
        """Open the task from the inbox, fill in its form and submit it."""
        page = self.page
        page.goto("/inbox")
        row = page.locator("tr", has_text=reference).filter(has_text=task_name)
        assert row.count() == 1, page.inner_text("main")
        row.get_by_role("link", name=task_name, exact=True).click()
        assert page.locator("h1").inner_text() == task_name
        self.fill_in(answers)
        self.submit()
        assert f"You completed “{task_name}”" in page.inner_text("main"), page.inner_text("main")


@pytest.mark.browser
def test_a_concern_is_reported_reviewed_agreed_and_closed_in_a_real_browser(
    chromium: Any, live_app: LiveApp
) -> None:
    steps = scenario_steps("s1.json")
    staff = Person(chromium, live_app, "staff@demo.school")
    dsl = Person(chromium, live_app, "dsl@demo.school")
    head = Person(chromium, live_app, "head@demo.school")

    # Staff report the concern.
    staff.page.click("text=Report a concern")
    assert staff.page.locator("h1").inner_text() == "Report a concern"
    assert staff.page.locator("input[type=file]").count() == 0
    button = staff.page.locator("main form button:has-text('Submit')")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == GOVUK_GREEN
    staff.fill_in(steps[0]["data"])
    staff.shot("01-staff-report-a-concern")
    staff.submit()
    assert "Concern reported" in staff.page.inner_text("main")
    reference = staff.page.locator(".govuk-panel__body strong").inner_text()
    assert "The DSL has been told" in staff.page.inner_text("main")
    staff.shot("02-staff-concern-reported")

    # The DSL finds it in the inbox and holds the initial review, then assesses the risks.
    dsl.page.goto("/inbox")
    assert reference in dsl.page.inner_text("main")
    dsl.shot("03-dsl-inbox")
    names = {
        "initial_review": "Hold the initial review meeting",
        "risk_assessment": "Assess the risks",
        "agree_in_house": "Agree in-house handling",
        "talk_to_children": "Talk to the children",
        "inform_parents_and_carers": "Inform parents and carers",
        "containment": "Contain the imagery",
        "confirm_deletion": "Confirm deletion",
        "close_incident": "Record and close the incident",
        "sign_off_closure": "Sign off the closure",
        "plan_preventative_education": "Plan support and preventative education",
    }
    for step in steps[1:]:
        person = head if step["complete"] in HEADTEACHER_TASKS else dsl
        person.complete_from_inbox(names[step["complete"]], reference, step["data"])
        if step["complete"] == "initial_review":
            dsl.shot("04-dsl-incident-after-initial-review")
        if step["complete"] == "agree_in_house":
            head.shot("05-headteacher-agreed-in-house")

    # The system files the record as a PDF (the in-process worker), then the incident closes.
    for _ in range(60):
        main = dsl.page.inner_text("main")
        if "None: this incident is closed." in main:
            break
        dsl.page.wait_for_timeout(250)
        dsl.page.reload()
    assert "Closed" in main and "None: this incident is closed." in main, main
    assert "Download the incident record" in main
    assert "7 September 2026" in main and "A child told a member of staff" in main
    dsl.shot("06-dsl-incident-closed")
    for person in (staff, dsl, head):
        assert not [p for p in person.problems if "Content Security Policy" in p], person.problems
        assert not person.problems, person.problems
        person.context.close()
