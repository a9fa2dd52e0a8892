"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of what the API reads and writes.

They describe exactly what render.py produces and views.py accepts: objects are closed
(`additionalProperties: false`), so a field added in one place and not the other fails the tests.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def closed(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these properties (all required but the optional ones)."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def nullable(kind: str, **more: Any) -> Schema:
    """A value of this JSON type, or null."""
    return {"type": [kind, "null"], **more}


def array_of(item: Schema) -> Schema:
    """A JSON array of items of this schema."""
    return {"type": "array", "items": item}


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
NULLABLE_TIME: Schema = nullable("string", format="date-time")
ANY_OBJECT: Schema = {"type": "object"}

FIELD_VALUES: Schema = {
    "type": "object",
    "description": (
        "The form's answers by field id. Types by field type: string -> string, long -> integer, "
        'boolean -> true/false, enum -> an option id, date -> "YYYY-MM-DD". Unknown field ids, '
        "missing required fields and invalid values are refused with 422, per field."
    ),
    "additionalProperties": True,
}

COMPONENT_SCHEMAS: dict[str, Schema] = {
    "Error": closed(
        {
            "error": closed(
                {
                    "code": {
                        "type": "string",
                        "description": (
                            "A stable, machine-readable code: unauthorized, forbidden, "
                            "break_glass_reason_required, not_found, method_not_allowed, "
                            "incident_changed, task_no_longer_ready, task_claimed, conflict, "
                            "process_not_startable, payload_too_large, unsupported_media_type, "
                            "malformed_json, invalid_request, invalid_data, imagery_refused, "
                            "internal_error."
                        ),
                    },
                    "message": {"type": "string", "description": "Says what is wrong, and where."},
                    "fields": {
                        "type": "object",
                        "description": "Messages per field or body key (empty if none applies).",
                        "additionalProperties": array_of(STRING),
                    },
                    "position": closed(
                        {"line": INTEGER, "column": INTEGER, "offset": INTEGER},
                        optional=("line", "column"),
                    ),
                },
                optional=("position",),
            )
        }
    ),
    "EnumOption": closed({"id": STRING, "label": STRING}),
    "FormField": closed(
        {
            "id": {"type": "string", "description": "The key of this field's value in `values`."},
            "type": {"enum": ["string", "long", "boolean", "enum", "date", "document"]},
            "label": STRING,
            "help": STRING,
            "required": BOOLEAN,
            "required_if": {
                "oneOf": [
                    {"type": "null"},
                    closed({"field": STRING, "value": STRING}),
                ],
                "description": "Required when the other field holds this value.",
            },
            "min": nullable("integer"),
            "max": nullable("integer"),
            "min_length": nullable("integer"),
            "max_length": nullable("integer"),
            "options": array_of(ref("EnumOption")),
            "default": nullable("string"),
            "multiline": BOOLEAN,
            "is_decision": {
                "type": "boolean",
                "description": "A recorded decision; a required_if field holds its reason.",
            },
        }
    ),
    "Form": closed({"key": STRING, "fields": array_of(ref("FormField"))}),
    "ReadyTask": closed(
        {
            "id": STRING,
            "bpmn_id": STRING,
            "name": STRING,
            "role": {"type": "string", "description": "The role (lane) that owns the task."},
            "candidate_groups": array_of(STRING),
            "assignee_id": nullable("integer"),
            "due_at": NULLABLE_TIME,
            "overdue": BOOLEAN,
            "can_complete": {"type": "boolean", "description": "May the caller complete it?"},
            "guidance": STRING,
            "form": ref("Form"),
        }
    ),
    "CompletedStep": closed(
        {
            "id": STRING,
            "bpmn_id": STRING,
            "name": STRING,
            "role": STRING,
            "completed_at": NULLABLE_TIME,
            "completed_by": nullable("string", description="The user id, as the engine noted it."),
            "answers": ANY_OBJECT,
        }
    ),
    "AuditEntry": closed(
        {
            "id": INTEGER,
            "occurred_at": TIME,
            "actor_id": nullable("integer"),
            "action": STRING,
            "target": STRING,
            "reason": nullable("string"),
            "old_values": nullable("object"),
            "new_values": nullable("object"),
        }
    ),
    "Incident": closed(
        {
            "id": STRING,
            "reference": STRING,
            "status": {"enum": ["open", "closed", "failed"]},
            "version": {
                "type": "integer",
                "description": "Send as expected_incident_version when completing a task.",
            },
            "school": closed({"id": INTEGER, "name": STRING}),
            "process_name": STRING,
            "created_at": TIME,
            "created_by": nullable("integer"),
            "closed_at": NULLABLE_TIME,
            "access_via": {"enum": ["role", "assignment", "break_glass"]},
            "ready_tasks": array_of(ref("ReadyTask")),
            "completed_steps": array_of(ref("CompletedStep")),
            "audit": array_of(ref("AuditEntry")),
            "audit_next_after": nullable(
                "integer", description="Pass as ?audit_after= for the next page; null: no more."
            ),
            "review_date": nullable(
                "string",
                format="date",
                description="Retention review: youngest child's birth + 25 years (per school).",
            ),
        }
    ),
    "InboxTask": closed(
        {
            "id": STRING,
            "incident_id": STRING,
            "reference": STRING,
            "bpmn_id": STRING,
            "name": STRING,
            "role": STRING,
            "assignee_id": nullable("integer"),
            "due_at": NULLABLE_TIME,
            "overdue": BOOLEAN,
            "created_at": TIME,
        }
    ),
    "InboxPage": closed(
        {
            "school_id": INTEGER,
            "limit": INTEGER,
            "offset": INTEGER,
            "next_offset": nullable("integer"),
            "tasks": array_of(ref("InboxTask")),
        }
    ),
    "NewTask": closed(
        {
            "id": STRING,
            "bpmn_id": STRING,
            "role": STRING,
            "candidate_groups": array_of(STRING),
            "due_at": NULLABLE_TIME,
        }
    ),
    "Outcome": closed(
        {
            "incident": closed(
                {
                    "id": STRING,
                    "reference": STRING,
                    "version": INTEGER,
                    "status": {"enum": ["open", "closed"]},
                }
            ),
            "new_tasks": {
                **array_of(ref("NewTask")),
                "description": (
                    "Tasks that became ready: all of them for people who read records (DSL, "
                    "headteacher, auditor), else only those the caller could do themselves."
                ),
            },
            "task": closed({"id": STRING, "assignee_id": nullable("integer")}),
        },
        optional=("task",),
    ),
    "StartIncidentRequest": closed({"school_id": INTEGER, "values": FIELD_VALUES}),
    "CompleteTaskRequest": closed(
        {
            "values": FIELD_VALUES,
            "expected_incident_version": nullable(
                "integer",
                description="The incident's version the form was filled in at: 409 if it moved.",
            ),
        },
        optional=("expected_incident_version",),
    ),
    "AssignTaskRequest": closed(
        {
            "assignee_id": nullable("integer", description="null hands the task back to its role."),
            "reason": {"type": "string", "description": "Why (e.g. an absence); required."},
        }
    ),
    "EmptyRequest": {"type": "object", "maxProperties": 0},
}
