"""The authorisation matrix, generated from the step policy: every role x relationship x route.

Each step of a referred incident (S2: an adult is involved) carries its own marker string in
every free-text answer; the DSL's review also says "Child has an EHCP", the referral the
police and social-care references. For every role and every relationship to the incident
(reporter, assignee, excluded, other school, none) every route of the app that reads an
incident, a list or an export is called in the pages and the API, and the markers found in the
response must be exactly those services/domain/step_access.py lets that person read (a subset
for lists and searches, which may show less). Every route of the app must have an entry here:
a new route fails the test until someone says how it is probed. SQLite and PostgreSQL.

The process runs with readers and needs declared on some of its tasks (DECLARED), so the
policy's declared part is probed as well as its defaults. Beyond the steps' answers, what
belongs to the whole record is probed too: each incident names a child (by the DSL, with a
date of birth), whose name only record readers may see anywhere; the incident JSON's
retention review date (it follows that birth date) is theirs only; and the lists show the
route taken ("Immediate referral") only to people who read records.

One world per backend: people, incidents, sign-ins and tokens are made once, each incident's
policy facts computed once. The record PDF is laid out by WeasyPrint for the first whole-record
reader on each of its two routes; for the others the test hands back the same HTML the PDF
would be drawn from (every cell still gets the route's status and exactly its content).
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy import select, update

import services.web.cases.history_views as history_views
from services.bootstrap import Runtime
from services.db.models import EmailDelivery, HumanTask, Notification, OutboxMessage
from services.db.repositories.studio import StudioRepository
from services.domain.children.messages import NameChild
from services.domain.commands import (
    DEFAULT_PROCESS_ID,
    CompleteTask,
    DeployDefinitions,
    ExcludePerson,
    StartIncident,
)
from services.domain.history_steps import incident_steps
from services.domain.step_access import (
    RECORD_READER_ROLES,
    Relationship,
    Viewer,
    may_read_step,
    reads_every_step,
    reads_record,
    step_facts,
)
from services.web.auth.tokens import issue_api_token
from services.web.incidents.reads import ReportForm, report_form
from services.workers.pdf_layout import record_html
from services.workers.record import IncidentRecord
from tests.integration.service_fixtures import default_bundle, scenario_steps
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    WebUser,
    app,
    clock,
    login,
    make_user,
    web_runtime,
    web_settings,
)
from workflow import engine
from workflow.formdata import placeholder_data
from workflow.model import SourceFile
from workflow.step_readers import ROLES

RELATIONSHIPS = ("reporter", "assignee", "excluded", "other_school", "none")
SCENARIO = "s2.json"  # immediate referral: police and social care
STOP_BEFORE = "record_agency_outcome"  # leaves tasks waiting, one of them for the assignee

# How each route of the app is probed. Paths take {incident}, {task}, {school}, {q}, {child}.
# "record": reads one incident; "list": lists or searches incidents (may show less, never
# more); "child": reads a child's record across incidents (never more than the incidents);
# "none": holds no incident record (sign-in, studio, assets...); "writes": a command, whose
# refusals the area's own tests check (it returns no record).
Route = tuple[str, tuple[str, ...]]
ROUTES: dict[str, Route] = {
    "incidents.incident": ("record", ("/incidents/{incident}",)),
    "incidents.task": ("record", ("/incidents/{incident}/tasks/{task}",)),
    "incidents.exclude": ("record", ("/incidents/{incident}/exclude",)),
    "incidents.raise_message": ("record", ("/incidents/{incident}/messages/new_concern",)),
    "inbox.assign": ("record", ("/inbox/incidents/{incident}/tasks/{task}/assign",)),
    "children.incident_children": ("record", ("/incidents/{incident}/children",)),
    "cases.history": (
        "record",
        (
            "/incidents/{incident}/history",
            "/incidents/{incident}/history?format=csv",
            "/incidents/{incident}/history?format=json",
        ),
    ),
    "cases.correct": ("record", ("/incidents/{incident}/correct",)),
    "cases.diagram": ("record", ("/incidents/{incident}/diagram.bpmn",)),
    "cases.record_pdf_download": ("record", ("/incidents/{incident}/record.pdf",)),
    "incidents.download_document": ("record", ("/incidents/{incident}/documents/{document}",)),
    "api.get_incident": ("record", ("/api/v1/incidents/{incident}",)),
    "api.incident_children": ("record", ("/api/v1/incidents/{incident}/children",)),
    "api.incident_history_api": (
        "record",
        (
            "/api/v1/incidents/{incident}/history",
            "/api/v1/incidents/{incident}/history?format=csv",
            "/api/v1/incidents/{incident}/history?view=access",
        ),
    ),
    "api.incident_record_pdf_api": ("record", ("/api/v1/incidents/{incident}/record.pdf",)),
    "cases.index": ("list", ("/incidents?school={school}&q={q}", "/incidents?school={school}")),
    "api.list_incidents_api": (
        "list",
        ("/api/v1/incidents?school={school}&q={q}", "/api/v1/incidents?school={school}&format=csv"),
    ),
    "inbox.index": ("list", ("/inbox",)),
    "api.inbox": ("list", ("/api/v1/tasks?school={school}",)),
    "notifications.index": ("list", ("/notifications",)),
    "children.school_children": ("list", ("/children",)),
    "reports.dashboard": ("list", ("/reports",)),
    "reports.dashboard_csv": ("list", ("/reports/dashboard.csv",)),
    "api.report_summary": ("list", ("/api/v1/reports/summary?school={school}",)),
    "home.index": ("list", ("/",)),
    "notifications.operations": ("list", ("/operations",)),
    "children.transfers": ("list", ("/transfers",)),
    "children.retention": ("record", ("/incidents/{incident}/retention",)),
    # A child's record across incidents (the child named in the person's incident).
    "children.chronology": ("child", ("/children/{child}",)),
    "api.chronology": ("child", ("/api/v1/children/{child}/chronology",)),
    "api.subject_access_export": ("child", ("/api/v1/children/{child}/subject-access-export",)),
    "children.review_queue": ("list", ("/retention",)),
}
# Readers and needs declared in the BPMN, so that the policy's declared part is probed too:
# the headteacher does not read the initial review; staff who may open the incident read the
# talk with the children; whoever holds the agencies' outcome reads the initial review.
DECLARED = {
    "initial_review": '<camunda:property name="readers" value="dsl,auditor" />',
    "talk_to_children": '<camunda:property name="readers" value="dsl,headteacher,auditor,staff" />',
    "record_agency_outcome": '<camunda:property name="needs" value="initial_review" />',
}
# Lists of incidents: the route each took is shown only to people who read records.
INCIDENT_LISTS = frozenset(
    {"cases.index", "api.list_incidents_api", "inbox.index", "api.inbox", "home.index"}
)
# Routes acting on two children or a transfer: their own tests check them (DSL and
# headteacher only). Listed so that a new route still fails.
NOT_PROBED = {
    "children.merge": "merging two children's records: a command with its own form",
    "children.send_file": "a child's file transfer: no child is named in this incident",
    "children.transfer": "a child's file transfer: none exists here",
    "children.pack": "a child's file transfer pack: none exists here",
}
NO_RECORD_PREFIXES = (
    "auth.",
    "studio.",
    "govuk_assets.",
    "static",
    "admin.",
    "invitations.",
    "health.",  # /healthz, /readyz, /metrics: counts, no records
)
NO_RECORD = {
    "api.openapi_document",
    "api.list_processes",
    "api.get_draft",
    "api.list_scenarios",  # scenario files: steps and routes, no incident
    # Like the studio's impact page: references, step names and answer counts, no answers or names
    # (tests/integration/test_studio_migration.py checks who may read it).
    "api.migration_preview",
    "incidents.reported",  # "your concern was reported": the reference only
    "incidents.report",  # the empty disclosure form
}


@dataclass
class Incident:
    """One seeded incident: its id, reference and each marked step's marker."""

    id: str
    reference: str
    school_id: int
    markers: dict[str, str] = field(default_factory=dict)  # bpmn id -> marker
    child: str = ""  # the name of the child the DSL named: the record's, like its history
    child_id: int = 0
    steps: list[Any] = field(default_factory=list)  # its completed steps (computed once)


