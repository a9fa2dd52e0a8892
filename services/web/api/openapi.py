"""The OpenAPI 3.1 document of the API, built from the blueprint's routes and schemas.py.

Every route of the blueprint must have an entry in OPERATIONS: building the document fails,
naming the endpoint, when one is missing, so the description cannot fall behind the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from werkzeug.routing import Map

from services.web.api.schemas import COMPONENT_SCHEMAS, Schema, ref

DOCUMENT_KEY = "safeguard.api.openapi"
API_VERSION = "1.0.0"
BREAK_GLASS_HEADER = "X-Break-Glass-Reason"
_CONVERTED = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([A-Za-z_][A-Za-z0-9_]*)>")

_ERRORS = {
    400: "Malformed JSON (the message and `position` say where).",
    401: "No bearer token, or an unknown or revoked one.",
    403: "The caller may know the record exists but may not do this.",
    404: "No such record, or one outside the caller's need to know.",
    409: "The task or incident moved on (completed, claimed, or a newer version).",
    413: "The body is larger than the API accepts (256 KiB).",
    415: "The body is not application/json.",
    422: "The request or the form's answers are invalid: `fields` names each problem.",
}
_BODY_ERRORS = (400, 413, 415, 422)


@dataclass(frozen=True)
class Operation:
    """What the document says about one endpoint."""

    summary: str
    description: str
    success: int
    response: str  # component schema name
    request: str | None = None  # component schema name of the JSON body
    body_optional: bool = False
    parameters: tuple[Schema, ...] = ()
    errors: tuple[int, ...] = (401, 404)
    public: bool = False
    headers: dict[str, Schema] = field(default_factory=dict)
    media_type: str = "application/json"  # of the success response
    also: tuple[str, ...] = ()  # other media types the success response may take (?format=)


def _query(name: str, description: str, **schema: Any) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", **schema},
    }


OPERATIONS: dict[str, Operation] = {
    "api.openapi_document": Operation(
        summary="This document",
        description="The OpenAPI 3.1 description of the API. Needs no token.",
        success=200,
        response="",
        errors=(),
        public=True,
    ),
    "api.start_incident": Operation(
        summary="Report a concern",
        description=(
            "Open an incident in a school with the answers to its disclosure form "
            "(record_disclosure). Any role but auditor; another school's id gives 404."
        ),
        success=201,
        response="Outcome",
        request="StartIncidentRequest",
        errors=(401, 403, 404, 409, *_BODY_ERRORS),
        headers={"Location": {"description": "The new incident.", "schema": {"type": "string"}}},
    ),
    "api.get_incident": Operation(
        summary="Open an incident",
        description=(
            "The incident's status, ready tasks with their forms, the route so far with its "
            "answers, and one page of its audit trail. Every read is audited. DSL, headteacher "
            "and auditor see their school's incidents; people assigned to its tasks see it too; "
            "anyone else in the school gets 403 break_glass_reason_required unless they send "
            f"the {BREAK_GLASS_HEADER} header (the reason is logged and reported). Another "
            "school's incident, or one the caller is excluded from, is 404."
        ),
        success=200,
        response="Incident",
        parameters=(
            {
                "name": BREAK_GLASS_HEADER,
                "in": "header",
                "required": False,
                "description": "Why you open a record outside your need to know (UTF-8; logged).",
                "schema": {"type": "string"},
            },
            _query("audit_after", "The audit entry id to page after.", minimum=0),
            _query("audit_limit", "Audit entries per page.", minimum=1, maximum=200, default=50),
        ),
        errors=(401, 403, 404, 422),
    ),
    "api.inbox": Operation(
        summary="My inbox",
        description=(
            "Ready tasks the caller can act on in one school: those assigned to them and their "
            "roles' unclaimed ones, most overdue first. `school` may be left out by people "
            "who belong to one school only."
        ),
        success=200,
        response="InboxPage",
        parameters=(
            _query("school", "The school's id.", minimum=1),
            _query("limit", "Tasks per page.", minimum=1, maximum=200, default=50),
            _query("offset", "Tasks to skip.", minimum=0, maximum=100_000, default=0),
        ),
        errors=(401, 404, 422),
    ),
    "api.complete_task": Operation(
        summary="Complete a task",
        description=(
            "Submit the task's form. The answers are checked exactly as the HTML form checks "
            "them (422 names each bad field). 409 when the task was completed or cancelled "
            "meanwhile, or the incident's version is not expected_incident_version; nothing "
            "is written then."
        ),
        success=200,
        response="Outcome",
        request="CompleteTaskRequest",
        errors=(401, 403, 404, 409, *_BODY_ERRORS),
    ),
    "api.claim_task": Operation(
        summary="Claim a task",
        description="Take a ready task for oneself (who may: as for completing it).",
        success=200,
        response="Outcome",
        request="EmptyRequest",
        body_optional=True,
        errors=(401, 403, 404, 409, *_BODY_ERRORS),
    ),
    "api.unclaim_task": Operation(
        summary="Unclaim a task",
        description="Hand a task one claimed back to its role (only the claimer may).",
        success=200,
        response="Outcome",
        request="EmptyRequest",
        body_optional=True,
        errors=(401, 403, 404, 409, *_BODY_ERRORS),
    ),
    "api.assign_task": Operation(
        summary="Reassign a task",
        description=(
            "A DSL or the headteacher gives a task to someone holding its role, or back to "
            "the role (assignee_id null), with a reason (422 without one)."
        ),
        success=200,
        response="Outcome",
        request="AssignTaskRequest",
        errors=(401, 403, 404, 409, *_BODY_ERRORS),
    ),
}


def describe(operations: dict[str, Operation], schemas: dict[str, Schema]) -> None:
    """Add an area's endpoints and schemas to the document (its views module calls this)."""
    OPERATIONS.update(operations)
    COMPONENT_SCHEMAS.update(schemas)


