"""The JSON API v1 through the Flask test client on real databases: routes, access, errors."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from werkzeug.test import TestResponse

from services.bootstrap import Runtime
from services.domain.clock import FixedClock
from services.domain.commands import CompleteExternalTask, DeployDefinitions
from services.web.api.openapi import openapi_path
from services.web.auth import issue_api_token
from services.web.extensions import runtime
from tests.integration.service_fixtures import (
    BPMN_DIR,
    default_bundle,
    disclosure_data,
    scenario_steps,
    snapshot,
)
from tests.integration.web_fixtures import (  # noqa: F401
    app,
    client,
    clock,
    login,
    make_user,
    web_runtime,
    web_settings,
)
from workflow.formdata import placeholder_data
from workflow.model import EnumOption, FieldSpec, FormSpec

ROLES = ("staff", "dsl", "headteacher", "auditor", "admin")
MARKER = "Peregrine Whitlock-Amos"  # free text a child's record might hold
S1 = scenario_steps("s1.json")
REVIEW = S1[1]["data"]
S1_ROUTE = json.loads((BPMN_DIR / "scenarios" / "s1.json").read_text(encoding="utf-8"))["expect"][
    "completed"
]


@dataclass(frozen=True)
class Member:
    """A person with one role in one school, and their API token."""

    id: int
    role: str
    school_id: int
    token: str


@dataclass(frozen=True)
class World:
    """Two schools with a person per role each, a reporter and a second DSL in the first."""

    school_id: int
    other_school_id: int
    reporter: Member  # staff who reports; involved in every incident they start
    deputy: Member  # a second DSL: someone to reassign tasks to
    own: dict[str, Member]
    other: dict[str, Member]


def _member(runtime: Runtime, school_id: int, role: str) -> Member:
    with runtime.unit_of_work() as uow:
        tag = secrets.token_hex(4)
        user = uow.users.add(f"{role}-{tag}@api.test", f"{role.title()} {tag}", "not-a-hash")
        user.totp_secret = "A" * 32  # API tokens are only for people with a second factor
        uow.users.grant(user.id, school_id, role)
        token = issue_api_token(uow, user.id, "test")
        uow.commit()
        return Member(user.id, role, school_id, token)


@pytest.fixture
def world(web_runtime: Runtime) -> World:
    """The default process deployed, and two schools with their people."""
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    with web_runtime.unit_of_work() as uow:
        tag = secrets.token_hex(4)
        school = uow.schools.add(f"Api School {tag}", f"api-{tag}").id
        other = uow.schools.add(f"Other School {tag}", f"other-{tag}").id
        uow.commit()
    return World(
        school_id=school,
        other_school_id=other,
        reporter=_member(web_runtime, school, "staff"),
        deputy=_member(web_runtime, school, "dsl"),
        own={role: _member(web_runtime, school, role) for role in ROLES},
        other={role: _member(web_runtime, other, role) for role in ROLES},
    )


def call(
    client: FlaskClient,
    method: str,
    path: str,
    member: Member | None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> TestResponse:
    """Call the API as `member` (None: without a token)."""
    sent = dict(headers or {})
    if member is not None:
        sent["Authorization"] = f"Bearer {member.token}"
    return client.open(f"/api/v1{path}", method=method, json=body, headers=sent)


def start(client: FlaskClient, world: World) -> dict[str, Any]:
    """Report a concern as the reporter; return the outcome's body with the task now waiting.

    The reporter's own outcome names no task (the DSL's review is not theirs to know of), so
    the waiting task is read from the database, without a read of the record.
    """
    body = {"school_id": world.school_id, "values": disclosure_data(MARKER)}
    response = call(client, "POST", "/incidents", world.reporter, body)
    assert response.status_code == 201, response.get_json()
    outcome = dict(response.get_json())
    assert outcome["new_tasks"] == []
    with client.application.app_context(), runtime().unit_of_work() as uow:
        ready = uow.tasks.for_incident(outcome["incident"]["id"], state="ready")
        waiting = [
            {
                "id": task.id,
                "bpmn_id": task.bpmn_id,
                "role": task.role,
                "candidate_groups": [],
                "due_at": task.due_at.isoformat() if task.due_at else None,
            }
            for task in ready
        ]
    return {**outcome, "new_tasks": waiting}


def first_task(outcome: Mapping[str, Any]) -> str:
    """The id of the one task a command made ready."""
    (task,) = outcome["new_tasks"]
    return str(task["id"])


def view(client: FlaskClient, incident_id: str, member: Member) -> dict[str, Any]:
    """GET an incident, asserting success."""
    response = call(client, "GET", f"/incidents/{incident_id}", member)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def document(client: FlaskClient) -> dict[str, Any]:
    """The served OpenAPI document."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return dict(response.get_json())