@dataclass
class Person:
    """One cell's person: role, relationship, sign-ins, and the incident they relate to."""

    role: str
    relationship: str
    user: WebUser
    incident: Incident
    task_id: str = ""  # a ready task of that incident (theirs, for an assignee)
    needs: frozenset[str] = frozenset()  # what that task's `needs` property lends its doer
    document_id: str = ""
    browser: FlaskClient | None = None
    token: str = ""


def _text(spec: Any, marker: str) -> str:
    text = marker
    if spec.id == "relevant_facts_about_children":
        text = f"{marker} Child has an EHCP"
    elif spec.id in ("police_reference", "social_care_reference"):
        text = f"{marker} {spec.id[:3].upper()}-2026-0907"
    if spec.minlength and len(text) < spec.minlength:
        text = f"{text} {'noted ' * spec.minlength}"[: max(spec.minlength, len(text))]
    return text[: spec.maxlength] if spec.maxlength else text


def _marked(form: Any, given: dict[str, Any], marker: str) -> dict[str, Any]:
    data = placeholder_data(form, given)
    for spec in form.fields:
        if spec.type == "string" and not spec.options:
            data[spec.id] = _text(spec, marker)
    return data


def _ready(runtime: Runtime, incident_id: str) -> list[Any]:
    deps = runtime.bus.dependencies
    with deps.uow_factory() as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        definition = deps.definitions.get(uow, incident.definition_version_id)
        return list(engine.get_status(definition, incident.state, deps.clock.now()).ready)


