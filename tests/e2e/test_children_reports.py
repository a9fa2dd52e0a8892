"""In a real browser against the demo app: the DSL names a child, reads the chronology, sends
the file and records its receipt; the headteacher opens the dashboard and sees its charts."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import LiveApp
from tests.e2e.test_browser_journey import Person


@pytest.mark.browser
def test_a_dsl_names_a_child_reads_the_chronology_and_transfers_the_file(
    chromium: Any, live_app: LiveApp
) -> None:
    dsl = Person(chromium, live_app, "dsl@demo.school")
    page = dsl.page
    page.click("nav >> text=Children")
    assert page.locator("h1").inner_text() == "Children"
    with page.expect_navigation():
        page.locator("#school-children a").first.click()
    assert page.locator("#chronology tbody tr").count() >= 2  # the demo year's entries
    dsl.shot("20-dsl-chronology")

    # From the chronology to one of the child's incidents, and who is involved in it.
    with page.expect_navigation():
        page.locator("#chronology tbody a").first.click()
    with page.expect_navigation():
        page.click("#children-involved")
    page.fill("#name", "Robin Newchild")
    page.fill("#date_of_birth", "2012-05-06")
    page.select_option("#role", "received")
    with page.expect_navigation():
        page.click("main form button:has-text('Record the child')")
    assert "Robin Newchild" in page.inner_text("#incident-children")
    dsl.shot("21-dsl-children-of-incident")

    with page.expect_navigation():
        page.locator("#incident-children a", has_text="Robin Newchild").click()
    with page.expect_navigation():
        page.click("#send-file")
    page.fill("#to_school_name", "Riverside High School")
    page.select_option("#method", "secure_email")
    page.fill("#what_sent", "Child protection file and chronology, separately from the pupil file")
    with page.expect_navigation():
        page.click("main form button:has-text('Record the transfer')")
    assert "Waiting for receipt" in page.inner_text("main")
    page.fill("#received_by", "J. Patel, DSL at Riverside High School")
    page.fill("#received_on", time.strftime("%Y-%m-%d"))
    with page.expect_navigation():
        page.click("main form button:has-text('Record receipt')")
    assert "Receipt confirmed" in page.inner_text("main")
    dsl.shot("22-dsl-transfer-received")
    assert not dsl.problems, dsl.problems


@pytest.mark.browser
def test_the_headteacher_sees_the_dashboard_charts(chromium: Any, live_app: LiveApp) -> None:
    head = Person(chromium, live_app, "head@demo.school")
    page = head.page
    with page.expect_navigation():
        page.click("nav >> text=Reports")
    assert page.locator("h1").inner_text() == "Reports"
    charts = page.locator("main svg[role=img]")
    assert charts.count() == 9
    months = page.locator("#section-months svg rect")
    assert months.count() >= 10  # a year of demo incidents, month by month
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100  # drawn, not blank
    assert page.locator("#section-months tbody tr").count() >= 10
    head.shot("23-headteacher-dashboard")
    assert not head.problems, head.problems  # no CSP violation or script error
