"""API endpoints for case work: the incidents list, one incident's history, the record PDF."""

from __future__ import annotations

from flask import Response, jsonify, request

from services.domain.history_queries import ListCases, fingerprint, full_trail, list_incidents
from services.domain.queries import ViewIncident
from services.web.api import case_docs as _case_docs  # noqa: F401  # describes these routes
from services.web.api.blueprint import bp
from services.web.api.context import api_user, message_bus
from services.web.api.errors import ApiError
from services.web.api.openapi import BREAK_GLASS_HEADER
from services.web.api.parsing import MAX_INTEGER, check_query, optional_query_int, query_int
from services.web.cases.exports import csv_response
from services.web.cases.filters import parse_filter
from services.web.cases.history_lines import (
    access_lines,
    element_names,
    task_names,
    timeline_lines,
)
from services.web.cases.history_views import (
    ACCESS_HEADER,
    TIMELINE_HEADER,
    _event_json,
    _view_json,
    record_pdf_response,
    require_whole_record,
)
from services.web.cases.presenter import CSV_HEADER, case_json, csv_rows
from services.web.cases.views import text_key
from services.web.incidents.reads import IncidentPage, incident_page

LIST_KEYS = frozenset(
    {
        "school",
        "status",
        "q",
        "route",
        "criterion",
        "overdue",
        "assigned",
        "from",
        "to",
        "version",
        "sort",
        "limit",
        "offset",
        "format",
    }
)
MAX_LIMIT = 200
EXPORT_LIMIT = 10_000


@bp.get("/incidents")
def list_incidents_api() -> Response:
    """One page of the incidents the caller may see in a school (audited; words hashed)."""
    args = request.args
    check_query(args, LIST_KEYS)
    user = api_user()
    school_id = optional_query_int(args, "school", low=1, high=MAX_INTEGER)
    if school_id is None:
        if len(user.schools) != 1:
            message = "is required: you belong to several schools (or none); pass ?school=<id>"
            raise ApiError(422, "invalid_request", f"school {message}", {"school": [message]})
        school_id = user.schools[0].school_id
    parsed = parse_filter(args, user.id)
    export = args.get("format") or "json"
    if export not in ("json", "csv"):
        parsed.errors.setdefault("format", []).append("must be json or csv")
    if parsed.errors:
        first = next(iter(parsed.errors))
        raise ApiError(422, "invalid_request", f"{first} {parsed.errors[first][0]}", parsed.errors)
    limit = query_int(args, "limit", default=50, low=1, high=MAX_LIMIT)
    offset = query_int(args, "offset", default=0, low=0, high=100_000)
    text_hash = fingerprint(text_key(), parsed.case.text) if parsed.case.text else None
    deps = message_bus().dependencies
    if export == "csv":
        page = list_incidents(
            ListCases(
                user.id,
                school_id,
                parsed.case,
                EXPORT_LIMIT,
                0,
                text_hash,
                "export",
                {"format": "csv"},
            ),
            deps,
        )
        return csv_response(CSV_HEADER, csv_rows(page), f"incidents-{school_id}.csv")
    page = list_incidents(
        ListCases(user.id, school_id, parsed.case, limit + 1, offset, text_hash), deps
    )
    rows = page.rows[:limit]
    return jsonify(
        {
            "school_id": school_id,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if len(page.rows) > limit else None,
            "incidents": [case_json(row, page) for row in rows],
        }
    )


@bp.get("/incidents/<incident_id>/history")
def incident_history_api(incident_id: str) -> Response:
    """One incident's timeline and access log (opening it is audited, the export too)."""
    check_query(request.args, frozenset({"format", "view"}))
    export = request.args.get("format") or "json"
    which = request.args.get("view") or "timeline"
    if export not in ("json", "csv") or which not in ("timeline", "access"):
        field = "format" if export not in ("json", "csv") else "view"
        message = "must be json or csv" if field == "format" else "must be timeline or access"
        raise ApiError(422, "invalid_request", f"{field} {message}", {field: [message]})
    user = api_user()
    deps = message_bus().dependencies
    page = incident_page(IncidentPage(ViewIncident(incident_id, user.id, _reason())), deps)
    require_whole_record(page)  # the history as a download holds every step's trail
    entries = full_trail(deps, incident_id, {step.id for step in page.view.completed_steps})
    events = timeline_lines(page, entries, task_names(page, element_names(deps, incident_id)))
    views = access_lines(page, entries)
    from services.domain.history_queries import record_export

    record_export(
        deps,
        incident_id,
        page.view.school_id,
        user.id,
        f"history.{export}",
        {"view": which, "via": "api"},
    )
    if export == "csv":
        name = f"{page.view.reference}-{'access-log' if which == 'access' else 'history'}.csv"
        if which == "access":
            rows = [[v.first, v.last, v.who, v.how, v.count, v.reason] for v in views]
            return csv_response(ACCESS_HEADER, rows, name)
        return csv_response(
            TIMELINE_HEADER,
            [
                [
                    e.at,
                    e.who,
                    e.kind_words,
                    e.what,
                    "; ".join(f"{d.question} {d.answer}" for d in e.decisions),
                    e.reason,
                ]
                for e in events
            ],
            name,
        )
    return jsonify(
        {
            "incident": {"id": incident_id, "reference": page.view.reference},
            "timeline": [_event_json(e) for e in events],
            "access_log": [_view_json(v) for v in views],
        }
    )


@bp.get("/incidents/<incident_id>/record.pdf")
def incident_record_pdf_api(incident_id: str) -> Response:
    """The incident's record as a PDF as it stands now (opening and download audited)."""
    check_query(request.args, frozenset())
    user = api_user()
    deps = message_bus().dependencies
    page = incident_page(
        IncidentPage(ViewIncident(incident_id, user.id, _reason(), audit_limit=1)), deps
    )
    require_whole_record(page)
    return record_pdf_response(incident_id, page.view.reference, page.view.school_id, user.id)


def _reason() -> str | None:
    value = request.headers.get(BREAK_GLASS_HEADER)
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value