def declared_bundle() -> list[SourceFile]:
    """The default process with DECLARED's readers and needs written into its user tasks."""
    files = default_bundle()
    text = files[0].content.decode("utf-8")
    for task_id, properties in DECLARED.items():
        task = text.index(f'<bpmn:userTask id="{task_id}"')
        at = text.index("<camunda:properties>", task) + len("<camunda:properties>")
        text = text[:at] + properties + text[at:]
    return [SourceFile(files[0].name, text.encode("utf-8")), *files[1:]]


def run_declared_readers(runtime: Runtime, school_id: int) -> None:
    """The matrix school runs declared_bundle(); every other school keeps the default."""
    runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    declared = runtime.bus.handle(DeployDefinitions(declared_bundle(), None))
    # Deploy the default again (a comment makes it new) so it stays the latest for the
    # session's other tests; the matrix school chooses the declared version in the studio.
    files = default_bundle()
    again = [SourceFile(files[0].name, files[0].content + b"\n<!-- the default -->\n")]
    runtime.bus.handle(DeployDefinitions([*again, *files[1:]], None))
    with runtime.unit_of_work() as uow:
        StudioRepository(uow.session).choose(
            school_id, DEFAULT_PROCESS_ID, declared.version_id, None
        )
        uow.commit()


def seed_incident(
    runtime: Runtime, school_id: int, reporter: int, lanes: dict[str, int]
) -> Incident:
    """Report S2 and run it to the agencies' outcome; every free-text answer marked per step."""
    tag = secrets.token_hex(3)
    steps = scenario_steps(SCENARIO)
    deps = runtime.bus.dependencies
    start = report_form(ReportForm(school_id, reporter, DEFAULT_PROCESS_ID), deps)
    markers = {"record_disclosure": f"Mk{tag}00Zz"}
    data = _marked(start.task.form, dict(steps[0]["data"]), markers["record_disclosure"])
    outcome = runtime.bus.handle(StartIncident(school_id, reporter, data))
    assert outcome.incident_id is not None and outcome.reference is not None
    incident = Incident(outcome.incident_id, outcome.reference, school_id, markers)
    for index, step in enumerate(steps[1:], start=1):
        bpmn_id = step.get("complete")
        task = next((t for t in _ready(runtime, incident.id) if t.bpmn_id == bpmn_id), None)
        if bpmn_id is None or bpmn_id == STOP_BEFORE or task is None:
            break
        markers[bpmn_id] = f"Mk{tag}{index:02d}Zz"
        data = _marked(task.form, dict(step.get("data", {})), markers[bpmn_id])
        runtime.bus.handle(CompleteTask(task.id, lanes[task.lane], data))
    incident.child = f"Mk{tag}ChildZz"
    born = date(1995, 3, 4)  # old enough that the record is due for its retention review
    named = runtime.bus.handle(
        NameChild(incident.id, lanes["dsl"], "pictured", incident.child, born)
    )
    incident.child_id = named.child_id
    incident.steps = _steps(runtime, incident)
    return incident