def assert_matches(doc: Mapping[str, Any], schema: str, body: Any) -> None:
    """Fail, listing every mismatch, unless `body` matches the document's component schema."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": doc["components"]}
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft202012Validator(root).iter_errors(body)
    ]
    assert not problems, f"{schema}: " + "; ".join(problems)


def assert_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Assert a JSON error of this status and code; return its `error` object."""
    body = response.get_json(silent=True)
    assert response.status_code == status, (response.status_code, body or response.data[:300])
    assert response.mimetype == "application/json"
    assert body["error"]["code"] == code, body
    return dict(body["error"])


def form_spec(form: Mapping[str, Any]) -> FormSpec:
    """The FormSpec a task's form JSON describes (proves the JSON carries the whole spec)."""
    fields = tuple(
        FieldSpec(
            id=f["id"],
            type=f["type"],
            label=f["label"],
            help=f["help"],
            required=f["required"],
            min=f["min"],
            max=f["max"],
            minlength=f["min_length"],
            maxlength=f["max_length"],
            options=tuple(EnumOption(o["id"], o["label"]) for o in f["options"]),
            required_if=(
                (f["required_if"]["field"], f["required_if"]["value"]) if f["required_if"] else None
            ),
        )
        for f in form["fields"]
    )
    return FormSpec(form["key"], fields)


# --- the S1 route ---------------------------------------------------------------------------


def test_s1_runs_to_closure_through_the_api(
    client: FlaskClient, world: World, clock: FixedClock, web_runtime: Runtime
) -> None:
    doc = document(client)
    started = start(client, world)
    assert_matches(doc, "Outcome", started)
    incident_id = started["incident"]["id"]
    actor = {"dsl": world.own["dsl"], "headteacher": world.own["headteacher"]}
    for step in S1[1:]:
        clock.advance(timedelta(minutes=30))
        incident = view(client, incident_id, world.own["dsl"])
        assert_matches(doc, "Incident", incident)
        task = next(t for t in incident["ready_tasks"] if t["bpmn_id"] == step["complete"])
        values = placeholder_data(form_spec(task["form"]), step["data"])
        body = {"values": values, "expected_incident_version": incident["version"]}
        response = call(client, "POST", f"/tasks/{task['id']}/complete", actor[task["role"]], body)
        assert response.status_code == 200, response.get_json()
        assert_matches(doc, "Outcome", response.get_json())

    outcome = response.get_json()
    assert outcome["incident"]["status"] == "open"  # until the record is filed as a PDF
    assert outcome["new_tasks"] == []
    with web_runtime.unit_of_work() as uow:
        [filing] = uow.external_tasks.for_incident(incident_id, state="waiting")
    web_runtime.bus.handle(CompleteExternalTask(filing.id, "test-worker", {}))
    final = view(client, incident_id, world.own["headteacher"])
    assert_matches(doc, "Incident", final)
    assert (final["status"], final["ready_tasks"]) == ("closed", [])
    route = [s["bpmn_id"] for s in final["completed_steps"]]
    assert route == [s for s in S1_ROUTE if s != "render_record_pdf"]  # people's steps only
    disclosure = final["completed_steps"][0]
    assert MARKER in disclosure["answers"]["what_was_said"]
    assert disclosure["completed_by"] == str(world.reporter.id)


