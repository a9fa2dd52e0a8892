"""No picture or video enters by any door: the worst cases of the corpus pushed through every page
and API call that takes text, on SQLite and PostgreSQL. Each is refused with a 4xx naming the
field, and afterwards no row of any table holds the payload (issue 8). Malformed JSON bodies,
nested 5,000 deep included, are 4xx too, never 500.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import base64
import json
import urllib.parse
from io import BytesIO
from typing import Any

import pytest
from flask import Blueprint, Flask, render_template_string, request
from flask.testing import FlaskClient
from sqlalchemy import select

from services.bootstrap import Runtime
from services.db.imagery_guard import ImageryRefused
from services.db.models.base import Base
from services.web.incidents.task_forms import is_valid_submission, new_task_form
from tests.integration.service_fixtures import disclosure_data, scenario_steps
from tests.integration.test_api import (  # noqa: F401  # fixtures, found by name
    World,
    assert_error,
    call,
    first_task,
    start,
    world,
)
from tests.integration.test_web_incidents import (  # noqa: F401  # fixtures, found by name
    School,
    deployed,
    incident_count,
    incident_state,
    page_form,
    post_with_token,
    ready_task_id,
    school,
    signed_in,
    start_incident,
    submit,
    text_of,
    tree_of,
)
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    app,
    client,
    clock,
    make_user,
    web_runtime,
    web_settings,
)
from tests.unit.imagery_corpus import (
    Case,
    data_uri,
    document_cases,
    encoded,
    png_by_hand,
    wrapped,
)
from workflow.model import FieldSpec, FormSpec

REFUSAL = "This looks like a picture or video written out as text"
REVIEW = scenario_steps("s1.json")[1]["data"]
JPEG_B64 = base64.b64encode(encoded("JPEG")).decode()
SMALL_PNG = data_uri(png_by_hand(), "image/png")  # short enough for a reason field
# The worst cases: each text carries the gradient JPEG (or PNG) in a different disguise.
WORST = {
    "data URI": data_uri(encoded("JPEG")),
    "percent-encoded data URI": urllib.parse.quote(data_uri(encoded("JPEG")), safe=""),
    "base64 wrapped at 76": wrapped(JPEG_B64),
    "hex": encoded("PNG").hex(),
}


def markers(payload: str) -> list[str]:
    """Pieces of the payload that any stored copy of it would contain."""
    middle = len(payload) // 2
    return [payload[middle : middle + 32], JPEG_B64[40:72]]


def stored_anywhere(runtime: Runtime, payload: str) -> list[str]:
    """Every table.column whose value holds a piece of the payload (grep the whole database)."""
    found = []
    pieces = markers(payload)
    with runtime.unit_of_work() as uow:
        for table in Base.metadata.sorted_tables:
            for row in uow.session.execute(select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    if any(piece in text for piece in pieces):
                        found.append(f"{table.name}.{column.name}")
    return found


# --- the pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("disguise", WORST)
def test_report_a_concern_refuses_a_picture_in_what_was_said(
    app: Flask, school: School, web_runtime: Runtime, disguise: str
) -> None:
    payload = WORST[disguise]
    staff = signed_in(app, school.staff)
    before = incident_count(web_runtime, school.id)

    answers = {**disclosure_data("Quill"), "what_was_said": payload}
    response = submit(staff, f"/report?school={school.id}", answers)

    assert response.status_code == 422
    assert REFUSAL in text_of(response)
    assert incident_count(web_runtime, school.id) == before
    assert stored_anywhere(web_runtime, payload) == []


def test_a_task_form_refuses_a_picture_and_the_incident_is_unchanged(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    before = incident_state(web_runtime, incident_id)
    payload = WORST["base64 wrapped at 76"]

    dsl = signed_in(app, school.dsl)
    response = submit(
        dsl, f"/incidents/{incident_id}/tasks/{task_id}", {**REVIEW, "what_is_known": payload}
    )

    assert response.status_code == 422
    assert REFUSAL in text_of(response)
    assert incident_state(web_runtime, incident_id) == before
    assert stored_anywhere(web_runtime, payload) == []


def test_reason_fields_refuse_a_picture(app: Flask, school: School, web_runtime: Runtime) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    dsl, bystander = signed_in(app, school.dsl), signed_in(app, school.bystander)
    before = incident_state(web_runtime, incident_id)

    responses = {
        "break-glass": post_with_token(
            bystander, f"/incidents/{incident_id}/break-glass", {"reason": SMALL_PNG}
        ),
        "exclude": submit(
            dsl,
            f"/incidents/{incident_id}/exclude",
            {"person": str(school.bystander.id), "reason": SMALL_PNG},
        ),
        "reassign": submit(
            dsl,
            f"/inbox/incidents/{incident_id}/tasks/{task_id}/assign",
            {"assignee": str(school.deputy.id), "reason": SMALL_PNG},
        ),
    }

    for door, response in responses.items():
        assert response.status_code == 422, door
        assert REFUSAL in text_of(response), door
    assert incident_state(web_runtime, incident_id) == before
    assert bystander.get(f"/incidents/{incident_id}").status_code == 403  # no grant was made
    assert stored_anywhere(web_runtime, SMALL_PNG) == []


# The disguised files the issue lists, and clean documents, through a task form's upload.
ISSUE_FILES = [
    case
    for case in document_cases()
    if not case.refused
    or any(
        word in case.name
        for word in ("Subtype", "attach", "%%EOF", "%PDF-1.4", "DOCX with an", "nested", "UTF-16")
    )
]
UPLOAD_FORM = FormSpec(
    key="test_upload",
    fields=(FieldSpec(id="letter", type="document", label="The letter", required=True),),
)


@pytest.fixture
def upload_page(app: Flask) -> FlaskClient:
    """A page showing a task form with a document field, as a task of a diagram would."""
    test_only = Blueprint("test_imagery_upload", __name__)

    @test_only.route("/test-upload", methods=["GET", "POST"])
    def page() -> tuple[str, int]:
        form = new_task_form(UPLOAD_FORM, 1)
        if is_valid_submission(form):
            return "accepted", 200
        template = (
            '{% from "forms/task_form.html" import task_form %}'
            '{{ task_form(form, "", "/test-upload") }}'
        )
        return render_template_string(template, form=form), 422 if form.is_submitted() else 200

    app.register_blueprint(test_only)
    return app.test_client()


@pytest.mark.parametrize("case", ISSUE_FILES, ids=lambda case: case.name)
def test_an_upload_is_judged_by_its_content(upload_page: FlaskClient, case: Case) -> None:
    fields = dict(page_form(upload_page.get("/test-upload")).form_values())
    response = upload_page.post(
        "/test-upload",
        data={**fields, "letter": (BytesIO(case.content), case.filename)},
        content_type="multipart/form-data",
    )
    if not case.refused:
        assert response.status_code == 200, text_of(response)
        return
    assert response.status_code == 422
    message = tree_of(response).xpath("string(//p[@id='letter-error'])")
    assert "never accepts images or videos of children" in message or "accepts only" in message


# --- the API --------------------------------------------------------------------------------


@pytest.mark.parametrize("disguise", WORST)
def test_the_api_refuses_a_picture_in_a_new_incident(
    client: FlaskClient, world: World, web_runtime: Runtime, disguise: str
) -> None:
    payload = WORST[disguise]
    body = {
        "school_id": world.school_id,
        "values": {**disclosure_data("Q"), "what_was_said": payload},
    }

    response = call(client, "POST", "/incidents", world.reporter, body)

    error = assert_error(response, 422, "imagery_refused")
    assert list(error["fields"]) == ["what_was_said"]
    assert error["fields"]["what_was_said"][0].startswith(REFUSAL)
    assert stored_anywhere(web_runtime, payload) == []


def test_the_api_refuses_a_picture_in_answers_reasons_and_headers(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    outcome = start(client, world)
    incident, task = outcome["incident"]["id"], first_task(outcome)
    dsl, staff = world.own["dsl"], world.own["staff"]
    payload = WORST["hex"]

    completed = call(
        client,
        "POST",
        f"/tasks/{task}/complete",
        dsl,
        {"values": {**REVIEW, "what_is_known": payload}},
    )
    in_a_list = call(
        client, "POST", f"/tasks/{task}/complete", dsl, {"values": {**REVIEW, "x": ["a", payload]}}
    )
    assigned = call(
        client,
        "POST",
        f"/tasks/{task}/assign",
        dsl,
        {"assignee_id": world.deputy.id, "reason": SMALL_PNG},
    )
    glass = call(
        client, "GET", f"/incidents/{incident}", staff, headers={"X-Break-Glass-Reason": SMALL_PNG}
    )

    assert list(assert_error(completed, 422, "imagery_refused")["fields"]) == ["what_is_known"]
    assert list(assert_error(in_a_list, 422, "imagery_refused")["fields"]) == ["x"]
    assert "reason" in assert_error(assigned, 422, "imagery_refused")["fields"]
    assert REFUSAL in assert_error(glass, 422, "invalid_request")["message"]
    assert stored_anywhere(web_runtime, payload) == []
    assert stored_anywhere(web_runtime, SMALL_PNG) == []


# --- malformed bodies -----------------------------------------------------------------------


def raw_post(client: FlaskClient, world: World, body: bytes) -> Any:
    """POST these bytes as JSON to start an incident."""
    return client.post(
        "/api/v1/incidents",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.reporter.token}"},
    )


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"[" * 5_000 + b"]" * 5_000, 400, "more than 32 deep"),
        (b'{"values": ' * 5_000 + b"{}" + b"}" * 5_000, 400, "more than 32 deep"),
        (b"[" * 100_000, 400, "more than 32 deep"),
        (b'{"a": "[[[[' + b"[" * 5_000 + b'"}', 422, "not valid: a, school_id"),
        (b'{"school_id": ' + b"9" * 5_000 + b"}", 400, "number too long"),
        (b'{"school_id": 1, "values": {}', 400, "not valid JSON"),
        (b'{"school_id": 1, "school_id": 2, "values": {}}', 400, "appears twice"),
        (b'{"school_id": NaN, "values": {}}', 400, "not a JSON number"),
        (b"\xff\xfe{}", 400, "not UTF-8"),
        (b"", 400, "not valid JSON"),
        (b"null", 422, "must be a JSON object"),
    ],
)
def test_malformed_bodies_are_4xx_naming_the_problem(
    client: FlaskClient, world: World, body: bytes, status: int, says: str
) -> None:
    response = raw_post(client, world, body)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert says in response.get_json()["error"]["message"]


def test_nesting_up_to_the_limit_is_read(client: FlaskClient, world: World) -> None:
    body = json.dumps({"school_id": world.school_id, "values": {"x": [[[[[[[[1]]]]]]]]}})
    response = raw_post(client, world, body.encode())
    assert_error(response, 422, "invalid_data")  # read, then refused for its unknown field


def test_the_database_grep_finds_what_was_stored(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    # The control for every "nothing stored" above: an ordinary answer is found where it lies.
    words = "Ordinary words the pupil said, stored as they are: control marker 8c1f."
    body = {
        "school_id": world.school_id,
        "values": {**disclosure_data("Q"), "what_was_said": words},
    }
    assert call(client, "POST", "/incidents", world.reporter, body).status_code == 201
    found = stored_anywhere(web_runtime, words)
    assert any(place.startswith("audit") for place in found), found


def test_every_get_json_of_the_app_refuses_deep_nesting_without_a_500(app: Flask) -> None:
    # The studio's autosave and any other page reading JSON go through the app's provider.
    deep = "[" * 5_000 + "]" * 5_000
    with app.test_request_context(method="POST", data=deep, content_type="application/json"):
        assert request.get_json(silent=True) is None
    with pytest.raises(ValueError, match="more than 32 deep"):
        app.json.loads(deep)
    assert app.json.loads('{"a": [[1]]}') == {"a": [[1]]}


# --- the last door: whatever page or command forgets to check, the database refuses ---------


def test_no_row_is_written_with_a_picture_in_it(web_runtime: Runtime) -> None:
    payload = WORST["data URI"]
    with web_runtime.unit_of_work() as uow, pytest.raises(ImageryRefused) as refused:
        uow.schools.add(payload, "raw-door-school")  # flushes, to learn its id
        uow.commit()
    assert refused.value.errors["name"][0].startswith(REFUSAL)
    assert stored_anywhere(web_runtime, payload) == []


def test_a_page_that_reads_raw_form_text_gets_a_422_page_and_stores_nothing(
    app: Flask, web_runtime: Runtime
) -> None:
    raw_door = Blueprint("test_raw_door", __name__)

    @raw_door.post("/test-raw-door")
    def page() -> str:
        with web_runtime.unit_of_work() as uow:  # no form, no validator: straight to a row
            uow.schools.add(request.form["name"], "raw-door-page")
            uow.commit()
        return "saved"

    app.register_blueprint(raw_door)
    app.config["WTF_CSRF_ENABLED"] = False
    payload = WORST["base64 wrapped at 76"]

    response = app.test_client().post("/test-raw-door", data={"name": payload})

    assert response.status_code == 422
    assert REFUSAL in text_of(response) and "Nothing was saved" in text_of(response)
    assert stored_anywhere(web_runtime, payload) == []
