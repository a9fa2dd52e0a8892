"""The API's children endpoints: name a child in an incident, a child's chronology (issue 11)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, jsonify, request

from services.domain.children.messages import (
    ChildLine,
    Chronology,
    NameChild,
    PeopleOfIncident,
    ReadChronology,
    SubjectAccessExport,
)
from services.web.api.blueprint import bp
from services.web.api.children_docs import CHILDREN_OPERATIONS, CHILDREN_SCHEMAS
from services.web.api.context import api_user, message_bus
from services.web.api.errors import ApiError
from services.web.api.openapi import describe
from services.web.api.parsing import MAX_INTEGER, Key, check_query, json_body

describe(CHILDREN_OPERATIONS, CHILDREN_SCHEMAS)

NAME_CHILD_BODY = {
    "name": Key("string"),
    "date_of_birth": Key("string", nullable=True),
    "year_group": Key("string", nullable=True),
    "child_id": Key("integer", low=1),
    "role": Key("string", required=True),
}


def child_id_in_range(child_id: int) -> int:
    """A child id from the URL; one no column can hold is simply not found."""
    if child_id > MAX_INTEGER:
        raise ApiError(404, "not_found", f"child {child_id} not found")
    return child_id


def parse_date(value: Any, key: str) -> date | None:
    """An ISO date ("YYYY-MM-DD") from a body key, or None; 422 naming the key otherwise."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        message = "must be a date as YYYY-MM-DD"
        raise ApiError(422, "invalid_request", f"{key} {message}", {key: [message]}) from None


@bp.post("/incidents/<incident_id>/children")
def name_child(incident_id: str) -> tuple[Response, int]:
    """Record a child in an incident: a new child, or a known one by child_id."""
    body = json_body(request, NAME_CHILD_BODY)
    has_name, has_id = "name" in body, "child_id" in body
    if has_name == has_id:
        message = "send either name (a new child) or child_id (a child the school knows)"
        raise ApiError(422, "invalid_request", message, {"name": [message], "child_id": [message]})
    if has_id and ({"date_of_birth", "year_group"} & body.keys()):
        message = "is given with name only: a known child keeps their details"
        raise ApiError(422, "invalid_request", f"date_of_birth/year_group {message}")
    command = NameChild(
        incident_id,
        api_user().id,
        body["role"],
        name=body.get("name"),
        date_of_birth=parse_date(body.get("date_of_birth"), "date_of_birth"),
        year_group=body.get("year_group"),
        child_id=body.get("child_id"),
    )
    named = message_bus().handle(command)
    return jsonify({"child_id": named.child_id, "created": named.created}), 201


@bp.get("/incidents/<incident_id>/children")
def incident_children(incident_id: str) -> Response:
    """The children and adults recorded in an incident (the read is logged)."""
    check_query(request.args, frozenset())
    people = message_bus().handle(PeopleOfIncident(incident_id, api_user().id))
    return jsonify(
        {
            "incident_id": people.incident_id,
            "children": [child_json(child) for child in people.children],
            "parties": [
                {"id": p.id, "description": p.description, "kind": p.kind} for p in people.parties
            ],
        }
    )


@bp.get("/children/<int:child_id>/chronology")
def chronology(child_id: int) -> Response:
    """A child's chronology across incidents (DSL and headteacher; every read logged)."""
    check_query(request.args, frozenset())
    found = message_bus().handle(ReadChronology(child_id_in_range(child_id), api_user().id))
    return jsonify(chronology_json(found))


@bp.get("/children/<int:child_id>/subject-access-export")
def subject_access_export(child_id: int) -> Response:
    """One child's records for a subject access request, others redacted (DSL, head; logged)."""
    check_query(request.args, frozenset())
    query = SubjectAccessExport(child_id_in_range(child_id), api_user().id)
    response = jsonify(message_bus().handle(query))
    response.headers["Cache-Control"] = "no-store"
    return response


def child_json(child: ChildLine) -> dict[str, Any]:
    """A child as the API shows them."""
    return {
        "id": child.id,
        "name": child.name,
        "date_of_birth": child.date_of_birth.isoformat() if child.date_of_birth else None,
        "year_group": child.year_group,
        "confirmed": child.confirmed,
        "roles": list(child.roles),
    }


def chronology_json(found: Chronology) -> dict[str, Any]:
    """A chronology as JSON: the child, then the entries oldest first."""
    return {
        "child": child_json(found.child),
        "entries": [
            {
                "incident_id": entry.incident_id,
                "reference": entry.reference,
                "at": entry.at.isoformat(),
                "what": entry.what,
                "decided": entry.decided,
            }
            for entry in found.entries
        ],
    }