def test_start_answers_201_with_the_incident_location(client: FlaskClient, world: World) -> None:
    body = {"school_id": world.school_id, "values": disclosure_data(MARKER)}
    response = call(client, "POST", "/incidents", world.reporter, body)

    assert response.status_code == 201
    incident_id = response.get_json()["incident"]["id"]
    assert response.headers["Location"] == f"/api/v1/incidents/{incident_id}"
    assert response.get_json()["incident"]["reference"].startswith("DS-")
    # The DSL's review is waiting, but it is not the reporter's to know of (need-to-know).
    assert response.get_json()["new_tasks"] == []


def test_a_ready_task_shows_its_form_fields_with_their_rules(
    client: FlaskClient, world: World
) -> None:
    incident_id = start(client, world)["incident"]["id"]

    (task,) = view(client, incident_id, world.own["dsl"])["ready_tasks"]

    assert (task["bpmn_id"], task["role"], task["can_complete"]) == ("initial_review", "dsl", True)
    fields = {f["id"]: f for f in task["form"]["fields"]}
    assert fields["youngest_child_age"]["type"] == "long"
    assert fields["youngest_child_age"]["min"] is not None
    assert fields["sharing_extent"]["options"], "an enum lists its options"
    assert any(f["required_if"] for f in fields.values()), "reasons are required_if fields"
    assert all(f["label"] for f in fields.values())


# --- authorisation matrix -------------------------------------------------------------------

# What each role gets, on the incident of its own school (initial_review ready, lane dsl).
# complete is sent with no answers: 422 proves the caller got past the access check.
OWN_SCHOOL: dict[str, dict[str, int]] = {
    "staff": dict(start=201, view=403, glass=200, inbox=200, complete=404, claim=404,
                  unclaim=403, assign=403),
    "dsl": dict(start=201, view=200, glass=200, inbox=200, complete=422, claim=200,
                unclaim=200, assign=200),
    "headteacher": dict(start=201, view=200, glass=200, inbox=200, complete=403, claim=403,
                        unclaim=403, assign=200),
    "auditor": dict(start=403, view=200, glass=200, inbox=200, complete=403, claim=403,
                    unclaim=403, assign=403),
    "admin": dict(start=201, view=403, glass=200, inbox=200, complete=404, claim=404,
                  unclaim=403, assign=403),
}  # fmt: skip
# Anyone from another school learns nothing: every record is "not found", break-glass or not.
OTHER_SCHOOL = dict(
    start=404, view=404, glass=404, inbox=404, complete=404, claim=404, unclaim=404, assign=404
)


def _statuses(client: FlaskClient, world: World, member: Member) -> dict[str, int]:
    outcome = start(client, world)
    incident, task = outcome["incident"]["id"], first_task(outcome)
    values = {"school_id": world.school_id, "values": disclosure_data("Someone Else")}
    glass = {"X-Break-Glass-Reason": "covering the DSL's absence today"}
    assign = {"assignee_id": world.deputy.id, "reason": "covering an absence"}
    got = {
        "start": call(client, "POST", "/incidents", member, values),
        "view": call(client, "GET", f"/incidents/{incident}", member),
        "glass": call(client, "GET", f"/incidents/{incident}", member, headers=glass),
        "inbox": call(client, "GET", f"/tasks?school={world.school_id}", member),
        "complete": call(client, "POST", f"/tasks/{task}/complete", member, {"values": {}}),
        "claim": call(client, "POST", f"/tasks/{task}/claim", member),
        "unclaim": call(client, "POST", f"/tasks/{task}/unclaim", member),
        "assign": call(client, "POST", f"/tasks/{task}/assign", member, assign),
    }
    for name, response in got.items():
        if response.status_code >= 400:
            assert response.get_json()["error"]["message"], name
    return {name: response.status_code for name, response in got.items()}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_policy_allows_in_its_own_school(
    client: FlaskClient, world: World, role: str
) -> None:
    assert _statuses(client, world, world.own[role]) == OWN_SCHOOL[role]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_of_another_school_finds_nothing(
    client: FlaskClient, world: World, role: str
) -> None:
    assert _statuses(client, world, world.other[role]) == OTHER_SCHOOL


