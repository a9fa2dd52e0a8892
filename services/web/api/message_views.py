"""The API's messages: raise a message an incident's process takes (e.g. a new concern)."""

from __future__ import annotations

from flask import Response, jsonify, request

from services.domain.commands import DeliverMessage
from services.domain.events import TaskCancelled
from services.domain.step_access import sees_task
from services.web.api import render
from services.web.api.blueprint import bp
from services.web.api.context import api_user, message_bus
from services.web.api.errors import ApiError
from services.web.api.openapi import Operation, describe
from services.web.api.parsing import Key, json_body
from services.web.api.schemas import (
    COMPONENT_SCHEMAS,
    FIELD_VALUES,
    STRING,
    array_of,
    closed,
    nullable,
)

MESSAGE_BODY = {
    "values": Key("object", required=True),
    "expected_incident_version": Key("integer", nullable=True),
}
MAX_NAME = 100

_OUTCOME = COMPONENT_SCHEMAS["Outcome"]["properties"]
describe(
    {
        "api.deliver_message": Operation(
            summary="Raise a message on an incident (e.g. a new concern)",
            description=(
                "Deliver a message the incident's process takes, such as `new_concern`: its "
                "values are checked exactly as the form of the message's start event in the "
                "diagram (422 names each bad field). Anyone who can see the incident may raise "
                "it, the reporter included; the DSLs are told at once (no details in the "
                "notice). Steps the message stops are listed in `cancelled_tasks` and the "
                "history records why. 404 for a message the process does not take; 409 when "
                "the incident has ended or its version is not expected_incident_version; "
                "nothing is written then."
            ),
            success=200,
            response="MessageOutcome",
            request="MessageRequest",
            errors=(401, 403, 404, 409, 400, 413, 415, 422),
        )
    },
    {
        "MessageRequest": closed(
            {
                "values": FIELD_VALUES,
                "expected_incident_version": nullable(
                    "integer",
                    description="The incident version the form was read at: 409 if it moved.",
                ),
            },
            optional=("expected_incident_version",),
        ),
        "MessageOutcome": closed(
            {
                "incident": _OUTCOME["incident"],
                "new_tasks": _OUTCOME["new_tasks"],
                "message": STRING,
                "cancelled_tasks": {
                    **array_of(closed({"id": STRING, "bpmn_id": STRING, "role": STRING})),
                    "description": "Tasks the message stopped (the history says why).",
                },
            }
        ),
    },
)


@bp.post("/incidents/<incident_id>/messages/<name>")
def deliver_message(incident_id: str, name: str) -> Response:
    """Raise message `name` with its form's values; 422 names each bad field, 404 an unknown one."""
    if not name.isidentifier() or len(name) > MAX_NAME:
        raise ApiError(404, "not_found", f"message {name[:MAX_NAME]!r} not found")
    body = json_body(request, MESSAGE_BODY)
    command = DeliverMessage(
        incident_id, name, api_user().id, body["values"], body.get("expected_incident_version")
    )
    outcome = message_bus().handle(command)
    roles_in = api_user().roles_in
    result = render.outcome_json(outcome, roles_in)
    result["message"] = name
    # Need-to-know: only tasks the caller may learn of (others' tasks tell the route taken).
    result["cancelled_tasks"] = [
        {"id": e.task_id, "bpmn_id": e.bpmn_id, "role": e.role}
        for e in outcome.of_type(TaskCancelled)
        if sees_task(roles_in(e.school_id), e.role, ())
    ]
    return jsonify(result)
