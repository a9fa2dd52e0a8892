# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
"""What a new user met walking through the pages: a new concern read as an action and its
route in words, one Status row, the menu marking Incidents on an incident, stopped steps
named as on the diagram, one time for views within one minute, a way back to a draft."""

from __future__ import annotations

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy.orm import Session, sessionmaker

from services.bootstrap import Runtime
from services.domain.commands import DeployDefinitions
from services.domain.history import timeline
from services.domain.read_models import AuditEntry
from services.web.cases.summary import route_words
from tests.integration.service_fixtures import (
    default_bundle,
    make_people,
    the_ready,
)
from tests.integration.test_new_concern import CONCERN, filled, in_containment
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures
    app,
    client,
    clock,
    form_csrf_token,
    login,
    make_user,
    password_hash_for_tests,
    web_runtime,
    web_settings,
)


def _signed_in_dsl(app: Flask, web_runtime: Runtime, dsl_id: int) -> FlaskClient:
    with web_runtime.unit_of_work() as uow:
        dsl = uow.users.get(dsl_id)
        assert dsl is not None
        dsl.password_hash = password_hash_for_tests()
        dsl.totp_secret = pyotp.random_base32(32)
        email = dsl.email
        uow.commit()
    browser = app.test_client()
    login(browser, email)
    return browser


def _menu(page_html: str) -> dict[str, bool]:
    """Menu link text -> whether it is marked as the area of the page."""
    tree = html.fromstring(page_html)
    return {
        " ".join(item.text_content().split()): "--active" in (item.get("class") or "")
        for item in tree.xpath("//li[contains(@class, 'govuk-service-navigation__item')]")
    }


def test_a_new_concern_during_containment_reads_as_a_referral_after_a_new_concern(
    app: Flask, web_runtime: Runtime, session_factory: sessionmaker[Session]
) -> None:
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    people = make_people(session_factory)
    incident_id = in_containment(web_runtime.bus, people, session_factory)
    browser = _signed_in_dsl(app, web_runtime, people.dsl)
    path = f"/incidents/{incident_id}/messages/new_concern"

    form_page = browser.get(path).get_data(as_text=True)
    assert html.fromstring(form_page).xpath("string(//h1)").strip() == "Raise a new concern"
    form = html.fromstring(form_page).forms[-1]
    sent = browser.post(path, data=filled(form, CONCERN), follow_redirects=True)
    text = " ".join(html.fromstring(sent.get_data(as_text=True)).text_content().split())
    assert "You raised a new concern." in text
    assert "Referred after a new concern, while it was handled in school" in text
    assert "Referred after the risk assessment" not in text
    the_ready(session_factory, incident_id, "refer_to_agencies")

    page = browser.get(f"/incidents/{incident_id}").get_data(as_text=True)
    keys = [
        " ".join(k.text_content().split())
        for k in html.fromstring(page).xpath("//dt[contains(@class, 'govuk-summary-list__key')]")
    ]
    assert keys.count("Status") == 1  # the summary says it; the list under it does not
    menu = _menu(page)
    assert menu["Incidents"] is True and menu["Report a concern"] is False

    history = browser.get(f"/incidents/{incident_id}/history").get_data(as_text=True)
    assert "No longer needed: Confirm deletion" in history  # the diagram's name, not an id
    assert "confirm deletion" not in history
    access = html.fromstring(history).get_element_by_id("access").text_content()
    assert " to " not in access  # two views in the same minute: one time, not "10:09 to 10:09"


def test_the_report_page_is_the_only_page_marking_report_a_concern(
    client: FlaskClient, make_user: object
) -> None:
    staff = make_user("staff")  # type: ignore[operator]
    login(client, staff.email)
    assert _menu(client.get("/report").get_data(as_text=True))["Report a concern"] is True
    assert _menu(client.get("/incidents").get_data(as_text=True))["Incidents"] is True


def test_routes_to_referral_say_why_they_were_taken() -> None:
    agreed = {"route": "referral", "handle_in_house": True, "headteacher_agrees": True}
    assert route_words(agreed, ()) == "Referred after a new concern, while it was handled in school"
    refused = {"route": "referral", "handle_in_house": True, "headteacher_agrees": False}
    assert "headteacher did not agree" in route_words(refused, ())
    assessed = {"route": "referral", "handle_in_house": False}
    assert route_words(assessed, ()) == "Referred after the risk assessment"


def test_children_linked_and_unnamed_steps_read_in_words() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
    entries = [
        AuditEntry(1, at, 7, "child.linked", "child:3", None, None, {"role": "pictured"}),
        AuditEntry(2, at, None, "task.cancelled", "task:confirm_deletion:x", None, None, None),
    ]
    words = [e.what for e in timeline(entries, {})]
    assert words == [
        "Recorded a child as involved in the incident",
        "No longer needed: Confirm deletion",
    ]


def test_a_refused_publish_leads_back_to_the_draft(
    client: FlaskClient, make_user: object, web_runtime: Runtime
) -> None:
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    author = make_user("process_admin")  # type: ignore[operator]
    login(client, author.email)
    token = form_csrf_token(client.get("/studio/").get_data(as_text=True))
    created = client.post(
        "/studio/processes/sharing_nudes_response/drafts",
        data={"csrf_token": token, "version": "1"},
    )
    draft_url = created.headers["Location"]
    refused = client.post(f"{draft_url}/publish", data={"csrf_token": token, "note": ""})
    assert 400 <= refused.status_code < 500
    back = html.fromstring(refused.get_data(as_text=True)).get_element_by_id("back-to-draft")
    assert back.get("href") == draft_url
