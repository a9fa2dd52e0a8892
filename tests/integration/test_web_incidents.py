"""The incident pages through the real app: report a concern, the incident page, task forms,
break-glass and exclusion, with the role journey of S1, an authorisation matrix, CSRF and
concurrent completion. Runs on SQLite and PostgreSQL (the `db_url` fixture).
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Any

import pytest
from flask import Blueprint, Flask, render_template_string
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from services.bootstrap import Runtime
from services.db.models import AuditEvent, HumanTask, Incident
from services.domain.bus import MessageBus
from services.domain.commands import DeployDefinitions, StartIncident
from services.domain.results import Deployed
from services.web.incidents.task_forms import is_valid_submission, new_task_form
from tests.integration.service_fixtures import default_bundle, scenario_steps
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    WebUser,
    app,
    client,
    clock,
    login,
    make_user,
    web_runtime,
    web_settings,
)
from tests.integration.worker_helpers import file_the_record
from workflow.model import FieldSpec, FormSpec

MakeUser = Callable[..., WebUser]
MARKER = "Zebedee-Quill"  # free text standing for a child's details: must never leak
# Who completes each task of S1 (the lane of the task, or the role named in its groups).
S1_ROLES = {
    "record_disclosure": "staff",
    "agree_in_house": "head",
    "sign_off_closure": "head",
}


# The world of a test: a school with one person per role, and a DSL of another school


@dataclass(frozen=True)
class School:
    """A fresh school with its people, and a DSL of another school."""

    id: int
    staff: WebUser  # reports the concern
    bystander: WebUser  # staff with nothing to do with the incident
    dsl: WebUser
    deputy: WebUser  # a second DSL
    head: WebUser
    auditor: WebUser
    admin: WebUser
    outsider: WebUser  # DSL of another school

    def by_role(self) -> dict[str, WebUser]:
        """Every person by the name tests use for them."""
        return {
            "staff": self.staff,
            "bystander": self.bystander,
            "dsl": self.dsl,
            "deputy": self.deputy,
            "head": self.head,
            "auditor": self.auditor,
            "admin": self.admin,
            "outsider": self.outsider,
        }


@pytest.fixture
def deployed(web_runtime: Runtime) -> Deployed:
    """The default process, deployed on the test database (idempotent)."""
    return domain_bus(web_runtime).handle(DeployDefinitions(default_bundle(), None))


@pytest.fixture
def school(make_user: MakeUser, deployed: Deployed) -> School:
    """A school with one person per role (TOTP enrolled for dsl, headteacher, admin)."""
    staff = make_user("staff")
    sid = staff.school_id
    return School(
        id=sid,
        staff=staff,
        bystander=make_user("staff", school_id=sid),
        dsl=make_user("dsl", school_id=sid),
        deputy=make_user("dsl", school_id=sid),
        head=make_user("headteacher", school_id=sid),
        auditor=make_user("auditor", school_id=sid),
        admin=make_user("admin", school_id=sid),
        outsider=make_user("dsl"),
    )


def domain_bus(runtime: Runtime) -> MessageBus:
    """The app's bus (its database and clock), for setting the scene without pages."""
    return runtime.bus


def disclosure(marker: str = MARKER) -> dict[str, Any]:
    """S1's disclosure, with a marker in the free text."""
    data = dict(scenario_steps("s1.json")[0]["data"])
    data["what_was_said"] = f"{marker} told their form tutor they had exchanged images."
    return data


def start_incident(runtime: Runtime, school: School) -> str:
    """Report S1's concern without the pages; return the incident id."""
    outcome = domain_bus(runtime).handle(StartIncident(school.id, school.staff.id, disclosure()))
    assert outcome.incident_id is not None
    return outcome.incident_id


# A person at a browser


def signed_in(app: Flask, user: WebUser) -> FlaskClient:
    """A new browser, signed in as the user through the real pages."""
    browser = app.test_client()
    login(browser, user.email)
    return browser


def tree_of(response: TestResponse) -> Any:
    """The response's HTML, parsed."""
    return html.fromstring(response.get_data(as_text=True))


