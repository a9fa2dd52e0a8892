"""Facts derived from a step follow that step's readers: route, criteria, classification.

The process version runs with the initial review's readers declared "dsl,auditor" (as the
access matrix deploys it, in the studio): the headteacher reads the record but not the review,
so neither the route nor the referral criteria it decides may reach them from the incident
page's summary, the list's rows, filters and exports, the API or a child's chronology. The
DSL still sees them all. SQLite and PostgreSQL.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import tests.integration.test_access_matrix as matrix
from services.bootstrap import Runtime
from services.web.auth.tokens import issue_api_token
from services.web.cases.summary import WITHHELD
from tests.integration.test_access_matrix import run_declared_readers, seed_incident
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    WebUser,
    app,
    clock,
    login,
    make_user,
    web_runtime,
    web_settings,
)

ROUTE_WORDS = ("Immediate referral", "immediate_referral", "adult_involved")
CRITERION = "An adult is involved"


def _outside_forms(text: str) -> str:
    # The list's filter form offers every route and criterion by name.
    return re.sub(r"<form\b.*?</form>", "", text, flags=re.S)


def _get(client: FlaskClient, path: str, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return response


def _signed_in(app: Flask, runtime: Runtime, user: WebUser) -> tuple[FlaskClient, str]:
    client = app.test_client()
    login(client, user.email)
    with runtime.unit_of_work() as uow:
        token = issue_api_token(uow, user.id, "facts", scope="read")
        uow.commit()
    return client, token


def test_route_and_criteria_show_only_to_readers_of_the_initial_review(
    app: Flask, web_runtime: Runtime, make_user: Callable[..., WebUser]
) -> None:
    runtime = web_runtime
    staff = make_user("staff", totp=True)
    school = staff.school_id
    run_declared_readers(runtime, school)
    dsl = make_user("dsl", school_id=school, totp=True)
    head = make_user("headteacher", school_id=school, totp=True)
    lanes = {"dsl": dsl.id, "headteacher": head.id, "staff": staff.id}
    incident = seed_incident(runtime, school, staff.id, lanes)  # S2: referred at once
    dsl_client, dsl_token = _signed_in(app, runtime, dsl)
    head_client, head_token = _signed_in(app, runtime, head)

    # The incident page's summary.
    page = _get(dsl_client, f"/incidents/{incident.id}").get_data(as_text=True)
    assert "Immediate referral to police" in page and CRITERION in page
    assert "Mark the referral route" in page  # the path's text twin
    page = _get(head_client, f"/incidents/{incident.id}").get_data(as_text=True)
    assert WITHHELD in page
    assert "Immediate referral to police" not in page and CRITERION not in page

    # The list's rows, and its CSV and JSON downloads.
    listing = f"/incidents?school={school}"
    assert "Immediate referral" in _outside_forms(_get(dsl_client, listing).get_data(True))
    text = _outside_forms(_get(head_client, listing).get_data(as_text=True))
    assert incident.reference in text and "Immediate referral" not in text
    for export in ("csv", "json"):
        dsl_text = _get(dsl_client, f"{listing}&format={export}").get_data(as_text=True)
        assert "Immediate referral" in dsl_text and CRITERION in dsl_text
        text = _get(head_client, f"{listing}&format={export}").get_data(as_text=True)
        assert incident.reference in text
        assert not [w for w in ("Immediate referral", "adult_involved", CRITERION) if w in text]
    rows = json.loads(_get(head_client, f"{listing}&format=json").get_data())["incidents"]
    row = next(r for r in rows if r["reference"] == incident.reference)
    assert row["route"] is None and row["referral_criteria"] == []
    assert row["immediate_referral"] is None and row["classification"] is None

    # Filters on a fact they may not read match nothing (a filter would tell it).
    for narrowed in ("route=immediate", "criterion=adult_involved", "route=undecided"):
        path = f"{listing}&{narrowed}"
        dsl_found = incident.reference in _get(dsl_client, path).get_data(as_text=True)
        assert dsl_found == (narrowed != "route=undecided"), narrowed
        assert incident.reference not in _get(head_client, path).get_data(as_text=True)

    # The API: the list, its filter, and the incident's decision step.
    api_list = f"/api/v1/incidents?school={school}"
    items = _get(head_client, api_list, head_token).get_json()["incidents"]
    item = next(i for i in items if i["reference"] == incident.reference)
    assert item["route"] is None and item["referral_criteria"] == []
    found = _get(head_client, f"{api_list}&route=immediate", head_token).get_json()["incidents"]
    assert incident.reference not in {i["reference"] for i in found}
    found = _get(dsl_client, f"{api_list}&route=immediate", dsl_token).get_json()["incidents"]
    assert incident.reference in {i["reference"] for i in found}
    body = _get(head_client, f"/api/v1/incidents/{incident.id}", head_token).get_json()
    steps = json.dumps([body["completed_steps"], body["audit"]])
    assert not [w for w in ("referral_criteria", *ROUTE_WORDS) if w in steps]
    # Nor the path on the diagram: the decision and the route's marks are not theirs.
    assert not {"decide_immediate_referral", "set_route_referral"} & set(body["path_taken"])
    assert "record_disclosure" in body["path_taken"] and body["next_possible"] == []
    assert "Mark the referral route" not in _get(head_client, f"/incidents/{incident.id}").get_data(
        as_text=True
    )
    body = _get(dsl_client, f"/api/v1/incidents/{incident.id}", dsl_token).get_json()
    assert "set_route_referral" in body["path_taken"]
    decision = [s for s in body["completed_steps"] if s["bpmn_id"] == "decide_immediate_referral"]
    assert decision and "adult_involved" in decision[0]["answers"]["referral_criteria"]

    # A child's chronology: what the review decided stays the review's.
    chronology = f"/api/v1/children/{incident.child_id}/chronology"
    assert "referral criteria held" in _get(dsl_client, chronology, dsl_token).get_data(True)
    assert "referral criteria held" not in _get(head_client, chronology, head_token).get_data(
        as_text=True
    )


def test_classification_and_route_follow_the_risk_assessment_readers(
    app: Flask,
    web_runtime: Runtime,
    make_user: Callable[..., WebUser],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # S1, handled in school, on a version whose risk assessment is the DSL's and auditors'.
    readers = '<camunda:property name="readers" value="dsl,auditor" />'
    monkeypatch.setattr(matrix, "DECLARED", {"risk_assessment": readers})
    monkeypatch.setattr(matrix, "SCENARIO", "s1.json")
    monkeypatch.setattr(matrix, "STOP_BEFORE", "close_incident")
    runtime = web_runtime
    staff = make_user("staff", totp=True)
    school = staff.school_id
    run_declared_readers(runtime, school)
    dsl = make_user("dsl", school_id=school, totp=True)
    head = make_user("headteacher", school_id=school, totp=True)
    lanes = {"dsl": dsl.id, "headteacher": head.id, "staff": staff.id}
    incident = seed_incident(runtime, school, staff.id, lanes)
    dsl_client, _ = _signed_in(app, runtime, dsl)
    head_client, _ = _signed_in(app, runtime, head)

    def route_on_page(client: FlaskClient) -> str:
        page = _get(client, f"/incidents/{incident.id}").get_data(as_text=True)
        found = re.search(r'id="case-route">(.*?)<', page, flags=re.S)
        assert found is not None
        return found.group(1)

    assert route_on_page(dsl_client).startswith("Handled in school")
    assert route_on_page(head_client) == WITHHELD
    listing = f"/incidents?school={school}&format=json"
    for client, shown in ((dsl_client, True), (head_client, False)):
        rows = json.loads(_get(client, listing).get_data())["incidents"]
        row = next(r for r in rows if r["reference"] == incident.reference)
        assert (row["classification"] == "experimental") is shown
        assert (row["route"] == "in_house") is shown
        assert row["route"] is not None or row["classification"] is None
        found = _get(client, f"/incidents?school={school}&route=in_house").get_data(True)
        assert (incident.reference in found) is shown
        words = _outside_forms(_get(client, f"/incidents?school={school}").get_data(True))
        assert ("Classified: Experimental" in words) is shown
