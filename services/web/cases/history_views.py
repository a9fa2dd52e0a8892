"""Case history pages: the timeline, the access log, field history, downloads, the diagram."""

from __future__ import annotations

from flask import Response, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from services.domain.errors import AccessDenied
from services.domain.history_queries import diagram_source, full_trail, record_export
from services.web.auth.identity import current_user, login_required
from services.web.cases.blueprint import bp
from services.web.cases.exports import csv_response, json_response
from services.web.cases.field_history import field_changes
from services.web.cases.history_lines import (
    AccessWords,
    TimelineLine,
    access_lines,
    element_names,
    task_names,
    timeline_lines,
)
from services.web.extensions import runtime
from services.web.incidents.case_views import break_glass_reasons, open_incident
from services.web.incidents.reads import IncidentPageData
from services.workers.pdf_layout import record_pdf
from services.workers.record import read_record

Page = WerkzeugResponse | tuple[str, int] | str


def require_record_reader(page: IncidentPageData) -> None:
    """The history is the record's: the reporter and assignees do not read it (need-to-know)."""
    if not page.view.reads_record:
        raise AccessDenied(
            f"incident {page.view.reference}: the history is read by the DSL team, the "
            "headteacher and auditors"
        )


def require_whole_record(page: IncidentPageData) -> None:
    """Exports and the PDF hold every step: only for someone who may read every step."""
    if not page.view.reads_every_step:
        raise AccessDenied(
            f"incident {page.view.reference}: downloads hold the whole record, and some of "
            "its steps are not yours to read"
        )


TIMELINE_HEADER = ("When", "Who", "Kind", "What", "Decisions", "Reason")
ACCESS_HEADER = ("First view", "Last view", "Who", "How", "Views", "Break-glass reason")


@bp.get("/incidents/<id:incident_id>/history")
@login_required
def history(incident_id: str) -> Page:
    """The whole history of one incident: timeline and access log, filtered, downloadable."""
    page = open_incident(incident_id)  # access-checked and logged, as the incident page
    require_record_reader(page)
    readable = {step.id for step in page.view.completed_steps}
    deps = runtime().bus.dependencies
    entries = full_trail(deps, incident_id, readable)
    events = timeline_lines(page, entries, task_names(page, element_names(deps, incident_id)))
    views = access_lines(page, entries)
    kind = request.args.get("kind") or ""
    person = request.args.get("person", type=int)
    shown_events = [e for e in events if (not kind or e.kind == kind)]
    shown_views = views
    if person is not None:
        shown_events = [e for e in shown_events if e.actor_id == person]
        shown_views = [v for v in views if v.actor_id == person]
    export = request.args.get("format")
    if export in ("csv", "json"):
        require_whole_record(page)
        return _export(
            page.view.id,
            page.view.school_id,
            page.view.reference,
            export,
            request.args.get("view", "timeline"),
            shown_events,
            shown_views,
        )
    if export:
        return render_template(
            "cases/history.html",
            **_context(page, [], [], [], kind, person),
            error="Format must be csv or json",
        ), 422
    return render_template(
        "cases/history.html",
        **_context(page, shown_events, shown_views, field_changes(page, incident_id), kind, person),
        error=None,
    )


def _context(page, events, views, changes, kind, person) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from services.domain.history import KINDS

    people = sorted(
        {(e.actor_id, e.who) for e in events if e.actor_id is not None}
        | {(v.actor_id, v.who) for v in views if v.actor_id is not None},
        key=lambda p: p[1],
    )
    return {
        "page": page,
        "view": page.view,
        "timeline": events,
        "access": views,
        "changes": changes,
        "kinds": KINDS,
        "kind": kind,
        "person": person,
        "people": people,
        "total_views": sum(v.count for v in views),
    }


def _export(
    incident_id: str,
    school_id: int,
    reference: str,
    export: str,
    which: str,
    events: list[TimelineLine],
    views: list[AccessWords],
) -> Response:
    user = current_user()
    assert user is not None
    record_export(
        runtime().bus.dependencies,
        incident_id,
        school_id,
        user.id,
        f"history.{export}",
        {"view": which, "rows": len(views) if which == "access" else len(events)},
    )
    name = f"{reference}-{'access-log' if which == 'access' else 'history'}.{export}"
    if export == "json":
        return json_response(
            {
                "incident": {"id": incident_id, "reference": reference},
                "timeline": [_event_json(e) for e in events],
                "access_log": [_view_json(v) for v in views],
            },
            name,
        )
    if which == "access":
        rows = [[v.first, v.last, v.who, v.how, v.count, v.reason] for v in views]
        return csv_response(ACCESS_HEADER, rows, name)
    rows = [
        [
            e.at,
            e.who,
            e.kind_words,
            e.what,
            "; ".join(f"{d.question} {d.answer}" for d in e.decisions),
            e.reason,
        ]
        for e in events
    ]
    return csv_response(TIMELINE_HEADER, rows, name)


def _event_json(event: TimelineLine) -> dict[str, object]:
    return {
        "id": event.id,
        "at": event.at_iso,
        "kind": event.kind,
        "who": event.who,
        "actor_id": event.actor_id,
        "what": event.what,
        "reason": event.reason or None,
        "decisions": [
            {"question": d.question, "answer": d.answer, "reason": d.reason or None}
            for d in event.decisions
        ],
    }


def _view_json(view: AccessWords) -> dict[str, object]:
    return {
        "first_at": view.first_iso,
        "last_at": view.last_iso,
        "who": view.who,
        "actor_id": view.actor_id,
        "how": view.how,
        "views": view.count,
        "break_glass_reason": view.reason or None,
    }


@bp.get("/incidents/<id:incident_id>/diagram.bpmn")
@login_required
def diagram(incident_id: str) -> Response:
    """The BPMN of the version the incident runs on (for the read-only viewer)."""
    user = current_user()
    assert user is not None
    content = diagram_source(
        runtime().bus.dependencies, incident_id, user.id, break_glass_reasons().get(incident_id)
    )
    return Response(content, mimetype="application/xml")


def record_pdf_response(
    incident_id: str, reference: str, school_id: int, actor_id: int
) -> Response:
    """Render the record PDF now (timeline and access log included) and audit the download."""
    deps = runtime().bus.dependencies
    content = record_pdf(read_record(deps, incident_id), deps.clock.now())
    record_export(deps, incident_id, school_id, actor_id, "record.pdf", {"bytes": len(content)})
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{reference}-record.pdf"'
    return response


@bp.get("/incidents/<id:incident_id>/record.pdf")
@login_required
def record_pdf_download(incident_id: str) -> Response:
    """The incident's record as a PDF, as it stands now (opening it is logged)."""
    page = open_incident(incident_id)
    require_whole_record(page)
    user = current_user()
    assert user is not None
    return record_pdf_response(incident_id, page.view.reference, page.view.school_id, user.id)
