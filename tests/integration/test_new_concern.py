# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
"""A new concern raised on an incident: handler, notifier and API on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from lxml import html
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import MultiDict

from services.bootstrap import Runtime
from services.db import ConcurrentUpdate, SqlAlchemyUnitOfWork
from services.db.models import Notification
from services.domain.bus import MessageBus
from services.domain.commands import (
    CompleteTask,
    DeliverMessage,
    DeployDefinitions,
    StartIncident,
)
from services.domain.errors import AccessDenied, NotFound
from services.domain.events import MessageReceived, TaskCancelled, TaskReady
from services.domain.results import Deployed
from services.messaging.ports import Delivery
from services.notifications.consumer import Notifier
from services.web.api.openapi import OPERATIONS
from services.web.api.schemas import COMPONENT_SCHEMAS
from services.web.auth import issue_api_token
from tests.integration.service_fixtures import (  # noqa: F401  # fixtures
    People,
    audit_of,
    bus,
    default_bundle,
    deployed,
    disclosure_data,
    incident_row,
    make_people,
    outbox_of,
    people,
    scenario_steps,
    snapshot,
    the_ready,
)
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures
    app,
    client,
    clock,
    login,
    password_hash_for_tests,
    web_runtime,
    web_settings,
)
from workflow.errors import TaskDataInvalid

MARKER = "Zephyrine-Quillfeather"  # free text that must never leave the database
CONCERN: dict[str, Any] = {
    "concern_description": f"{MARKER} said an adult online is asking for more images.",
    "concern_raised_by": "Form tutor",
    "concern_raised_on": "2026-09-09",
    "concern_adult_involved": True,
    "concern_coercion_or_grooming": True,
    "concern_unusual_or_violent_acts": False,
    "concern_under_13_sexual_acts": False,
    "concern_immediate_risk_of_harm": False,
    "concern_financial_extortion": False,
}
ACTORS = {"initial_review": "dsl", "risk_assessment": "dsl", "agree_in_house": "head"}


def in_containment(bus: MessageBus, people: People, sf: sessionmaker[Session]) -> str:
    """An S1 incident on the in-house route, the children asked to delete the images."""
    steps = scenario_steps("s1.json")
    outcome = bus.handle(StartIncident(people.school_id, people.reporter, disclosure_data(MARKER)))
    incident_id = outcome.incident_id
    assert incident_id is not None
    for step in steps[1:]:
        task = the_ready(sf, incident_id, step["complete"])
        actor = getattr(people, ACTORS.get(step["complete"], "dsl"))
        bus.handle(CompleteTask(task.id, actor, step["data"]))
        if step["complete"] == "containment":
            break
    the_ready(sf, incident_id, "confirm_deletion")
    return incident_id


@pytest.mark.guidance("referral-criteria", "containment", "recording-closure")
def test_the_reporter_raises_a_new_concern_deletion_stops_and_referral_is_ready(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = in_containment(bus, people, session_factory)
    deletion = the_ready(session_factory, incident_id, "confirm_deletion")
    assert incident_row(session_factory, incident_id).next_timer_at is not None  # the deadline

    outcome = bus.handle(DeliverMessage(incident_id, "new_concern", people.reporter, CONCERN))

    assert incident_row(session_factory, incident_id).next_timer_at is None  # it stopped too

    assert [e.bpmn_id for e in outcome.of_type(TaskCancelled)] == ["confirm_deletion"]
    assert [e.bpmn_id for e in outcome.of_type(TaskReady)] == ["refer_to_agencies"]
    assert outcome.of_type(MessageReceived)[0].user_id == people.reporter
    rows = {t[1]: t for t in snapshot(session_factory, incident_id).tasks}
    assert rows["confirm_deletion"][2] == "cancelled"
    assert rows["refer_to_agencies"][2] == "ready"
    trail = audit_of(session_factory, incident_id)
    stopped = next(e for e in trail if e.action == "task.cancelled" and deletion.id in e.target)
    assert stopped.actor_id == people.reporter
    assert stopped.reason is not None and "new concern" in stopped.reason.lower()
    assert "Confirm deletion" in stopped.reason
    raised = next(e for e in trail if e.action == "task.completed" and "new_concern" in e.target)
    assert raised.new_values is not None and raised.new_values["concern_adult_involved"] is True
    # Nothing of the concern leaves the database: the events name ids, roles and the message.
    for row in outbox_of(session_factory, people.school_id):
        assert MARKER not in str(row.payload)


def test_the_dsls_are_told_at_once_with_no_details(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = in_containment(bus, people, session_factory)
    bus.handle(DeliverMessage(incident_id, "new_concern", people.reporter, CONCERN))
    row = next(
        r for r in outbox_of(session_factory, people.school_id) if r.event_type == "MessageReceived"
    )
    assert row.routing_key == f"school.{people.school_id}.incident.message"
    notifier = Notifier(base_url="https://safeguard.example", email=True)
    delivery = Delivery(row.message_id, row.routing_key, row.event_type, row.payload)
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        notifier.handle(delivery, uow)
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        told = list(
            uow.session.scalars(
                select(Notification).where(Notification.message_id == row.message_id)
            )
        )
    assert sorted(n.user_id for n in told) == sorted([people.dsl, people.deputy])
    for notice in told:
        assert "new concern" in notice.text.lower()
        assert MARKER not in notice.text and "adult" not in notice.text.lower()
        assert notice.link == f"/incidents/{incident_id}"


def test_bad_values_unknown_messages_and_outsiders_change_nothing(
    bus: MessageBus, deployed: Deployed, people: People, session_factory: sessionmaker[Session]
) -> None:
    incident_id = in_containment(bus, people, session_factory)
    before = snapshot(session_factory, incident_id)
    with pytest.raises(TaskDataInvalid) as invalid:
        bus.handle(
            DeliverMessage(
                incident_id, "new_concern", people.dsl, {**CONCERN, "concern_raised_on": "soon"}
            )
        )
    assert set(invalid.value.errors) == {"concern_raised_on"}
    with pytest.raises(NotFound, match="no message 'nonsense'"):
        bus.handle(DeliverMessage(incident_id, "nonsense", people.dsl, CONCERN))
    with pytest.raises(NotFound):
        bus.handle(DeliverMessage(incident_id, "new_concern", people.outsider, CONCERN))
    with pytest.raises(AccessDenied, match="auditors"):
        bus.handle(DeliverMessage(incident_id, "new_concern", people.auditor, CONCERN))
    with pytest.raises(ConcurrentUpdate):  # a stale version
        bus.handle(DeliverMessage(incident_id, "new_concern", people.dsl, CONCERN, 1))
    assert snapshot(session_factory, incident_id) == before


def test_the_api_raises_a_new_concern_and_documents_it(
    client: FlaskClient, web_runtime: Runtime, session_factory: sessionmaker[Session]
) -> None:
    api_bus = web_runtime.bus
    api_bus.handle(DeployDefinitions(default_bundle(), None))
    people = make_people(session_factory)
    incident_id = in_containment(api_bus, people, session_factory)
    with web_runtime.unit_of_work() as uow:
        user = uow.users.get(people.reporter)
        assert user is not None
        user.totp_secret = "A" * 32  # API tokens are only for people with a second factor
        token = issue_api_token(uow, people.reporter, "test")
        uow.commit()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/incidents/{incident_id}/messages/new_concern"
    bad_values = {**CONCERN, "concern_adult_involved": "perhaps"}
    bad = client.post(url, json={"values": bad_values}, headers=headers)
    assert bad.status_code == 422
    assert "concern_adult_involved" in bad.get_json()["error"]["fields"]
    unknown = client.post(
        f"/api/v1/incidents/{incident_id}/messages/nonsense", json={"values": {}}, headers=headers
    )
    assert unknown.status_code == 404
    good = client.post(url, json={"values": CONCERN}, headers=headers)
    assert good.status_code == 200, good.get_data(as_text=True)
    body = good.get_json()
    # The reporter raised it: the DSL's stopped and new steps are not theirs to know of
    # (need-to-know: they would tell the route); the database has them.
    assert (body["cancelled_tasks"], body["new_tasks"]) == ([], [])
    with web_runtime.unit_of_work() as uow:
        ready = uow.tasks.for_incident(incident_id, state="ready")
        assert [task.bpmn_id for task in ready] == ["refer_to_agencies"]
    again = client.post(
        url, json={"values": CONCERN, "expected_incident_version": 1}, headers=headers
    )
    assert again.status_code == 409
    # The endpoint is described, and its answer matches the schema the document gives.
    assert OPERATIONS["api.deliver_message"].response == "MessageOutcome"
    root = {
        "$ref": "#/components/schemas/MessageOutcome",
        "components": {"schemas": COMPONENT_SCHEMAS},
    }
    assert list(Draft202012Validator(root).iter_errors(body)) == []


@pytest.mark.guidance("referral-criteria", "containment", "recording-closure")
def test_a_dsl_raises_a_new_concern_through_the_pages_and_the_history_says_why(
    app: Flask, web_runtime: Runtime, session_factory: sessionmaker[Session]
) -> None:
    web_bus = web_runtime.bus
    web_bus.handle(DeployDefinitions(default_bundle(), None))
    people = make_people(session_factory)
    incident_id = in_containment(web_bus, people, session_factory)
    with web_runtime.unit_of_work() as uow:
        dsl = uow.users.get(people.dsl)
        assert dsl is not None
        dsl.password_hash = password_hash_for_tests()
        dsl.totp_secret = pyotp.random_base32(32)
        email = dsl.email
        uow.commit()
    browser = app.test_client()
    login(browser, email)
    incident_page = browser.get(f"/incidents/{incident_id}")
    button = html.fromstring(incident_page.get_data(as_text=True)).get_element_by_id(
        "raise-new-concern"
    )
    path = button.get("href")
    assert path == f"/incidents/{incident_id}/messages/new_concern"
    page = browser.get(path)
    assert page.status_code == 200
    form = next(
        f
        for f in html.fromstring(page.get_data(as_text=True)).forms
        if "messages" in (f.action or path)
    )
    refused = browser.post(path, data=filled(form, {**CONCERN, "concern_description": ""}))
    assert refused.status_code == 422
    assert the_ready(session_factory, incident_id, "confirm_deletion")
    form = html.fromstring(refused.get_data(as_text=True)).forms[-1]
    sent = browser.post(path, data=filled(form, CONCERN))
    assert sent.status_code == 302, sent.get_data(as_text=True)[:500]
    the_ready(session_factory, incident_id, "refer_to_agencies")
    history = browser.get(f"/incidents/{incident_id}/history").get_data(as_text=True)
    assert "no longer applies and was stopped" in history
    assert "Confirm deletion" in history


def filled(form: Any, answers: dict[str, Any]) -> MultiDict[str, str]:
    """What a browser would send after a person set these answers on the form as shown."""
    values = [(k, v) for k, v in form.form_values() if k not in answers]
    for key, value in answers.items():
        if form.xpath(f".//input[@id='{key}-day']"):
            day = date.fromisoformat(str(value))
            values += [(key, str(day.day)), (key, str(day.month)), (key, str(day.year))]
        elif isinstance(value, bool):
            values.append((key, "true" if value else "false"))
        else:
            values.append((key, str(value)))
    return MultiDict(values)