def text_of(response: TestResponse) -> str:
    """The page's text with white space collapsed."""
    return " ".join(tree_of(response).text_content().split())


def title_of(response: TestResponse) -> str:
    """The page's <title>."""
    return " ".join(str(tree_of(response).findtext(".//title")).split())


def page_form(response: TestResponse) -> Any:
    """The page's main form (not the sign-out form in the header)."""
    forms = [f for f in tree_of(response).forms if not (f.action or "").endswith("/sign-out")]
    assert forms, f"no form on the page: {text_of(response)[:300]}"
    return forms[0]


def filled(form: Any, answers: Mapping[str, Any]) -> MultiDict[str, str]:
    """What a browser would send after a person set these answers on the form as shown."""
    values = [(k, v) for k, v in form.form_values() if k not in answers]
    for key, value in answers.items():
        if form.xpath(f".//input[@id='{key}-day']"):
            day = date.fromisoformat(str(value))
            values += [(key, str(day.day)), (key, str(day.month)), (key, str(day.year))]
        elif isinstance(value, bool):
            values.append((key, "true" if value else "false"))
        else:
            values.append((key, str(value)))
    return MultiDict(values)


def submit(browser: FlaskClient, path: str, answers: Mapping[str, Any]) -> TestResponse:
    """Open the page at `path`, fill in its form and press the button."""
    page = browser.get(path)
    assert page.status_code == 200, f"GET {path}: {page.status_code} {text_of(page)[:300]}"
    form = page_form(page)
    return browser.post(form.action or path, data=filled(form, answers))


def links(response: TestResponse, pattern: str) -> list[tuple[str, str]]:
    """(href, text) of the links whose href matches the pattern."""
    return [
        (a.get("href"), " ".join(a.text_content().split()))
        for a in tree_of(response).iter("a")
        if re.fullmatch(pattern, a.get("href") or "")
    ]


def task_link(
    browser: FlaskClient, incident_id: str, bpmn_id: str, answers: Mapping[str, Any]
) -> str:
    """The inbox's link to the incident's task whose form asks these questions."""
    inbox = browser.get("/inbox")
    assert inbox.status_code == 200
    for href, _name in links(inbox, f"/incidents/{incident_id}/tasks/[^/]+"):
        form_page = browser.get(href)
        names = {name for name, _ in page_form(form_page).form_values()}
        names |= {i.get("name") for i in page_form(form_page).inputs}
        if set(answers) <= names:
            return href
    raise AssertionError(f"{bpmn_id} is not in the inbox: {text_of(inbox)[:500]}")


