"""The OpenAPI description of the case-work endpoints (issue 10), added with describe()."""

from __future__ import annotations

from typing import Any

from services.domain.dependencies import Dependencies
from services.domain.history_path import incident_path, path_shown
from services.domain.read_models import IncidentView
from services.web.api.openapi import BREAK_GLASS_HEADER, Operation, describe
from services.web.api.schemas import (
    BOOLEAN,
    COMPONENT_SCHEMAS,
    INTEGER,
    NULLABLE_TIME,
    STRING,
    TIME,
    Schema,
    array_of,
    closed,
    nullable,
    ref,
)


def _query(name: str, description: str, kind: str = "string", **schema: Any) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": kind, **schema},
    }


SCHEMAS: dict[str, Schema] = {
    "IncidentListItem": closed(
        {
            "id": STRING,
            "reference": STRING,
            "status": STRING,
            "created_at": TIME,
            "closed_at": NULLABLE_TIME,
            # null: withheld, its steps' readers leave the caller out (need-to-know).
            "route": nullable(
                "string", enum=["immediate", "in_house", "referral", "undecided", None]
            ),
            "route_words": STRING,
            "immediate_referral": nullable("boolean"),
            "referral_criteria": array_of(closed({"id": STRING, "label": STRING})),
            "classification": nullable("string"),
            "classification_words": nullable("string"),
            "process_version": INTEGER,
            "definition_version_id": INTEGER,
            "overdue": BOOLEAN,
            "open_tasks": INTEGER,
        }
    ),
    "IncidentList": closed(
        {
            "school_id": INTEGER,
            "limit": INTEGER,
            "offset": INTEGER,
            "next_offset": nullable("integer", description="Pass as ?offset=; null: no more."),
            "incidents": array_of(ref("IncidentListItem")),
        }
    ),
    "HistoryDecision": closed({"question": STRING, "answer": STRING, "reason": nullable("string")}),
    "TimelineEvent": closed(
        {
            "id": INTEGER,
            "at": TIME,
            "kind": STRING,
            "who": STRING,
            "actor_id": nullable("integer"),
            "what": STRING,
            "reason": nullable("string"),
            "decisions": array_of(ref("HistoryDecision")),
        }
    ),
    "AccessLine": closed(
        {
            "first_at": TIME,
            "last_at": TIME,
            "who": STRING,
            "actor_id": nullable("integer"),
            "how": STRING,
            "views": INTEGER,
            "break_glass_reason": nullable("string"),
        }
    ),
    "IncidentHistory": closed(
        {
            "incident": closed({"id": STRING, "reference": STRING}),
            "timeline": array_of(ref("TimelineEvent")),
            "access_log": array_of(ref("AccessLine")),
        }
    ),
}

OPERATIONS: dict[str, Operation] = {
    "api.list_incidents_api": Operation(
        summary="Find incidents",
        description=(
            "One page of the incidents the caller may see in a school, exactly as the incident "
            "page decides (DSL, headteacher, auditor: all; others: those they reported or work "
            "on; never one they are excluded from). `q` matches a reference or words in answers "
            "the caller may read. Every call is audited; the words searched are stored only as "
            "their length and a keyed hash. `format=csv` downloads the whole filtered list (up "
            "to 10,000 rows)."
        ),
        success=200,
        response="IncidentList",
        also=("text/csv",),
        parameters=(
            _query("school", "The school's id (optional for members of one school).", "integer"),
            _query("status", "Open or closed.", enum=["open", "closed"]),
            _query("q", "A reference, or words in answers you may read.", maxLength=200),
            _query(
                "route",
                "Route taken (immediate, in_house, referral, undecided); "
                "`immediate:<criterion>` narrows to one criterion.",
            ),
            _query("criterion", "An immediate-referral criterion id that held."),
            _query("overdue", "Only incidents with an overdue task.", enum=["true", "false"]),
            _query("assigned", "Only incidents with a task of mine.", enum=["true", "false"]),
            _query("from", "Reported on or after this day (UK).", format="date"),
            _query("to", "Reported on or before this day (UK).", format="date"),
            _query("version", "A process version id.", "integer", minimum=1),
            _query("sort", "Order.", enum=["newest", "oldest", "reference", "closed"]),
            _query("limit", "Incidents per page.", "integer", minimum=1, maximum=200, default=50),
            _query("offset", "Incidents to skip.", "integer", minimum=0, maximum=100_000),
            _query("format", "json (default) or csv.", enum=["json", "csv"]),
        ),
        errors=(401, 404, 422),
    ),
    "api.incident_history_api": Operation(
        summary="An incident's history",
        description=(
            "The activity timeline (each event credited to a person, the system or the timer; "
            "decisions with their reasons) and the access log (views by one person within 10 "
            "minutes as one line with a count). Opening it and the export are audited; "
            f"break-glass as for the incident ({BREAK_GLASS_HEADER})."
        ),
        success=200,
        response="IncidentHistory",
        also=("text/csv",),
        parameters=(
            _query("format", "json (default) or csv.", enum=["json", "csv"]),
            _query("view", "For CSV: timeline (default) or access.", enum=["timeline", "access"]),
        ),
        errors=(401, 403, 404, 422),
    ),
    "api.incident_record_pdf_api": Operation(
        summary="The record PDF",
        description=(
            "The incident's record for the child protection file, rendered now: summary, "
            "decisions with their reasons, steps, timeline and access log. Audited."
        ),
        success=200,
        response="",
        media_type="application/pdf",
        errors=(401, 403, 404, 422),
    ),
}

describe(OPERATIONS, SCHEMAS)


def _incident_with_path() -> Schema:
    # The incident JSON gains where it is in its process (issue 10).
    base = COMPONENT_SCHEMAS["Incident"]
    properties = {
        **base["properties"],
        "path_taken": array_of(STRING),
        "next_possible": array_of(STRING),
    }
    return {
        **base,
        "properties": properties,
        "required": [*base["required"], "path_taken", "next_possible"],
    }


describe({}, {"Incident": _incident_with_path()})


def path_json(deps: Dependencies, view: IncidentView) -> dict[str, list[str]]:
    """`path_taken` (element and flow ids in order) and `next_possible` (task ids).

    Without the route when its steps are not the caller's (history_path.path_shown).
    """
    path = path_shown(incident_path(deps, view.id), view)
    return {"path_taken": list(path.path_taken), "next_possible": list(path.next_possible)}