def _steps(runtime: Runtime, incident: Incident) -> list[Any]:
    deps = runtime.bus.dependencies
    with deps.uow_factory() as uow:
        row = uow.incidents.get(incident.id)
        assert row is not None
        definition = deps.definitions.get(uow, row.definition_version_id)
        return list(incident_steps(uow, definition, row))  # state and stored steps


def viewer_of(person: Person, incident: Incident) -> Viewer:
    """The policy's facts about this person and this incident."""
    if person.relationship == "other_school":
        return Viewer(person.user.id, frozenset(), "none")
    mine = person.incident.id == incident.id
    relationship: Relationship = "none"
    if mine and person.relationship in ("reporter", "assignee", "excluded"):
        relationship = person.relationship  # type: ignore[assignment]
    holds = mine and person.relationship == "assignee" and person.role != "auditor"
    needs = person.needs if holds else frozenset()
    roles = frozenset({person.role})
    return Viewer(person.user.id, roles, relationship, needs=needs, holds_task=holds)


def allowed(person: Person, incident: Incident) -> set[str]:
    """The markers of the incident's steps this person may read, as the step policy says."""
    viewer = viewer_of(person, incident)
    found = set()
    for index, step in enumerate(incident.steps):
        if step.bpmn_id in incident.markers and may_read_step(
            viewer, step_facts(step, is_report=index == 0)
        ):
            found.add(incident.markers[step.bpmn_id])
    return found


def whole_reader(person: Person, incident: Incident) -> bool:
    """May this person have the whole record (PDF, exports), as the step policy says?"""
    facts = [step_facts(step, is_report=i == 0) for i, step in enumerate(incident.steps)]
    return reads_every_step(viewer_of(person, incident), facts)


def may_open(person: Person, incident: Incident) -> bool:
    """May this person open the incident at all (without break-glass), so see it listed?"""
    viewer = viewer_of(person, incident)
    if viewer.relationship == "excluded" or not viewer.roles:
        return False
    return bool(viewer.roles & RECORD_READER_ROLES) or viewer.relationship != "none"


def record_reader(person: Person, incident: Incident) -> bool:
    """May this person read the whole-record parts (children, route, history)?"""
    return reads_record(viewer_of(person, incident))