def test_refusals_say_why_with_their_codes(client: FlaskClient, world: World) -> None:
    outcome = start(client, world)
    incident, task = outcome["incident"]["id"], first_task(outcome)

    assert_error(
        call(client, "GET", f"/incidents/{incident}", world.own["staff"]),
        403,
        "break_glass_reason_required",
    )
    assert_error(
        call(client, "POST", f"/tasks/{task}/complete", world.own["auditor"], {"values": {}}),
        403,
        "forbidden",
    )
    assert_error(
        call(client, "GET", f"/incidents/{incident}", world.other["dsl"]), 404, "not_found"
    )
    assert call(client, "POST", f"/tasks/{task}/claim", world.own["dsl"]).status_code == 200
    claimed = call(client, "POST", f"/tasks/{task}/claim", world.deputy)
    assert_error(claimed, 409, "task_claimed")


def test_break_glass_is_logged_with_its_reason(client: FlaskClient, world: World) -> None:
    incident = start(client, world)["incident"]["id"]
    staff = world.own["staff"]
    reason = "the DSL is away and Mrs O\u2019Brien is on the phone"  # UTF-8 in a header

    blank = call(
        client, "GET", f"/incidents/{incident}", staff, headers={"X-Break-Glass-Reason": " "}
    )
    as_sent = reason.encode("utf-8").decode("latin-1")  # what a WSGI server hands over
    opened = call(
        client, "GET", f"/incidents/{incident}", staff, headers={"X-Break-Glass-Reason": as_sent}
    )

    assert_error(blank, 403, "break_glass_reason_required")
    assert opened.status_code == 200
    assert opened.get_json()["access_via"] == "break_glass"
    last = view(client, incident, world.own["dsl"])["audit"]
    glass = [e for e in last if e["action"] == "incident.viewed" and e["actor_id"] == staff.id]
    assert [e["reason"] for e in glass] == [reason]


# --- authentication -------------------------------------------------------------------------


def _endpoints(task: str, incident: str, school_id: int) -> list[tuple[str, str, Any]]:
    return [
        ("POST", "/incidents", {"school_id": school_id, "values": {}}),
        ("GET", f"/incidents/{incident}", None),
        ("GET", "/tasks", None),
        ("POST", f"/tasks/{task}/complete", {"values": {}}),
        ("POST", f"/tasks/{task}/claim", None),
        ("POST", f"/tasks/{task}/unclaim", None),
        ("POST", f"/tasks/{task}/assign", {"assignee_id": None, "reason": "x"}),
    ]


def _disable(web_runtime: Runtime, member: Member, how: str, clock: FixedClock) -> None:
    with web_runtime.unit_of_work() as uow:
        if how == "revoked":
            uow.tokens.revoke([t.id for t in uow.tokens.list_for_user(member.id, 10)], clock.now())
        else:
            user = uow.users.get(member.id)
            assert user is not None
            user.is_active = False
        uow.commit()


