"""A DSL raises a new concern during containment in a real browser (Debian chromium).

S1 is handled in-house until the pupils have been asked to delete the images; the DSL then raises
a new concern from the incident page: the referral step appears, the deletion request stops and
the history says why. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveApp
from tests.e2e.test_browser_journey import HEADTEACHER_TASKS, Person
from tests.integration.service_fixtures import scenario_steps

NAMES = {
    "initial_review": "Hold the initial review meeting",
    "risk_assessment": "Assess the risks",
    "agree_in_house": "Agree in-house handling",
    "talk_to_children": "Talk to the children",
    "inform_parents_and_carers": "Inform parents and carers",
    "containment": "Contain the imagery",
}
CONCERN = {
    "concern_description": "A pupil said an older person online is asking for more images.",
    "concern_raised_by": "The pupil's head of year",
    "concern_raised_on": "2026-09-09",
    "concern_adult_involved": True,
    "concern_coercion_or_grooming": True,
    "concern_unusual_or_violent_acts": False,
    "concern_under_13_sexual_acts": False,
    "concern_immediate_risk_of_harm": False,
    "concern_financial_extortion": False,
}


@pytest.mark.browser
@pytest.mark.guidance("referral-criteria", "containment")
def test_a_dsl_raises_a_new_concern_during_containment(chromium: Any, live_app: LiveApp) -> None:
    steps = scenario_steps("s1.json")
    staff = Person(chromium, live_app, "staff@demo.school")
    staff.page.goto("/report")
    staff.fill_in(steps[0]["data"])
    staff.submit()
    reference = staff.page.locator(".govuk-panel__body strong").inner_text()
    dsl = Person(chromium, live_app, "dsl@demo.school")
    head = Person(chromium, live_app, "head@demo.school")
    for step in steps[1:]:
        if step["complete"] not in NAMES:
            break
        person = head if step["complete"] in HEADTEACHER_TASKS else dsl
        person.complete_from_inbox(NAMES[step["complete"]], reference, step["data"])

    page = dsl.page  # on the incident page after containment
    tasks = page.inner_text("main table")
    assert "Confirm deletion" in tasks, tasks
    with page.expect_navigation():
        page.click("#raise-new-concern")
    assert page.locator("h1").inner_text() == "Raise a new concern"
    assert page.locator("input[type=file]").count() == 0
    dsl.fill_in({**CONCERN, "concern_description": ""})
    dsl.submit()
    assert "There is a problem" in page.inner_text("main")  # nothing is sent without it
    assert dsl.problems == [
        "Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"
    ]
    dsl.problems.clear()  # the refused form's 422, wanted: nothing else went wrong
    dsl.fill_in(CONCERN)
    dsl.shot("20-dsl-raise-a-new-concern")
    dsl.submit()
    main = page.inner_text("main")
    assert "You raised a new concern" in main, main
    tasks = page.inner_text("main table")
    assert "Refer to police and/or children's social care" in tasks, tasks
    assert "Confirm deletion" not in tasks, tasks
    dsl.shot("21-dsl-incident-after-new-concern")

    with page.expect_navigation():
        page.click("text=Full history, access log and downloads")
    timeline = page.inner_text("#timeline")
    assert "no longer needed: confirm deletion" in timeline.lower(), timeline
    assert "Completed: New concern raised" in timeline, timeline
    assert "A new concern was raised: “Confirm deletion” no longer applies" in timeline, timeline
    dsl.shot("22-dsl-history-says-why")
    for person in (staff, dsl, head):
        assert not person.problems, person.problems
        person.context.close()