@pytest.fixture
def pdf_laid_out_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The record PDF drawn by WeasyPrint once per route; then the HTML it is drawn from."""
    calls: list[int] = []
    real = history_views.record_pdf

    def record_pdf(record: IncidentRecord, generated_at: datetime) -> bytes:
        calls.append(1)
        if len(calls) <= 2:  # the HTML route and the API route, each for real once
            return real(record, generated_at)
        return b"%PDF-1.7 (the record's HTML) " + record_html(record, generated_at).encode()

    monkeypatch.setattr(history_views, "record_pdf", record_pdf)
    yield calls


def body_text(response: Any) -> str:
    """A response's text, and a PDF's extracted text too (its streams are compressed)."""
    raw = response.get_data().decode("latin-1")
    if response.mimetype != "application/pdf" or response.status_code != 200:
        return raw
    try:
        reader = PdfReader(io.BytesIO(response.get_data()))
        return raw + " ".join(page.extract_text() or "" for page in reader.pages)
    except PyPdfError:  # the matrix's own filed document is bytes with the markers, not a PDF
        return raw


def route_table(app: Flask) -> dict[str, Route]:
    """Every route of the app with its matrix entry; fails on a route nobody classified."""
    unclassified = []
    for rule in app.url_map.iter_rules():
        name = rule.endpoint
        if name in ROUTES or name in NOT_PROBED or name in NO_RECORD:
            continue
        if name.startswith(NO_RECORD_PREFIXES) or not (rule.methods or set()) & {"GET"}:
            continue  # sign-in, studio, assets; commands (POST) return no record
        unclassified.append(f"{name} ({rule.rule})")
    assert not unclassified, (
        "routes without an access-matrix entry (add them to ROUTES, NOT_PROBED or NO_RECORD "
        f"in {__name__}): {', '.join(sorted(unclassified))}"
    )
    return ROUTES


def test_every_role_and_relationship_reads_exactly_what_the_step_policy_allows(
    app: Flask,
    web_runtime: Runtime,
    make_user: Callable[..., WebUser],
    pdf_laid_out_once: list[int],
) -> None:
    routes = route_table(app)
    runtime = web_runtime
    base = make_user("staff", totp=True)
    school = base.school_id
    run_declared_readers(runtime, school)
    dsl = make_user("dsl", school_id=school)
    head = make_user("headteacher", school_id=school)
    lanes = {"dsl": dsl.id, "headteacher": head.id, "staff": base.id}
    main = seed_incident(runtime, school, base.id, lanes)
    other_school = make_user("dsl").school_id
    incidents = [main]
    people: list[Person] = []
    for role in ROLES:
        for relationship in RELATIONSHIPS:
            if relationship == "reporter" and role == "auditor":
                continue  # auditors read records; they never report concerns
            where = other_school if relationship == "other_school" else school
            user = make_user(role, school_id=where, totp=True)
            incident = main
            if relationship == "reporter":
                incident = seed_incident(runtime, school, user.id, lanes)
            elif relationship == "assignee":
                incident = seed_incident(runtime, school, base.id, lanes)
            if incident is not main:
                incidents.append(incident)
            people.append(Person(role, relationship, user, incident))
    _relate(runtime, people, dsl.id)
    for person in people:
        person.browser = app.test_client()
        login(person.browser, person.user.email)
        with runtime.unit_of_work() as uow:
            person.token = issue_api_token(uow, person.user.id, "matrix", scope="read")
            uow.commit()

    wrong: list[str] = []
    cells = 0
    every_marker = {m for i in incidents for m in (*i.markers.values(), i.child)}
    for person in people:
        mine = allowed(person, person.incident)
        children = {i.child for i in incidents if record_reader(person, i)}
        anywhere = set().union(children, *(allowed(person, i) for i in incidents))
        whole = whole_reader(person, person.incident)
        reads_route = record_reader(person, person.incident)
        hidden = [i for i in incidents if not may_open(person, i)]
        for name, (kind, paths) in routes.items():
            for template in paths:
                for q in _queries(template, person.incident):
                    cells += 1
                    path = template.format(
                        incident=person.incident.id,
                        task=person.task_id,
                        school=school if person.relationship != "other_school" else other_school,
                        document=person.document_id,
                        child=person.incident.child_id,
                        q=q,
                    )
                    response = _call(person, path)
                    if response.status_code >= 500:
                        wrong.append(f"{_who(person)} {path}: {response.status_code}")
                        continue
                    text = body_text(response)
                    if q:  # a search page shows back the words typed into it
                        text = text.replace(q, "")
                    seen = {m for m in every_marker if m in text}
                    if not seen <= anywhere:
                        wrong.append(f"{_who(person)} {path}: leaks {sorted(seen - anywhere)}")
                    if name in ("incidents.incident", "api.get_incident"):
                        own = {m for m in person.incident.markers.values() if m in text}
                        if own != mine:
                            wrong.append(f"{_who(person)} {path}: shows {own}, policy {mine}")
                    if name == "api.get_incident" and response.status_code == 200:
                        dated = response.get_json()["review_date"] is not None
                        if dated != reads_route:  # it follows the child's birth date
                            wrong.append(f"{_who(person)} {path}: review date {dated}")
                    if name in INCIDENT_LISTS and not children and _shows_route(text):
                        wrong.append(f"{_who(person)} {path}: shows the route taken")
                    if kind == "list":  # an incident one may not open is never listed
                        listed = [i.reference for i in hidden if _lists(text, i.reference)]
                        if listed:
                            wrong.append(f"{_who(person)} {path}: lists hidden {listed}")
                    found = kind == "list" and q and _lists(text, person.incident.reference)
                    if found and q not in mine:
                        wrong.append(f"{_who(person)} {path}: search finds an unread step")
                    gets_pdf = name.endswith(("pdf_download", "pdf_api", "download_document"))
                    if gets_pdf and (response.status_code == 200) != whole:
                        status = response.status_code
                        wrong.append(f"{_who(person)} {path}: {status}, whole record: {whole}")
    assert not wrong, f"{len(wrong)} of {cells} cells wrong:\n" + "\n".join(wrong[:60])
    assert len(pdf_laid_out_once) > 2  # real PDFs were drawn, and the rest were probed
    _no_marker_leaves_in_messages(runtime, every_marker)
    _the_reporter_of_a_referred_incident_reads_only_their_report(runtime, people)
    print(f"access matrix: {len(people)} people x {cells // len(people)} probes = {cells} cells")


def _queries(template: str, incident: Incident) -> tuple[str, ...]:
    # A search probes the report's words and the DSL's review: found only where readable.
    if "{q}" not in template:
        return ("",)
    return (incident.markers["record_disclosure"], incident.markers["initial_review"])


def _shows_route(text: str) -> bool:
    # The list's filter form offers every route by name: what matters is outside forms.
    outside = re.sub(r"<form\b.*?</form>", "", text, flags=re.S)
    return "Immediate referral" in outside or '"immediate_referral": true' in outside


def _lists(text: str, reference: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(reference)}(?![\w-])", text) is not None


def _who(person: Person) -> str:
    return f"{person.role}/{person.relationship}"


def _call(person: Person, path: str) -> Any:
    assert person.browser is not None
    if path.startswith("/api/"):
        headers = {"Authorization": f"Bearer {person.token}"}
        return person.browser.get(path, headers=headers)
    return person.browser.get(path)


def _relate(runtime: Runtime, people: list[Person], dsl_id: int) -> None:
    """Exclude the excluded, give each assignee a waiting task, give everyone a task to probe."""
    for person in people:
        ready = [t for t in _ready(runtime, person.incident.id)]
        assert ready, f"{person.incident.reference} has no task waiting"
        task = next((t for t in ready if t.bpmn_id == STOP_BEFORE), ready[0])
        person.task_id, person.needs = task.id, frozenset(task.form.needs)
        if person.relationship == "excluded":
            reason = "The incident is about them"
            runtime.bus.handle(ExcludePerson(person.incident.id, dsl_id, person.user.id, reason))
        with runtime.unit_of_work() as uow:
            if person.relationship == "assignee":
                uow.session.execute(
                    update(HumanTask)
                    .where(HumanTask.id == person.task_id)
                    .values(assignee_id=person.user.id)
                )
            # A filed record with every marker in it: only whole-record readers may fetch it.
            content = ("%PDF-1.4 " + " ".join(person.incident.markers.values())).encode()
            document = uow.documents.add(
                incident_id=person.incident.id,
                kind="record_pdf",
                filename="record.pdf",
                content=content,
                created_by_worker="access-matrix",
            )
            person.document_id = document.id
            uow.commit()


def _no_marker_leaves_in_messages(runtime: Runtime, markers: set[str]) -> None:
    """Events, notifications and emails carry no answers (no child details) at all."""
    with runtime.unit_of_work() as uow:
        for model in (OutboxMessage, Notification, EmailDelivery):
            for row in uow.session.scalars(select(model)):
                text = repr({c.name: getattr(row, c.name) for c in model.__table__.columns})
                leaked = [m for m in markers if m in text]
                assert not leaked, f"{model.__tablename__} carries {leaked}"


def _the_reporter_of_a_referred_incident_reads_only_their_report(
    runtime: Runtime, people: list[Person]
) -> None:
    """The issue's case in plain words: no DSL notes, agency references or EHCP for them."""
    reporter = next(p for p in people if p.role == "staff" and p.relationship == "reporter")
    assert reporter.browser is not None
    page = reporter.browser.get(f"/incidents/{reporter.incident.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    markers = reporter.incident.markers
    assert markers["record_disclosure"] in text
    assert "refer_to_agencies" in markers  # the incident was referred
    for bpmn_id, marker in markers.items():
        if bpmn_id not in ("record_disclosure", "talk_to_children"):
            assert marker not in text, bpmn_id
    assert markers["talk_to_children"] in text  # its readers name staff
    for words in ("Child has an EHCP", "POL-2026-0907", "SOC-2026-0907"):
        assert words not in text
    assert RECORD_READER_ROLES.isdisjoint({"staff"})
