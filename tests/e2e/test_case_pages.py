"""Case work in a real browser: the incidents list, the diagram with the path taken, history.

Staff report S2's concern (an adult involved) and the DSL holds the initial review, so the
process takes the immediate-referral route; the auditor then finds the incident in the list,
sees its path on the diagram and its history. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveApp
from tests.e2e.test_browser_journey import Person
from tests.integration.service_fixtures import scenario_steps


@pytest.mark.browser
def test_the_auditor_finds_the_incident_sees_its_path_and_history(
    chromium: Any, live_app: LiveApp
) -> None:
    steps = scenario_steps("s2.json")
    staff = Person(chromium, live_app, "staff@demo.school")
    staff.page.goto("/report")
    staff.fill_in(steps[0]["data"])
    staff.submit()
    reference = staff.page.locator(".govuk-panel__body strong").inner_text()
    dsl = Person(chromium, live_app, "dsl@demo.school")
    review = dict(steps[1]["data"])
    dsl.complete_from_inbox("Hold the initial review meeting", reference, review)

    auditor = Person(chromium, live_app, "auditor@demo.school")
    page = auditor.page
    page.click("nav >> text=Incidents")
    assert page.locator("h1").inner_text() == "Incidents"
    page.fill("#q", reference)
    page.select_option("#route", "immediate:adult_involved")
    with page.expect_navigation():
        page.click("main form button:has-text('Apply')")
    rows = page.locator("#incidents tbody tr")
    assert rows.count() == 1, page.inner_text("main")
    assert "Immediate referral" in rows.first.inner_text()
    assert "An adult is involved" in rows.first.inner_text()
    auditor.shot("10-auditor-incidents-list")

    with page.expect_navigation():
        rows.first.get_by_role("link", name=reference).click()
    assert "Immediate referral to police" in page.inner_text("#case-route")
    page.wait_for_selector("#case-diagram[data-ready]")
    assert page.get_attribute("#case-diagram", "data-ready") == "true"
    assert page.locator("#case-diagram .sf-path").count() >= 5  # the path is drawn
    assert page.locator("#case-diagram .sf-waiting, #case-diagram .sf-overdue").count() == 1
    waiting = page.locator("#case-diagram [data-element-id=refer_to_agencies] title")
    assert "Waiting for" in (waiting.text_content() or "")  # hover text of the open task
    text = page.inner_text("#diagram-text")
    assert "Hold the initial review meeting: Done" in text
    page.locator("#case-diagram").scroll_into_view_if_needed()
    auditor.shot("11-auditor-incident-diagram")

    with page.expect_navigation():
        page.click("text=Full history, access log and downloads")
    timeline = page.inner_text("#timeline")
    assert "The system" in timeline
    assert "Does the DSL need to view the imagery? No" in timeline  # a decision, in words
    access = page.inner_text("#access")
    assert "Break-glass" not in access
    auditor.shot("12-auditor-history")
    problems = staff.problems + dsl.problems + auditor.problems
    assert not problems, problems