@pytest.mark.parametrize("credential", ["none", "unknown", "not bearer", "revoked", "inactive"])
def test_every_endpoint_refuses_a_missing_or_bad_token_with_401(
    client: FlaskClient, world: World, web_runtime: Runtime, clock: FixedClock, credential: str
) -> None:
    outcome = start(client, world)
    incident = outcome["incident"]["id"]
    member = world.own["dsl"]
    assert call(client, "GET", "/tasks", member).status_code == 200  # the token works until...
    headers = {
        "none": {},
        "unknown": {"Authorization": "Bearer sgf_" + "x" * 43},
        "not bearer": {"Authorization": f"Basic {member.token}"},
    }.get(credential, {"Authorization": f"Bearer {member.token}"})
    if credential in ("revoked", "inactive"):
        _disable(web_runtime, member, credential, clock)
    before = snapshot(web_runtime.session_factory, incident)

    for method, path, body in _endpoints(first_task(outcome), incident, world.school_id):
        response = call(client, method, path, None, body, headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    assert snapshot(web_runtime.session_factory, incident) == before


def test_a_signed_in_browser_session_is_not_accepted(
    client: FlaskClient, world: World, make_user: Any
) -> None:
    outcome = start(client, world)
    dsl = make_user("dsl", school_id=world.school_id)
    login(client, dsl.email)

    for method, path, body in _endpoints(
        first_task(outcome), outcome["incident"]["id"], world.school_id
    ):
        assert_error(call(client, method, path, None, body), 401, "unauthorized")


# --- validation and conflicts ---------------------------------------------------------------


def test_invalid_answers_get_422_per_field_and_change_nothing(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    outcome = start(client, world)
    incident = outcome["incident"]["id"]
    values = {**REVIEW, "youngest_child_age": "fifteen", "sharing_extent": "everywhere"}
    values.pop("review_date")
    values["shoe_size"] = 9
    before = snapshot(web_runtime.session_factory, incident)

    response = call(
        client,
        "POST",
        f"/tasks/{first_task(outcome)}/complete",
        world.own["dsl"],
        {"values": values},
    )

    error = assert_error(response, 422, "invalid_data")
    assert set(error["fields"]) == {
        "youngest_child_age",
        "sharing_extent",
        "review_date",
        "shoe_size",
    }
    assert error["fields"]["review_date"] == ["is required"]
    assert error["fields"]["shoe_size"] == ["is not a field of this form"]
    assert "whole number" in error["fields"]["youngest_child_age"][0]
    assert_matches(document(client), "Error", response.get_json())
    assert snapshot(web_runtime.session_factory, incident) == before


def test_a_decision_without_its_reason_is_a_field_error(client: FlaskClient, world: World) -> None:
    outcome = start(client, world)
    dsl = world.own["dsl"]
    review = call(client, "POST", f"/tasks/{first_task(outcome)}/complete", dsl, {"values": REVIEW})
    risk = {**S1[2]["data"], "known_to_social_care": True}  # then say when they were told

    response = call(
        client, "POST", f"/tasks/{first_task(review.get_json())}/complete", dsl, {"values": risk}
    )

    error = assert_error(response, 422, "invalid_data")
    assert list(error["fields"]) == ["social_care_told"]
    assert "is required when" in error["fields"]["social_care_told"][0]


def test_completing_a_completed_task_is_409_and_writes_nothing(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    outcome = start(client, world)
    incident, task = outcome["incident"]["id"], first_task(outcome)
    path = f"/tasks/{task}/complete"
    assert call(client, "POST", path, world.own["dsl"], {"values": REVIEW}).status_code == 200
    before = snapshot(web_runtime.session_factory, incident)

    again = call(client, "POST", path, world.deputy, {"values": REVIEW})

    assert_error(again, 409, "task_no_longer_ready")
    assert snapshot(web_runtime.session_factory, incident) == before


def test_a_stale_expected_version_is_409_and_writes_nothing(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    outcome = start(client, world)
    incident, task = outcome["incident"]["id"], first_task(outcome)
    seen = view(client, incident, world.own["dsl"])["version"]
    call(client, "POST", f"/tasks/{task}/claim", world.own["dsl"])  # moves nothing of the state
    assert view(client, incident, world.own["dsl"])["version"] == seen
    before = snapshot(web_runtime.session_factory, incident)

    response = call(
        client,
        "POST",
        f"/tasks/{task}/complete",
        world.own["dsl"],
        {"values": REVIEW, "expected_incident_version": seen - 1},
    )

    error = assert_error(response, 409, "incident_changed")
    assert f"version {seen - 1}" in error["message"]
    assert snapshot(web_runtime.session_factory, incident) == before
    fresh = {"values": REVIEW, "expected_incident_version": seen}
    assert (
        call(client, "POST", f"/tasks/{task}/complete", world.own["dsl"], fresh).status_code == 200
    )


def test_claim_unclaim_and_assign_move_the_task(client: FlaskClient, world: World) -> None:
    outcome = start(client, world)
    task, dsl = first_task(outcome), world.own["dsl"]

    claimed = call(client, "POST", f"/tasks/{task}/claim", dsl)
    inbox_of_deputy = call(client, "GET", "/tasks", world.deputy).get_json()["tasks"]
    released = call(client, "POST", f"/tasks/{task}/unclaim", dsl, {})
    body = {"assignee_id": world.deputy.id, "reason": "the DSL is on a course today"}
    assigned = call(client, "POST", f"/tasks/{task}/assign", world.own["headteacher"], body)
    mine = call(client, "GET", "/tasks", world.deputy).get_json()["tasks"]

    doc = document(client)
    for response in (claimed, released, assigned):
        assert_matches(doc, "Outcome", response.get_json())
    assert claimed.get_json()["task"] == {"id": task, "assignee_id": dsl.id}
    assert task not in [t["id"] for t in inbox_of_deputy]  # claimed by someone else
    assert released.get_json()["task"] == {"id": task, "assignee_id": None}
    assert assigned.get_json()["task"] == {"id": task, "assignee_id": world.deputy.id}
    assert [(t["id"], t["assignee_id"]) for t in mine] == [(task, world.deputy.id)]


def test_assign_needs_a_reason(client: FlaskClient, world: World) -> None:
    task, dsl = first_task(start(client, world)), world.own["dsl"]

    missing = call(client, "POST", f"/tasks/{task}/assign", dsl, {"assignee_id": world.deputy.id})
    blank = call(
        client, "POST", f"/tasks/{task}/assign", dsl, {"assignee_id": None, "reason": "  "}
    )
    nobody = call(
        client, "POST", f"/tasks/{task}/assign", dsl, {"assignee_id": 10**9, "reason": "x"}
    )

    assert assert_error(missing, 422, "invalid_request")["fields"] == {"reason": ["is required"]}
    assert "needs a reason" in assert_error(blank, 422, "invalid_request")["message"]
    assert "no user" in assert_error(nobody, 422, "invalid_request")["message"]


# --- the inbox ------------------------------------------------------------------------------


def test_the_inbox_lists_overdue_tasks_first_in_pages(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    first = first_task(start(client, world))
    clock.advance(timedelta(hours=2))
    second = first_task(start(client, world))
    clock.advance(timedelta(hours=23))  # the first review (due in a day) is now overdue

    page = call(client, "GET", "/tasks?limit=1", world.own["dsl"]).get_json()
    rest = call(client, "GET", "/tasks?limit=1&offset=1", world.own["dsl"]).get_json()

    assert_matches(document(client), "InboxPage", page)
    assert [(t["id"], t["overdue"]) for t in page["tasks"]] == [(first, True)]
    assert page["next_offset"] == 1
    assert [(t["id"], t["overdue"]) for t in rest["tasks"]] == [(second, False)]
    assert call(client, "GET", "/tasks", world.own["auditor"]).get_json()["tasks"] == []


def test_the_inbox_checks_its_parameters(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    dsl = world.own["dsl"]
    with web_runtime.unit_of_work() as uow:
        uow.users.grant(dsl.id, world.other_school_id, "staff")
        uow.commit()

    which = call(client, "GET", "/tasks", dsl)
    bad = call(client, "GET", "/tasks?school=abc", dsl)
    zero = call(client, "GET", f"/tasks?school={world.school_id}&limit=0", dsl)
    unknown = call(client, "GET", f"/tasks?school={world.school_id}&sort=due", dsl)

    assert list(assert_error(which, 422, "invalid_request")["fields"]) == ["school"]
    assert list(assert_error(bad, 422, "invalid_request")["fields"]) == ["school"]
    assert list(assert_error(zero, 422, "invalid_request")["fields"]) == ["limit"]
    assert list(assert_error(unknown, 422, "invalid_request")["fields"]) == ["sort"]
    assert call(client, "GET", f"/tasks?school={world.other_school_id}", dsl).status_code == 200


# --- requests the API refuses ---------------------------------------------------------------


def test_bodies_must_be_json_objects_of_known_keys(client: FlaskClient, world: World) -> None:
    token = {"Authorization": f"Bearer {world.reporter.token}"}
    post = client.post

    plain = post("/api/v1/incidents", data="school=1", content_type="text/plain", headers=token)
    broken = post(
        "/api/v1/incidents",
        data='{"school_id": 1,\n "values": {,}}',
        content_type="application/json",
        headers=token,
    )
    twice = post(
        "/api/v1/incidents",
        data='{"values": {}, "values": {}}',
        content_type="application/json",
        headers=token,
    )
    array = post("/api/v1/incidents", json=[1, 2], headers=token)
    extra = post(
        "/api/v1/incidents", json={"school_id": "1", "values": {}, "urgent": True}, headers=token
    )
    huge = post(
        "/api/v1/incidents",
        json={"school_id": world.school_id, "values": {"what_was_said": "x" * 300_000}},
        headers=token,
    )

    assert_error(plain, 415, "unsupported_media_type")
    error = assert_error(broken, 400, "malformed_json")
    assert error["position"] == {"line": 2, "column": 13, "offset": 29}
    assert "line 2, column 13" in error["message"]
    assert "twice" in assert_error(twice, 400, "malformed_json")["message"]
    assert "JSON object, not an array" in assert_error(array, 422, "invalid_request")["message"]
    fields = assert_error(extra, 422, "invalid_request")["fields"]
    assert fields == {
        "urgent": ["is not a field of this request"],
        "school_id": ["must be an integer"],
    }
    assert_error(huge, 413, "payload_too_large")
    doc = document(client)
    for response in (plain, broken, twice, array, extra, huge):
        assert_matches(doc, "Error", response.get_json())


def test_what_no_database_column_can_hold_is_refused_not_failed(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    outcome = start(client, world)
    dsl, task = world.own["dsl"], first_task(outcome)
    before = snapshot(web_runtime.session_factory, outcome["incident"]["id"])
    complete = f"/tasks/{task}/complete"

    nul = call(client, "POST", complete, dsl, {"values": {**REVIEW, "what_is_known": "a\x00b"}})
    surrogate = client.post(
        f"/api/v1{complete}",
        data='{"values": {"review_attendees": "\\ud800"}}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {dsl.token}"},
    )
    huge = call(client, "POST", "/incidents", dsl, {"school_id": 10**30, "values": {}})
    stale = call(client, "POST", complete, dsl, {"values": REVIEW, "expected_incident_version": -1})
    odd_id = call(client, "GET", "/incidents/ab%00cd", dsl)

    assert assert_error(nul, 422, "invalid_data")["fields"] == {
        "what_is_known": ["must not contain a NUL character (\\u0000) or an unpaired surrogate"]
    }
    assert list(assert_error(surrogate, 422, "invalid_data")["fields"]) == ["review_attendees"]
    assert assert_error(huge, 422, "invalid_request")["fields"] == {
        "school_id": ["must be an integer from 1 to 2147483647"]
    }
    assert list(assert_error(stale, 422, "invalid_request")["fields"]) == [
        "expected_incident_version"
    ]
    assert_error(odd_id, 404, "not_found")
    assert snapshot(web_runtime.session_factory, outcome["incident"]["id"]) == before


def test_unknown_routes_and_methods_get_json_errors(client: FlaskClient, world: World) -> None:
    token = {"Authorization": f"Bearer {world.reporter.token}"}

    missing = client.put("/api/v1/incidents", headers=token)  # GET lists them (issue 10)
    nowhere = client.post("/api/v1/nowhere", headers=token)
    wrong = client.delete("/api/v1/tasks/abc/complete", headers=token)

    assert_error(missing, 405, "method_not_allowed")
    assert_error(nowhere, 404, "not_found")
    assert_error(wrong, 405, "method_not_allowed")
    assert "POST" in wrong.headers["Allow"]
    assert client.get("/no-such-page").mimetype == "text/html"  # the rest of the site is HTML


def test_an_unexpected_failure_is_a_json_500_without_details(
    client: FlaskClient, world: World, web_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(message: object) -> object:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(web_runtime.bus, "handle", broken)

    response = call(client, "GET", "/tasks", world.own["dsl"])

    error = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.get_data(as_text=True)
    assert error["fields"] == {}


def test_api_responses_are_not_cached_or_sniffed(client: FlaskClient, world: World) -> None:
    response = call(client, "GET", "/tasks", world.own["dsl"])

    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response.headers


# --- the OpenAPI document -------------------------------------------------------------------


def test_the_openapi_document_is_valid_and_describes_every_route(
    app: Flask, client: FlaskClient
) -> None:
    doc = document(client)

    validate_openapi(doc)
    assert doc["openapi"].startswith("3.1")
    routes = {
        (openapi_path(rule.rule, "/api/v1"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert routes == described
    assert len(routes) >= 8  # other areas (the studio, children) add theirs
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], (path, method)
            assert "500" in operation["responses"]