def audit_rows(runtime: Runtime, incident_id: str, action: str | None = None) -> list[AuditEvent]:
    """The incident's audit rows (of one action), in order."""
    with runtime.unit_of_work() as uow:
        query = select(AuditEvent).where(AuditEvent.incident_id == incident_id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(uow.session.scalars(query.order_by(AuditEvent.id)))


def task_rows(runtime: Runtime, incident_id: str) -> list[tuple[str, str, str, int | None]]:
    """(bpmn id, id, state, assignee) of every task row of the incident."""
    with runtime.unit_of_work() as uow:
        rows = uow.session.scalars(
            select(HumanTask).where(HumanTask.incident_id == incident_id).order_by(HumanTask.id)
        )
        return [(r.bpmn_id, r.id, r.state, r.assignee_id) for r in rows]


def ready_task_id(runtime: Runtime, incident_id: str, bpmn_id: str) -> str:
    """The id of the incident's one ready task of this type."""
    ready = [t for t in task_rows(runtime, incident_id) if t[0] == bpmn_id and t[2] == "ready"]
    assert len(ready) == 1, task_rows(runtime, incident_id)
    return ready[0][1]


def incident_state(runtime: Runtime, incident_id: str) -> tuple[int, str, str]:
    """(version, status, state) of the incident."""
    with runtime.unit_of_work() as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        return incident.version_id, incident.status, incident.state


def incident_count(runtime: Runtime, school_id: int) -> int:
    """How many incidents the school has."""
    with runtime.unit_of_work() as uow:
        query = select(func.count()).select_from(Incident).where(Incident.school_id == school_id)
        return int(uow.session.scalar(query) or 0)


# S1 through the pages, as each role does it


def test_s1_runs_end_to_end_through_the_pages_of_each_role(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    steps = scenario_steps("s1.json")
    people = {"staff": signed_in(app, school.staff), "dsl": signed_in(app, school.dsl)}
    people["head"] = signed_in(app, school.head)

    # Any staff member reports the concern.
    report = people["staff"].get("/report")
    assert report.status_code == 200
    assert title_of(report).startswith("Report a concern")
    assert "Do not view, copy, print, share, store or save the imagery" in text_of(report)
    assert not tree_of(report).xpath("//input[@type='file']")
    answers = {**steps[0]["data"], "what_was_said": f"{MARKER} said they exchanged images."}
    done = people["staff"].post("/report", data=filled(page_form(report), answers))
    assert done.status_code == 302 and done.headers["Location"] == "/report/confirmation"
    confirmation = people["staff"].get("/report/confirmation")
    [(incident_url, _)] = links(confirmation, "/incidents/[^/]+")
    incident_id = incident_url.rsplit("/", 1)[1]
    reference = incident_state_reference(web_runtime, incident_id)
    words = text_of(confirmation)
    assert reference in words and "The DSL has been told" in words
    assert MARKER not in confirmation.get_data(as_text=True)

    # The DSL sees the initial review in the inbox; the reporter (staff) does not.
    assert reference in text_of(people["dsl"].get("/inbox"))
    assert "Hold the initial review meeting" in text_of(people["dsl"].get("/inbox"))
    assert reference not in text_of(people["staff"].get("/inbox"))

    for step in steps[1:]:
        who = S1_ROLES.get(step["complete"], "dsl")
        browser = people[who]
        href = task_link(browser, incident_id, step["complete"], step["data"])
        form_page = browser.get(href)
        assert not tree_of(form_page).xpath("//input[@type='file']")
        assert tree_of(form_page).xpath("//div[contains(@class, 'app-task-guidance')]")
        response = submit(browser, href, step["data"])
        assert response.status_code == 302, f"{step['complete']}: {text_of(response)[:800]}"
        assert response.headers["Location"] == incident_url
        after = browser.get(incident_url)
        assert "You completed" in text_of(after), step["complete"]

    # The system files the record as a PDF (a worker), then the incident closes.
    assert "File the incident record as a PDF: the system is doing this now" in text_of(
        people["dsl"].get(incident_url)
    )
    file_the_record(web_runtime.bus, web_runtime.uow_factory, incident_id)
    page = people["dsl"].get(incident_url)
    words = text_of(page)
    assert "Status Closed" in words
    assert "None: this incident is closed." in words
    assert "Download the incident record" in words
    for person in people.values():
        assert reference not in text_of(person.get("/inbox"))
    assert incident_state(web_runtime, incident_id)[1] == "closed"
    completed = [
        r.target.split(":")[1] for r in audit_rows(web_runtime, incident_id, "task.completed")
    ]
    assert completed == [s["complete"] for s in steps]


def incident_state_reference(runtime: Runtime, incident_id: str) -> str:
    """The incident's human reference."""
    with runtime.unit_of_work() as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        return incident.reference


def test_the_incident_page_shows_answers_in_words_with_the_forms_labels(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    dsl = signed_in(app, school.dsl)
    review = scenario_steps("s1.json")[1]["data"]
    href = task_link(dsl, incident_id, "initial_review", review)
    assert submit(dsl, href, review).status_code == 302

    page = dsl.get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    rows = {
        " ".join(row.findtext(".//dt").split()): " ".join(row.find(".//dd").text_content().split())
        for row in tree_of(page).xpath("//div[contains(@class, 'govuk-summary-list__row')]")
    }
    assert rows["When did this come to light?"] == "7 September 2026"
    assert rows["How did it come to light?"] == "A child told a member of staff"
    assert rows["Did you or another member of staff see the image?"] == "No"
    assert rows["How many children are involved, as far as you know?"] == "2"
    assert rows["How widely was it shared?"] == "Not shared beyond the children involved"
    assert rows["Does the incident involve an adult (anyone aged 18 or over)?"] == "No"
    assert rows["Immediate referral"] == "No"  # the decision table's output, named from its id
    words = text_of(page)
    assert "Record the disclosure" in words and "Hold the initial review meeting" in words
    assert school.dsl.email.split("@")[0].split("-")[0].title() in words  # who did it
    assert "Assess the risks" in words  # the current task, linked for the DSL
    assert links(page, f"/incidents/{incident_id}/tasks/[^/]+")


# Report a concern


def test_an_incomplete_report_shows_errors_and_starts_nothing(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    staff = signed_in(app, school.staff)
    before = incident_count(web_runtime, school.id)
    answers = {**disclosure(), "what_was_said": "", "children_involved_count": "lots"}
    response = submit(staff, "/report", answers)
    assert response.status_code == 422
    assert title_of(response).startswith("Error: Report a concern")
    summary = " ".join(
        tree_of(response).xpath("string(//div[@class='govuk-error-summary__body'])").split()
    )
    assert "what was said" in summary.lower()
    assert tree_of(response).xpath("//*[contains(@class, 'govuk-error-message')]")
    assert incident_count(web_runtime, school.id) == before


def test_auditors_cannot_report_and_people_of_several_schools_choose_one(
    app: Flask, school: School, make_user: MakeUser, web_runtime: Runtime
) -> None:
    assert signed_in(app, school.auditor).get("/report").status_code == 403
    with web_runtime.unit_of_work() as uow:
        uow.users.grant(school.staff.id, school.outsider.school_id, "staff")
        uow.commit()
    staff = signed_in(app, school.staff)
    choose = staff.get("/report")
    assert choose.status_code == 200
    assert len(links(choose, r"/report\?school=\d+")) == 2
    assert staff.get(f"/report?school={school.outsider.school_id}").status_code == 200
    stranger = make_user("staff")  # a school of their own
    assert staff.get(f"/report?school={stranger.school_id}").status_code == 404


# Access: the authorisation matrix


@dataclass(frozen=True)
class Probe:
    """One page or action, and how to try it."""

    name: str
    run: Callable[[FlaskClient, str, str], TestResponse]  # (browser, incident id, task id)


def post_with_token(browser: FlaskClient, path: str, data: Mapping[str, str]) -> TestResponse:
    # A token from a page of this browser's own session (every page carries one: sign out).
    token = str(tree_of(browser.get("/inbox")).xpath("string(//input[@name='csrf_token']/@value)"))
    return browser.post(path, data={**data, "csrf_token": token})


def _claim_and_hand_back(browser: FlaskClient, task_id: str) -> TestResponse:
    # Hand a successful claim back at once, so each person meets the task unclaimed.
    claimed = post_with_token(browser, f"/inbox/tasks/{task_id}/claim", {})
    if claimed.status_code == 302:
        assert post_with_token(browser, f"/inbox/tasks/{task_id}/unclaim", {}).status_code == 302
    return claimed


PROBES = (
    Probe("incident page", lambda b, i, t: b.get(f"/incidents/{i}")),
    Probe("task form", lambda b, i, t: b.get(f"/incidents/{i}/tasks/{t}")),
    Probe("exclude form", lambda b, i, t: b.get(f"/incidents/{i}/exclude")),
    Probe("assign form", lambda b, i, t: b.get(f"/inbox/incidents/{i}/tasks/{t}/assign")),
    Probe("report form", lambda b, i, t: b.get("/report")),
    Probe("inbox", lambda b, i, t: b.get("/inbox")),
    Probe("claim", lambda b, i, t: _claim_and_hand_back(b, t)),
)

# Expected status of each probe for each person, as services.domain.access says. The task is
# the initial review (DSL lane). A task page outside the need to know sends to the incident
# page, which asks for a break-glass reason (302); nobody there may exclude or reassign (403).
EXPECTED = {
    #            incident task exclude assign report inbox claim
    "staff": (200, 403, 403, 403, 200, 200, 403),  # the reporter: involved
    "bystander": (403, 302, 403, 403, 200, 200, 404),  # break-glass page; claim reveals nothing
    "dsl": (200, 200, 200, 200, 200, 200, 302),
    "deputy": (200, 200, 200, 200, 200, 200, 302),
    "head": (200, 403, 200, 200, 200, 200, 403),
    "auditor": (200, 403, 403, 403, 403, 200, 403),  # reads, never acts
    "admin": (403, 302, 403, 403, 200, 200, 404),
    "outsider": (404, 404, 404, 404, 200, 200, 404),
}


def test_every_role_gets_what_the_access_policy_says_on_every_page_and_action(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    wrong: list[str] = []
    for who, user in school.by_role().items():
        browser = signed_in(app, user)
        got = tuple(probe.run(browser, incident_id, task_id).status_code for probe in PROBES)
        if got != EXPECTED[who]:
            wrong.append(f"{who}: expected {EXPECTED[who]}, got {got}")
    assert not wrong, "\n".join(wrong)
    # Only the two DSLs' claims changed anything, each audited and handed back.
    assigned = [t[3] for t in task_rows(web_runtime, incident_id) if t[1] == task_id]
    assert assigned == [None]
    claims = audit_rows(web_runtime, incident_id, "task.claimed")
    assert [c.actor_id for c in claims] == [school.dsl.id, school.deputy.id]
    assert len(audit_rows(web_runtime, incident_id, "task.unclaimed")) == 2


def test_auditors_read_the_incident_but_cannot_complete_a_task_by_posting(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    auditor = signed_in(app, school.auditor)
    page = auditor.get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    assert not links(page, f"/incidents/{incident_id}/tasks/.*")  # no link to complete
    before = incident_state(web_runtime, incident_id)
    data = dict(scenario_steps("s1.json")[1]["data"])
    response = post_with_token(auditor, f"/incidents/{incident_id}/tasks/{task_id}", data)
    assert response.status_code == 403
    assert incident_state(web_runtime, incident_id) == before


# CSRF


def test_every_post_without_the_csrf_token_is_refused_and_writes_nothing(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    dsl = signed_in(app, school.dsl)
    bystander = signed_in(app, school.bystander)
    staff = signed_in(app, school.staff)
    review = {k: str(v) for k, v in scenario_steps("s1.json")[1]["data"].items()}
    attempts = [
        (staff, "/report", {k: str(v) for k, v in disclosure().items()}),
        (dsl, f"/incidents/{incident_id}/tasks/{task_id}", review),
        (bystander, f"/incidents/{incident_id}/break-glass", {"reason": "covering"}),
        (dsl, f"/incidents/{incident_id}/exclude", {"person": str(school.staff.id), "reason": "x"}),
        (dsl, f"/inbox/tasks/{task_id}/claim", {}),
        (dsl, f"/inbox/tasks/{task_id}/unclaim", {}),
        (
            dsl,
            f"/inbox/incidents/{incident_id}/tasks/{task_id}/assign",
            {"assignee": "role", "reason": "x"},
        ),
    ]
    before = (
        incident_state(web_runtime, incident_id),
        task_rows(web_runtime, incident_id),
        [r.id for r in audit_rows(web_runtime, incident_id)],
        incident_count(web_runtime, school.id),
    )
    for browser, path, data in attempts:
        response = browser.post(path, data=data)
        assert response.status_code == 400, path
        assert "This page has timed out" in text_of(response), path
    after = (
        incident_state(web_runtime, incident_id),
        task_rows(web_runtime, incident_id),
        [r.id for r in audit_rows(web_runtime, incident_id)],
        incident_count(web_runtime, school.id),
    )
    assert after == before
    assert bystander.get(f"/incidents/{incident_id}").status_code == 403  # no reason was kept


# Concurrent completion


def test_two_people_completing_one_task_at_once_one_wins_and_the_other_gets_409(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    path = f"/incidents/{incident_id}/tasks/{task_id}"
    review = scenario_steps("s1.json")[1]["data"]
    first, second = signed_in(app, school.dsl), signed_in(app, school.deputy)
    forms = [page_form(browser.get(path)) for browser in (first, second)]
    other_answers = {**review, "review_attendees": "Only the deputy"}
    version_before = incident_state(web_runtime, incident_id)[0]

    won = first.post(path, data=filled(forms[0], review))
    lost = second.post(path, data=filled(forms[1], other_answers))

    assert won.status_code == 302
    assert lost.status_code == 409
    words = text_of(lost)
    assert "This incident changed while you were working" in words
    assert "Your answers were not saved" in words and "Reload" in words
    completions = audit_rows(web_runtime, incident_id, "task.completed")
    assert [r.actor_id for r in completions if task_id in r.target] == [school.dsl.id]
    assert (completions[-1].new_values or {}).get("review_attendees") == review["review_attendees"]
    assert incident_state(web_runtime, incident_id)[0] != version_before
    states = {t[1]: t[2] for t in task_rows(web_runtime, incident_id)}
    assert states[task_id] == "completed"


def test_the_reporter_gets_403_for_the_dsls_task_whether_it_waits_or_was_done(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    # Need-to-know: the reporter sees only the tasks asked of them, so a 409 ("no longer
    # waiting") would tell them how the DSL's work moved on. The DSL gets the 409.
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    path = f"/incidents/{incident_id}/tasks/{task_id}"
    reporter, dsl = signed_in(app, school.staff), signed_in(app, school.dsl)
    assert reporter.get(path).status_code == 403
    review = scenario_steps("s1.json")[1]["data"]
    assert dsl.post(path, data=filled(page_form(dsl.get(path)), review)).status_code == 302
    assert reporter.get(path).status_code == 403
    assert dsl.get(path).status_code == 409


def test_two_completions_sent_at_the_same_moment_from_two_threads_save_exactly_one(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    path = f"/incidents/{incident_id}/tasks/{task_id}"
    review = scenario_steps("s1.json")[1]["data"]
    browsers = [signed_in(app, school.dsl), signed_in(app, school.deputy)]
    posts = [filled(page_form(browser.get(path)), review) for browser in browsers]
    start = threading.Barrier(2)

    def send(index: int) -> int:
        start.wait(timeout=10)
        return browsers[index].post(path, data=posts[index]).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(send, range(2)))

    assert statuses == [302, 409]
    completions = [
        r for r in audit_rows(web_runtime, incident_id, "task.completed") if task_id in r.target
    ]
    assert len(completions) == 1
    ready_now = [t[0] for t in task_rows(web_runtime, incident_id) if t[2] == "ready"]
    assert ready_now == ["risk_assessment"]


def test_a_form_read_before_a_change_is_refused_even_when_its_task_is_still_waiting(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    path = f"/incidents/{incident_id}/tasks/{task_id}"
    dsl = signed_in(app, school.dsl)
    form = page_form(dsl.get(path))
    answers = filled(form, scenario_steps("s1.json")[1]["data"])
    stale = MultiDict(
        [(k, "0" if k == "expected_incident_version" else v) for k, v in answers.items(multi=True)]
    )
    before = incident_state(web_runtime, incident_id)
    response = dsl.post(path, data=stale)
    assert response.status_code == 409
    assert "Your answers were not saved" in text_of(response)
    assert incident_state(web_runtime, incident_id) == before
    missing = MultiDict(
        [(k, v) for k, v in answers.items(multi=True) if k != "expected_incident_version"]
    )
    assert dsl.post(path, data=missing).status_code == 409
    assert incident_state(web_runtime, incident_id) == before


# Task form errors


def test_a_task_form_with_errors_is_shown_again_with_a_summary_and_inline_messages(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    path = f"/incidents/{incident_id}/tasks/{task_id}"
    dsl = signed_in(app, school.dsl)
    form_page = dsl.get(path)
    assert title_of(form_page).startswith("Hold the initial review meeting")
    answers = {
        **scenario_steps("s1.json")[1]["data"],
        "what_is_known": "",
        "youngest_child_age": "x",
    }
    response = submit(dsl, path, answers)
    assert response.status_code == 422
    assert title_of(response).startswith("Error: Hold the initial review meeting")
    summary = tree_of(response).xpath("//div[@class='govuk-error-summary__body']//a/@href")
    assert "#what_is_known" in summary and "#youngest_child_age" in summary
    assert ("review_attendees", "DSL, deputy DSL and the head of year") in page_form(
        response
    ).form_values()
    assert (
        audit_rows(web_runtime, incident_id, "task.completed")[-1].target.split(":")[1]
        == "record_disclosure"
    )


def test_errors_the_domain_finds_are_attached_to_the_fields_and_shown_with_422(
    app: Flask, school: School, web_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the page's own checks had let a blank answer through: the engine's check still runs.
    monkeypatch.setattr(
        "services.web.incidents.task_views.is_valid_submission", lambda form: form.is_submitted()
    )
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    path = f"/incidents/{incident_id}/tasks/{task_id}"
    dsl = signed_in(app, school.dsl)
    before = incident_state(web_runtime, incident_id)
    response = submit(dsl, path, {**scenario_steps("s1.json")[1]["data"], "what_is_known": ""})
    assert response.status_code == 422
    assert title_of(response).startswith("Error: ")
    message = tree_of(response).xpath("string(//p[@id='what_is_known-error'])")
    assert "What is known so far" in message or "what is known" in message.lower()
    assert incident_state(web_runtime, incident_id) == before


def test_document_answers_are_checked_by_content_and_images_refused_with_the_reason(
    app: Flask,
) -> None:
    spec = FormSpec(
        key="test_attach",
        fields=(
            FieldSpec(id="note", type="string", label="Note", required=True),
            FieldSpec(id="letter", type="document", label="The letter", required=True),
        ),
    )
    test_only = Blueprint("test_documents", __name__)

    @test_only.route("/test-documents", methods=["GET", "POST"])
    def page() -> tuple[str, int]:
        form = new_task_form(spec, 7)
        if is_valid_submission(form):
            return "accepted " + str(form.typed_data()), 200
        template = (
            '{% from "forms/task_form.html" import task_form %}'
            '{{ task_form(form, "", "/test-documents") }}'
        )
        return render_template_string(template, form=form), 422 if form.is_submitted() else 200

    app.register_blueprint(test_only)
    browser = app.test_client()
    shown = browser.get("/test-documents")
    form = page_form(shown)
    assert form.get("enctype") == "multipart/form-data"
    fields = dict(form.form_values())
    assert fields["expected_incident_version"] == "7"
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
    refused = browser.post(
        "/test-documents",
        data={**fields, "note": "n", "letter": (BytesIO(jpeg), "letter.pdf")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    message = tree_of(refused).xpath("string(//p[@id='letter-error'])")
    assert "looks like an image" in message and "never accepts images" in message
    accepted = browser.post(
        "/test-documents",
        data={**fields, "note": "n", "letter": (BytesIO(b"A plain letter.\n"), "letter.txt")},
        content_type="multipart/form-data",
    )
    assert accepted.status_code == 200, text_of(accepted)
    assert "letter.txt" in accepted.get_data(as_text=True)


# Break-glass, exclusion, audited reads


def test_someone_outside_the_need_to_know_opens_a_record_only_with_a_logged_reason(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    bystander = signed_in(app, school.bystander)
    asked = bystander.get(f"/incidents/{incident_id}")
    assert asked.status_code == 403
    assert "outside your need to know" in text_of(asked)
    assert MARKER not in asked.get_data(as_text=True)
    assert audit_rows(web_runtime, incident_id, "incident.viewed") == []

    blank = post_with_token(bystander, f"/incidents/{incident_id}/break-glass", {"reason": " "})
    assert blank.status_code == 422 and title_of(blank).startswith("Error: ")
    given = post_with_token(
        bystander, f"/incidents/{incident_id}/break-glass", {"reason": "Covering for the DSL"}
    )
    assert given.status_code == 302
    for _ in range(2):
        page = bystander.get(f"/incidents/{incident_id}")
        assert page.status_code == 200
        assert "You opened this record with break-glass" in text_of(page)
        assert MARKER in page.get_data(as_text=True)
    views = audit_rows(web_runtime, incident_id, "incident.viewed")
    assert [(v.actor_id, v.reason, (v.new_values or {}).get("via")) for v in views] == [
        (school.bystander.id, "Covering for the DSL", "break_glass")
    ] * 2

    outsider = signed_in(app, school.outsider)
    post_with_token(outsider, f"/incidents/{incident_id}/break-glass", {"reason": "curious"})
    assert outsider.get(f"/incidents/{incident_id}").status_code == 404


def test_a_dsl_excludes_a_named_person_who_then_cannot_find_the_incident(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    deputy = signed_in(app, school.deputy)
    assert post_with_token(deputy, f"/inbox/tasks/{task_id}/claim", {}).status_code == 302
    assert "You have claimed" in text_of(deputy.get("/inbox"))
    dsl = signed_in(app, school.dsl)
    path = f"/incidents/{incident_id}/exclude"

    no_reason = submit(dsl, path, {"person": str(school.deputy.id), "reason": ""})
    assert no_reason.status_code == 422
    assert title_of(no_reason).startswith("Error: ")
    done = submit(
        dsl, path, {"person": str(school.deputy.id), "reason": "The incident is about them"}
    )
    assert done.status_code == 302
    page = dsl.get(f"/incidents/{incident_id}")
    assert "can no longer see this incident" in text_of(page)

    for response in (
        deputy.get(f"/incidents/{incident_id}"),
        deputy.get(f"/incidents/{incident_id}/tasks/{task_id}"),
    ):
        assert response.status_code == 404
    assert incident_state_reference(web_runtime, incident_id) not in text_of(deputy.get("/inbox"))
    [excluded] = audit_rows(web_runtime, incident_id, "incident.person_excluded")
    assert (excluded.actor_id, excluded.reason) == (school.dsl.id, "The incident is about them")
    assert [t[3] for t in task_rows(web_runtime, incident_id) if t[1] == task_id] == [None]
    again = submit(dsl, path, {"person": str(school.deputy.id), "reason": "again"})
    assert again.status_code == 422 and "already excluded" in text_of(again)
    assert signed_in(app, school.staff).get(path).status_code == 403


def test_every_view_of_an_incident_page_writes_an_audit_row(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    head, dsl = signed_in(app, school.head), signed_in(app, school.dsl)
    for path in (
        f"/incidents/{incident_id}",
        f"/incidents/{incident_id}",
        f"/incidents/{incident_id}/exclude",
    ):
        assert head.get(path).status_code == 200
    assert dsl.get(f"/incidents/{incident_id}/tasks/{task_id}").status_code == 200
    views = audit_rows(web_runtime, incident_id, "incident.viewed")
    assert [v.actor_id for v in views] == [school.head.id] * 3 + [school.dsl.id]
    page = head.get(f"/incidents/{incident_id}")
    # Reads live in the history's access log, not in the incident page's timeline.
    assert "Opened the record" not in text_of(page)
    history = head.get(f"/incidents/{incident_id}/history")
    assert history.status_code == 200
    views = len(audit_rows(web_runtime, incident_id, "incident.viewed"))
    assert views == 6  # the page again, and the history page is a read of the record too
    assert f"Opened {views} times" in text_of(history)


def test_nobody_signed_out_sees_any_incident_page(
    client: FlaskClient, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    for path in (f"/incidents/{incident_id}", "/report", "/inbox"):
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_a_record_readers_task_page_links_to_the_children_and_their_chronologies(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    # "Recorded on each child's chronology" is not a box to tick: the chronology is built from
    # the incident, and the closing step sends the DSL to it from beside every task form.
    incident_id = start_incident(web_runtime, school)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    page = signed_in(app, school.dsl).get(f"/incidents/{incident_id}/tasks/{task_id}")
    assert page.status_code == 200
    assert links(page, f"/incidents/{incident_id}/children")
