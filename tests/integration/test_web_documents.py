"""The record PDF on the incident page: download with the record's access rules (logged), and a
failed filing shown with a retry button for the DSL. Runs on SQLite and PostgreSQL."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from services.bootstrap import Runtime
from services.domain.commands import CompleteTask
from services.domain.queries import ViewIncident
from tests.integration.service_fixtures import scenario_steps
from tests.integration.test_web_incidents import (  # noqa: F401  # fixtures, found by name
    School,
    audit_rows,
    deployed,
    links,
    school,
    signed_in,
    start_incident,
    text_of,
    tree_of,
)
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    app,
    client,
    clock,
    form_csrf_token,
    make_user,
    web_runtime,
    web_settings,
)
from tests.integration.worker_helpers import (
    deliver,
    external_deliveries,
    file_the_record,
    record_worker,
)
from workflow.formdata import placeholder_data

DOWNLOAD = r"/incidents/[^/]+/documents/[^/]+"


def run_s1(runtime: Runtime, school: School) -> str:
    """S1 through the domain, up to the record waiting to be filed; the incident id."""
    incident_id = start_incident(runtime, school)
    actor = {"dsl": school.dsl.id, "headteacher": school.head.id}
    for step in scenario_steps("s1.json")[1:]:
        runtime.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
        view = runtime.bus.handle(ViewIncident(incident_id, school.dsl.id))
        ready = next(t for t in view.ready_tasks if t.task.bpmn_id == step["complete"])
        data = placeholder_data(ready.task.form, step["data"])
        runtime.bus.handle(CompleteTask(ready.task.id, actor[ready.task.lane], data, view.version))
    return incident_id


def broken_renderer(*_args: Any) -> bytes:
    raise OSError("the disk is full")


def test_the_record_downloads_for_those_who_may_see_the_incident_and_each_download_is_logged(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = run_s1(web_runtime, school)
    file_the_record(web_runtime.bus, web_runtime.uow_factory, incident_id)
    dsl = signed_in(app, school.dsl)
    page = dsl.get(f"/incidents/{incident_id}")
    [(href, words)] = links(page, DOWNLOAD)
    assert words.startswith("Download the incident record")

    for person in (school.dsl, school.head, school.auditor):
        response = (dsl if person is school.dsl else signed_in(app, person)).get(href)
        assert response.status_code == 200, person.role
        assert response.mimetype == "application/pdf"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="incident-record-DS-')
        assert response.get_data().startswith(b"%PDF-")
    bystander = signed_in(app, school.bystander)
    assert bystander.get(href).status_code == 403  # outside the need to know: break-glass first
    assert signed_in(app, school.outsider).get(href).status_code == 404
    other_incident = start_incident(web_runtime, school)
    wrong = href.replace(incident_id, other_incident)
    assert dsl.get(wrong).status_code == 404

    logged = audit_rows(web_runtime, incident_id, "document.downloaded")
    assert [row.actor_id for row in logged] == [school.dsl.id, school.head.id, school.auditor.id]
    assert all(row.new_values and row.new_values["break_glass"] is False for row in logged)

    reason = {"reason": "Covering for the DSL today", "csrf_token": ""}
    gate = bystander.get(f"/incidents/{incident_id}")
    reason["csrf_token"] = form_csrf_token(gate.get_data(as_text=True))
    bystander.post(f"/incidents/{incident_id}/break-glass", data=reason)
    assert bystander.get(href).status_code == 200
    [glass] = audit_rows(web_runtime, incident_id, "document.downloaded")[3:]
    assert (glass.actor_id, glass.reason) == (school.bystander.id, "Covering for the DSL today")


def test_a_failed_filing_is_shown_and_the_dsl_retries_it_from_the_incident_page(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = run_s1(web_runtime, school)
    uow_factory = web_runtime.uow_factory
    [first] = external_deliveries(uow_factory, incident_id)
    deliver(record_worker(web_runtime.bus, renderer=broken_renderer), uow_factory, first)
    url = f"/incidents/{incident_id}"

    head_page = signed_in(app, school.head).get(url)
    assert "could not do this after 3 tries (OSError: the disk is full" in text_of(head_page)
    assert not tree_of(head_page).xpath("//button[contains(., 'Try again')]")
    dsl = signed_in(app, school.dsl)
    page = dsl.get(url)
    [form] = tree_of(page).xpath("//form[.//button[contains(., 'Try again')]]")
    retried = dsl.post(
        form.get("action"), data={"csrf_token": form_csrf_token(page.get_data(as_text=True))}
    )

    assert retried.status_code == 302 and retried.headers["Location"] == url
    assert "The system will try again" in text_of(dsl.get(url))
    [audit] = audit_rows(web_runtime, incident_id, "external_task.retried")
    assert audit.actor_id == school.dsl.id
    assert dsl.post(form.get("action"), data={}).status_code == 400  # no CSRF token: refused
    file_the_record(web_runtime.bus, uow_factory, incident_id)
    words = text_of(dsl.get(url))
    assert "Status Closed" in words and "Download the incident record" in words
    assert "could not do this after" not in words  # (the history still tells it)
