"""The API's endpoints: parse the request, send one command or query to the bus, render JSON."""

from __future__ import annotations

from flask import Response, jsonify, request, url_for

from services.domain.commands import AssignTask, ClaimTask, CompleteTask, StartIncident, UnclaimTask
from services.domain.queries import AUDIT_PAGE_SIZE, Inbox, ViewIncident
from services.domain.results import Outcome
from services.web.api import render
from services.web.api.blueprint import bp
from services.web.api.case_docs import path_json
from services.web.api.context import api_user, message_bus
from services.web.api.errors import ApiError
from services.web.api.openapi import BREAK_GLASS_HEADER, cached_document
from services.web.api.parsing import (
    MAX_INTEGER,
    Key,
    check_query,
    json_body,
    optional_query_int,
    query_int,
)

MAX_PAGE = 200
MAX_OFFSET = 100_000
MAX_ID = MAX_INTEGER

START_BODY = {
    "school_id": Key("integer", required=True, low=1),
    "values": Key("object", required=True),
}
COMPLETE_BODY = {
    "values": Key("object", required=True),
    "expected_incident_version": Key("integer", nullable=True),
}
ASSIGN_BODY = {
    "assignee_id": Key("integer", required=True, nullable=True, low=1),
    "reason": Key("string", required=True),
}
NO_BODY: dict[str, Key] = {}


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 description of this API (public: it holds no records)."""
    return jsonify(cached_document())


@bp.post("/incidents")
def start_incident() -> tuple[Response, int, dict[str, str]]:
    """Report a concern: open an incident with its disclosure form's answers."""
    body = json_body(request, START_BODY)
    outcome = message_bus().handle(StartIncident(body["school_id"], api_user().id, body["values"]))
    location = url_for("api.get_incident", incident_id=outcome.incident_id)
    return jsonify(render.outcome_json(outcome, api_user().roles_in)), 201, {"Location": location}


@bp.get("/incidents/<incident_id>")
def get_incident(incident_id: str) -> Response:
    """An incident as the caller may see it; the read is audited, as for the HTML page."""
    args = request.args
    check_query(args, frozenset({"audit_after", "audit_limit"}))
    query = ViewIncident(
        incident_id,
        api_user().id,
        break_glass_reason=_header_text(BREAK_GLASS_HEADER),
        audit_after_id=optional_query_int(args, "audit_after", low=0, high=MAX_ID),
        audit_limit=query_int(args, "audit_limit", default=AUDIT_PAGE_SIZE, low=1, high=MAX_PAGE),
    )
    view = message_bus().handle(query)
    body = render.incident_json(view)
    # The route taken is the record's: the reporter and assignees get empty lists (need-to-know).
    path = path_json(message_bus().dependencies, view) if view.reads_record else None
    return jsonify({**body, **(path or {"path_taken": [], "next_possible": []})})


def _header_text(name: str) -> str | None:
    # WSGI hands headers over as Latin-1; clients send UTF-8 text, so read it back as UTF-8.
    value = request.headers.get(name)
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


@bp.get("/tasks")
def inbox() -> Response:
    """The caller's inbox in one school: their tasks and their roles' unclaimed ones."""
    args = request.args
    check_query(args, frozenset({"school", "limit", "offset"}))
    school_id = _inbox_school(optional_query_int(args, "school", low=1, high=MAX_ID))
    limit = query_int(args, "limit", default=50, low=1, high=MAX_PAGE)
    offset = query_int(args, "offset", default=0, low=0, high=MAX_OFFSET)
    items = message_bus().handle(Inbox(api_user().id, school_id, limit, offset))
    return jsonify(
        {
            "school_id": school_id,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if len(items) == limit else None,
            "tasks": [render.inbox_item_json(item) for item in items],
        }
    )


def _inbox_school(requested: int | None) -> int:
    schools = api_user().schools
    if requested is None:
        if len(schools) != 1:
            message = "is required: you belong to several schools (or none); pass ?school=<id>"
            raise ApiError(422, "invalid_request", f"school {message}", {"school": [message]})
        return schools[0].school_id
    if not api_user().roles_in(requested):
        raise ApiError(404, "not_found", f"school {requested} not found")
    return requested


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id: str) -> Response:
    """Submit a task's form; 422 names each bad field, 409 if the task or incident moved on."""
    body = json_body(request, COMPLETE_BODY)
    command = CompleteTask(
        task_id, api_user().id, body["values"], body.get("expected_incident_version")
    )
    return jsonify(render.outcome_json(message_bus().handle(command), api_user().roles_in))


@bp.post("/tasks/<task_id>/claim")
def claim_task(task_id: str) -> Response:
    """Take a ready task for oneself."""
    json_body(request, NO_BODY, may_be_empty=True)
    user_id = api_user().id
    return _assigned(message_bus().handle(ClaimTask(task_id, user_id)), task_id, user_id)


@bp.post("/tasks/<task_id>/unclaim")
def unclaim_task(task_id: str) -> Response:
    """Hand a task one claimed back to its role."""
    json_body(request, NO_BODY, may_be_empty=True)
    return _assigned(message_bus().handle(UnclaimTask(task_id, api_user().id)), task_id, None)


@bp.post("/tasks/<task_id>/assign")
def assign_task(task_id: str) -> Response:
    """Give a task to someone (assignee_id null: back to its role), with a reason."""
    body = json_body(request, ASSIGN_BODY)
    command = AssignTask(task_id, api_user().id, body["assignee_id"], body["reason"])
    return _assigned(message_bus().handle(command), task_id, command.assignee_id)


def _assigned(outcome: Outcome, task_id: str, assignee_id: int | None) -> Response:
    body = render.outcome_json(outcome, api_user().roles_in)
    body["task"] = {"id": task_id, "assignee_id": assignee_id}
    return jsonify(body)
