"""The studio's JSON API under /api/v1 (bearer tokens), on the API blueprint.

Imported by services.web.studio before the app registers the API blueprint, so these routes
share its token check and its JSON errors.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from services.domain.studio import drafts, school_scenarios, versions
from services.domain.studio.errors import ChecksFailed, DraftConflict
from services.web.api.blueprint import bp
from services.web.api.context import api_user
from services.web.api.errors import error_response
from services.web.api.parsing import Key, json_body
from services.web.studio import api_docs as _api_docs  # noqa: F401  # describes these routes
from services.web.studio.context import studio
from workflow.errors import DefinitionInvalid

# A draft carries whole diagrams: the default process is 150 KB of XML. Bodies past the
# parser's 1 MiB (services.web.api.parsing.MAX_JSON_BYTES) are a 413.
MAX_DRAFT_BODY = 1024 * 1024

DRAFT_BODY = {"files": Key("object", required=True), "note": Key("string")}
SAVE_BODY = {
    "files": Key("object", required=True),
    "revision": Key("integer", required=True, low=1),
    "note": Key("string"),
}
APPROVE_BODY = {"revision": Key("integer", low=1)}
PUBLISH_BODY = {"note": Key("string")}
SCENARIO_BODY = {"content": Key("string", required=True)}
CHOICE_BODY = {
    "process_key": Key("string", required=True),
    "version": Key("integer", required=True, low=1),
}


def draft_json(view: dict[str, Any]) -> dict[str, Any]:
    """The API's shape of a draft: id, problems, scenarios, and its state."""
    keys = (
        "id",
        "process_key",
        "revision",
        "state",
        "note",
        "base_version",
        "passed",
        "problems",
        "scenarios",
        "approved_by",
        "author",
        "updated_at",
        "diff",
    )
    return {key: view.get(key) for key in keys}


def definition_invalid(error: DefinitionInvalid) -> Response:
    """A 422 naming each refused file's problem by file, line and element."""
    problems = [
        {"file": p.file, "line": p.line, "element_id": p.element_id, "message": p.message}
        for p in error.problems
    ]
    return error_response(422, "definition_invalid", str(error), extra={"problems": problems})


def conflict(error: DraftConflict) -> Response:
    """A 409 that shows both: the caller's revision and the one saved meanwhile."""
    return error_response(
        409,
        "draft_changed",
        str(error),
        extra={"yours": {"revision": error.yours_revision}, "theirs": error.theirs},
    )


def scenario_invalid(error: DefinitionInvalid) -> Response:
    """A 422 naming each problem of a scenario file by file, line and place in the file."""
    problems = [
        {"file": p.file, "line": p.line, "element_id": p.element_id, "message": p.message}
        for p in error.problems
    ]
    return error_response(422, "scenario_invalid", str(error), extra={"problems": problems})


def checks_failed(error: ChecksFailed) -> Response:
    """A 409 with the checks that failed."""
    return error_response(409, "checks_failed", str(error), extra={"checks": error.checks})


@bp.get("/processes")
def list_processes() -> Response:
    """Processes, their versions and drafts, and the version each school runs."""
    return jsonify({"processes": versions.list_processes(studio(), api_user().id)})


@bp.post("/processes/<key:process_key>/drafts")
def create_draft(process_key: str) -> tuple[Response, int, dict[str, str]] | Response:
    """A new draft from uploaded files, checked at once (201 even when checks fail)."""
    request.max_content_length = MAX_DRAFT_BODY
    body = json_body(request, DRAFT_BODY)
    try:
        draft_id = drafts.create_draft(
            studio(), api_user().id, process_key, body["files"], body.get("note")
        )
    except DefinitionInvalid as error:
        return definition_invalid(error)
    view = versions.draft_view(studio(), api_user().id, draft_id)
    location = url_for("api.get_draft", draft_id=draft_id)
    return jsonify(draft_json(view)), 201, {"Location": location}


@bp.get("/drafts/<int:draft_id>")
def get_draft(draft_id: int) -> Response:
    """A draft with its problems and scenario results."""
    return jsonify(draft_json(versions.draft_view(studio(), api_user().id, draft_id)))


@bp.put("/drafts/<int:draft_id>")
def save_draft(draft_id: int) -> Response:
    """Save new files over `revision`; 409 with both when someone saved since."""
    request.max_content_length = MAX_DRAFT_BODY
    body = json_body(request, SAVE_BODY)
    try:
        drafts.save_draft(
            studio(), api_user().id, draft_id, body["files"], body["revision"], body.get("note")
        )
    except DefinitionInvalid as error:
        return definition_invalid(error)
    except DraftConflict as error:
        return conflict(error)
    return jsonify(draft_json(versions.draft_view(studio(), api_user().id, draft_id)))


@bp.post("/drafts/<int:draft_id>/approve")
def approve_draft(draft_id: int) -> Response:
    """Approve (a process admin who did not change it); 403 for an author, 409 if checks fail."""
    body = json_body(request, APPROVE_BODY, may_be_empty=True)
    try:
        drafts.approve_draft(studio(), api_user().id, draft_id, body.get("revision"))
    except ChecksFailed as error:
        return checks_failed(error)
    except DraftConflict as error:
        return conflict(error)
    return jsonify(draft_json(versions.draft_view(studio(), api_user().id, draft_id)))


@bp.post("/drafts/<int:draft_id>/publish")
def publish_draft(draft_id: int) -> Response:
    """Publish an approved draft as the next version: {"version": n} (409 unless approved)."""
    body = json_body(request, PUBLISH_BODY, may_be_empty=True)
    number = drafts.publish_draft(studio(), api_user().id, draft_id, body.get("note"))
    return jsonify({"version": number})


@bp.post("/schools/<int:school_id>/process-version")
def choose_version(school_id: int) -> Response:
    """Choose the version a school runs (an earlier one: a rollback)."""
    body = json_body(request, CHOICE_BODY)
    versions.choose_version(
        studio(), api_user().id, school_id, body["process_key"], body["version"]
    )
    return jsonify(
        {"school_id": school_id, "process_key": body["process_key"], "version": body["version"]}
    )


@bp.get("/processes/<key:process_key>/scenarios")
def list_scenarios(process_key: str) -> Response:
    """The scenarios every draft of the process runs: statutory, the process's own, schools'."""
    return jsonify(school_scenarios.list_scenarios(studio(), api_user().id, process_key))


@bp.put("/schools/<int:school_id>/processes/<key:process_key>/scenarios/<name>")
def put_scenario(school_id: int, process_key: str, name: str) -> tuple[Response, int]:
    """Add (201) or replace (200) one of the school's scenarios; a bad file is a located 422."""
    body = json_body(request, SCENARIO_BODY)
    try:
        created = school_scenarios.put_scenario(
            studio(), api_user().id, school_id, process_key, name, body["content"]
        )
    except DefinitionInvalid as error:
        return scenario_invalid(error), 422
    listing = school_scenarios.list_scenarios(studio(), api_user().id, process_key)
    shown = next(s for s in listing["school"] if (s["school_id"], s["name"]) == (school_id, name))
    return jsonify(shown), 201 if created else 200


@bp.delete("/schools/<int:school_id>/processes/<key:process_key>/scenarios/<name>")
def remove_scenario(school_id: int, process_key: str, name: str) -> Response:
    """Remove one of the school's scenarios (statutory ones never)."""
    school_scenarios.remove_scenario(studio(), api_user().id, school_id, process_key, name)
    return jsonify({"school_id": school_id, "process_key": process_key, "removed": name})