def openapi_path(rule: str, prefix: str = "") -> str:
    """A Werkzeug rule (`/tasks/<task_id>/claim`) as an OpenAPI path (`/tasks/{task_id}/claim`).

    Paths are relative to the server URL, so `prefix` (the blueprint's /api/v1) is cut off.
    """
    if prefix and rule.startswith(prefix):
        rule = rule[len(prefix) :] or "/"
    return _CONVERTED.sub(r"{\1}", rule)


def build_document(url_map: Map, blueprint: str = "api", prefix: str = "") -> dict[str, Any]:
    """The OpenAPI document for the blueprint's routes in `url_map`, paths under `prefix`."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith(blueprint + "."):
            continue
        operation = OPERATIONS.get(rule.endpoint)
        if operation is None:
            raise LookupError(f"{rule.endpoint} ({rule.rule}) is not described in OPERATIONS")
        path = paths.setdefault(openapi_path(rule.rule, prefix), {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            path[method.lower()] = _operation_object(rule.endpoint, operation, rule.arguments)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Safeguard Flow API",
            "version": API_VERSION,
            "description": (
                "Report concerns and work through incident tasks. Authenticate every request "
                "with `Authorization: Bearer <token>` (from `safeguard token`); cookies are not "
                'accepted. Errors are JSON: {"error": {code, message, fields}}.'
            ),
        },
        "servers": [{"url": prefix or "/"}],
        "security": [{"bearerToken": []}],
        "paths": paths,
        "components": {
            "schemas": COMPONENT_SCHEMAS,
            "securitySchemes": {"bearerToken": {"type": "http", "scheme": "bearer"}},
        },
    }


def cached_document() -> dict[str, Any]:
    """The current app's document, built once."""
    document = current_app.extensions.get(DOCUMENT_KEY)
    if document is None:
        prefix = current_app.blueprints["api"].url_prefix or ""
        document = build_document(current_app.url_map, "api", prefix)
        current_app.extensions[DOCUMENT_KEY] = document
    return dict(document)


def _operation_object(endpoint: str, operation: Operation, arguments: set[str]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": endpoint.partition(".")[2],
        "summary": operation.summary,
        "description": operation.description,
        "parameters": [_path_parameter(name) for name in sorted(arguments)]
        + list(operation.parameters),
        "responses": _responses(operation),
    }
    if operation.public:
        result["security"] = []
    if operation.request:
        result["requestBody"] = {
            "required": not operation.body_optional,
            "content": {"application/json": {"schema": ref(operation.request)}},
        }
    return result


def _path_parameter(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _responses(operation: Operation) -> dict[str, Any]:
    schema = ref(operation.response) if operation.response else {"type": "object"}
    if operation.media_type != "application/json":
        schema = {"type": "string", "format": "binary"}
    content = {operation.media_type: {"schema": schema}}
    content.update({media: {"schema": {"type": "string"}} for media in operation.also})
    success: dict[str, Any] = {"description": operation.summary, "content": content}
    if operation.headers:
        success["headers"] = operation.headers
    responses: dict[str, Any] = {str(operation.success): success}
    for status in (*operation.errors, 500):
        responses[str(status)] = {
            "description": _ERRORS.get(status, "The service failed (logged)."),
            "content": {"application/json": {"schema": ref("Error")}},
        }
    return responses
