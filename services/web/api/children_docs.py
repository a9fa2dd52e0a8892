"""What the OpenAPI document says about the children endpoints (issue 11)."""

from __future__ import annotations

from typing import Any

from services.web.api.openapi import Operation
from services.web.api.schemas import INTEGER, STRING, Schema, array_of, closed, nullable, ref

_BODY_ERRORS = (400, 413, 415, 422)
CHILD_ROLE: Schema = {"enum": ["pictured", "shared", "received", "disclosed"]}

COUNT: Schema = {
    "oneOf": [{"type": "integer", "minimum": 0}, {"const": "<5"}],
    "description": 'A count; in a trust-wide view 1 to 4 are shown as "<5".',
}

CHILDREN_SCHEMAS: dict[str, Schema] = {
    "ReportSummary": closed(
        {
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "schools": array_of(INTEGER),
            "trust_wide": {"type": "boolean"},
            "incidents": COUNT,
            "by_route": {
                "type": "object",
                "description": "referral, in_house, undecided.",
                "additionalProperties": COUNT,
            },
            "by_criterion": {"type": "object", "additionalProperties": COUNT},
            "outcome_21": COUNT,
            "review_hours_median": nullable("number"),
            "review_hours_p90": nullable("number"),
            "reviews_within_one_school_day": COUNT,
            "overdue_tasks": COUNT,
        }
    ),
    "NameChildRequest": {
        "oneOf": [
            closed(
                {
                    "name": STRING,
                    "date_of_birth": nullable("string", format="date"),
                    "year_group": nullable("string"),
                    "role": CHILD_ROLE,
                },
                optional=("date_of_birth", "year_group"),
            ),
            closed({"child_id": INTEGER, "role": CHILD_ROLE}),
        ],
        "description": "A new child (name, ...) or one the school knows (child_id).",
    },
    "ChildNamed": closed(
        {
            "child_id": INTEGER,
            "created": {"type": "boolean", "description": "A new child record was made."},
        }
    ),
    "Child": closed(
        {
            "id": INTEGER,
            "name": STRING,
            "date_of_birth": nullable("string", format="date"),
            "year_group": nullable("string"),
            "confirmed": {"type": "boolean", "description": "A DSL has confirmed the child."},
            "roles": array_of(CHILD_ROLE),
        }
    ),
    "IncidentPeople": closed(
        {
            "incident_id": STRING,
            "children": array_of(ref("Child")),
            "parties": array_of(closed({"id": INTEGER, "description": STRING, "kind": STRING})),
        }
    ),
    "SubjectAccessExport": closed(
        {
            "generated_at": {"type": "string", "format": "date-time"},
            "child": closed(
                {
                    "name": STRING,
                    "date_of_birth": nullable("string", format="date"),
                    "year_group": nullable("string"),
                }
            ),
            "incidents": array_of(
                closed(
                    {
                        "reference": STRING,
                        "reported_at": {"type": "string", "format": "date-time"},
                        "status": STRING,
                        "closed_at": nullable("string", format="date-time"),
                        "role_of_the_child": array_of(CHILD_ROLE),
                        "steps": array_of(
                            closed(
                                {
                                    "step": STRING,
                                    "kind": STRING,
                                    "recorded_at": {"type": "string", "format": "date-time"},
                                    "answers": {"type": "object"},
                                    "reason": nullable("string"),
                                }
                            )
                        ),
                    }
                )
            ),
            "chronology": array_of(
                closed(
                    {
                        "at": {"type": "string", "format": "date-time"},
                        "incident_reference": nullable("string"),
                        "what": STRING,
                        "decided": STRING,
                    }
                )
            ),
            "file_transfers": array_of(
                closed(
                    {
                        "to_school": STRING,
                        "method": STRING,
                        "sent_at": {"type": "string", "format": "date-time"},
                        "receipt_confirmed_at": nullable("string", format="date-time"),
                    }
                )
            ),
            "withheld": array_of(closed({"what": STRING, "where": STRING, "why": STRING})),
        }
    ),
    "Chronology": closed(
        {
            "child": ref("Child"),
            "entries": array_of(
                closed(
                    {
                        "incident_id": nullable("string"),
                        "reference": nullable("string"),
                        "at": {"type": "string", "format": "date-time"},
                        "what": STRING,
                        "decided": STRING,
                    }
                )
            ),
        }
    ),
}


def _query(name: str, description: str, **schema: Any) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


CHILDREN_OPERATIONS: dict[str, Operation] = {
    "api.report_summary": Operation(
        summary="Report summary",
        description=(
            "The dashboard's headline numbers for incidents reported from `from` to `to` "
            "(default: the last 12 months). DSL, headteacher and auditor; without `school`, "
            "every school where the caller holds one of those roles (trust-wide: counts "
            'below 5 are "<5"). Every read is audited.'
        ),
        success=200,
        response="ReportSummary",
        parameters=(
            _query("from", "First day (YYYY-MM-DD).", type="string", format="date"),
            _query("to", "Last day (YYYY-MM-DD).", type="string", format="date"),
            _query("school", "A school's id.", type="integer", minimum=1),
        ),
        errors=(401, 403, 404, 422),
    ),
    "api.name_child": Operation(
        summary="Name a child in an incident",
        description=(
            "Record a child and their role (pictured, shared, received, disclosed). Anyone who "
            "may see the incident but auditors may name a new child; a DSL's new child is "
            "confirmed at once and refused with 409 if the school already knows them (link "
            "with child_id instead, DSL or headteacher). Names never reach notifications."
        ),
        success=201,
        response="ChildNamed",
        request="NameChildRequest",
        errors=(401, 403, 404, 409, *_BODY_ERRORS),
    ),
    "api.incident_children": Operation(
        summary="The children of an incident",
        description="The children and adults recorded in an incident. The read is audited.",
        success=200,
        response="IncidentPeople",
        errors=(401, 403, 404, 422),
    ),
    "api.subject_access_export": Operation(
        summary="Subject access export of a child's records",
        description=(
            "Everything recorded about the child, with every other child's name, the adults "
            "named as parties and staff names replaced in every field ([another child], "
            "[third party], [member of staff]); `withheld` lists what was withheld, where and "
            "why. DSL and headteacher of the child's school. Every export is audited."
        ),
        success=200,
        response="SubjectAccessExport",
        errors=(401, 403, 404, 422),
    ),
    "api.chronology": Operation(
        summary="A child's chronology",
        description=(
            "Every incident and significant event about the child, oldest first, with what "
            "was decided. DSL and headteacher of the child's school only (403 for others in "
            "the school, 404 outside it). Every read is audited."
        ),
        success=200,
        response="Chronology",
        errors=(401, 403, 404, 422),
    ),
}
