"""The incident page's summary and path, the history page, its exports and the record PDF.

Runs on SQLite and PostgreSQL through the real app.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import csv
import io
from datetime import timedelta

from pypdf import PdfReader
from sqlalchemy import select

from services.bootstrap import Runtime
from services.db.models import AuditEvent
from services.domain.clock import FixedClock
from services.domain.commands import CompleteTask, ExcludePerson
from tests.integration.case_helpers import run_steps, start_scenario
from tests.integration.service_fixtures import scenario_steps
from tests.integration.test_web_incidents import (  # noqa: F401  # fixtures, found by name
    School,
    deployed,
    school,
    signed_in,
    text_of,
)
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    app,
    client,
    clock,
    login,
    make_user,
    web_runtime,
    web_settings,
)
from workflow import engine
from workflow.formdata import placeholder_data


def _s2(runtime: Runtime, school: School, until: str | None = "refer_to_agencies") -> str:
    actors = {"dsl": school.dsl.id, "headteacher": school.head.id, "staff": school.staff.id}
    incident_id = start_scenario(runtime, school.id, school.staff.id, "s2.json")
    run_steps(runtime, incident_id, "s2.json", actors, until=until)
    return incident_id


def test_the_page_says_where_the_case_stands_in_words(
    app, web_runtime: Runtime, school: School
) -> None:
    incident_id = _s2(web_runtime, school)
    page = signed_in(app, school.auditor).get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    text = text_of(page)
    assert "Immediate referral to police and/or children's social care" in text
    assert "An adult is involved (always so in sextortion)" in text
    assert "Yes, Yes" not in text and "No, No" not in text  # one answer per decision output
    assert "adult_involved" not in text  # criteria ids never reach a reader
    assert "What happens next" in text
    assert "Talk to the children" in text  # what can follow the referral
    assert "Refer to police and/or children's social care" in text


def test_history_credits_the_system_and_folds_repeated_views(
    app, web_runtime: Runtime, school: School, clock: FixedClock
) -> None:
    incident_id = _s2(web_runtime, school)
    browser = signed_in(app, school.dsl)
    for _ in range(3):
        assert browser.get(f"/incidents/{incident_id}").status_code == 200
        clock.advance(timedelta(minutes=2))
    history = browser.get(f"/incidents/{incident_id}/history")
    assert history.status_code == 200
    rows = [" ".join(r.split()) for r in text_of(history).split("Became ready")[1:]]
    assert rows and all(r.startswith(":") for r in rows)
    body = history.get_data(as_text=True)
    # Every "Became ready" row is credited to the system, not to whoever finished the step before.
    timeline = body.split('id="timeline"')[1].split("</table>")[0]
    for row in timeline.split("<tr")[1:]:
        if "Became ready" in row:
            assert "The system" in row
    access = body.split('id="access"')[1].split("</table>")[0]
    dsl_rows = [r for r in access.split("<tr")[1:] if "By role" in r and ">4<" in r]
    assert len(dsl_rows) == 1  # three page views and the history page: one line, count 4


def test_history_exports_are_audited_and_defuse_formulas(
    app, web_runtime: Runtime, school: School
) -> None:
    incident_id = _s2(web_runtime, school)
    web_runtime.bus.handle(ExcludePerson(incident_id, school.dsl.id, school.bystander.id, "=1+2"))
    browser = signed_in(app, school.dsl)
    exported = browser.get(f"/incidents/{incident_id}/history?format=csv")
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    cells = [c for row in csv.reader(io.StringIO(exported.get_data(as_text=True))) for c in row]
    assert "'=1+2" in cells and "=1+2" not in cells
    as_json = browser.get(f"/incidents/{incident_id}/history?format=json").get_json()
    assert as_json["timeline"] and as_json["access_log"]
    pdf = browser.get(f"/incidents/{incident_id}/record.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf.data))
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root  # a tagged PDF
    assert root["/Lang"] == "en-GB"
    text = "\n".join(page.extract_text() for page in reader.pages)
    for heading in ("Decisions and their reasons", "What was done, and by whom", "Who opened"):
        assert heading in text
    assert "Immediate referral" in text and "Yes, Yes" not in text
    with web_runtime.bus.dependencies.uow_factory() as uow:
        exports = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.incident_id == incident_id, AuditEvent.action == "incident.exported"
            )
        ).all()
    assert sorted(e.new_values["export"] for e in exports) == [
        "history.csv",
        "history.json",
        "record.pdf",
    ]


def test_an_outsider_gets_no_history_no_diagram_no_pdf(
    app, web_runtime: Runtime, school: School
) -> None:
    incident_id = _s2(web_runtime, school)
    browser = signed_in(app, school.outsider)
    for path in ("history", "history?format=csv", "record.pdf", "diagram.bpmn"):
        assert browser.get(f"/incidents/{incident_id}/{path}").status_code == 404, path


def _correct(browser, incident_id: str, answer: str, value: str, reason: str):  # type: ignore[no-untyped-def]
    page = browser.get(f"/incidents/{incident_id}/correct?answer={answer}")
    assert page.status_code == 200, text_of(page)[:300]
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    return browser.post(
        f"/incidents/{incident_id}/correct",
        data={"csrf_token": token, "answer": answer, "value": value, "reason": reason},
    )


def test_a_dsl_corrects_an_answer_with_a_reason_and_the_old_one_stays(
    app, web_runtime: Runtime, school: School
) -> None:
    incident_id = _s2(web_runtime, school)
    with web_runtime.bus.dependencies.uow_factory() as uow:
        steps = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.incident_id == incident_id, AuditEvent.action == "task.completed"
            )
        ).all()
        review = next(e for e in steps if e.target.startswith("task:initial_review:"))
    answer = f"{review.target.split(':')[2]}|review_attendees"
    dsl = signed_in(app, school.dsl)

    no_reason = _correct(dsl, incident_id, answer, "DSL and the head of year", "  ")
    assert no_reason.status_code == 422
    assert "a correction needs a reason" in text_of(no_reason)

    done = _correct(dsl, incident_id, answer, "DSL and the head of year", "Deputy was absent")
    assert done.status_code == 302
    history = text_of(dsl.get(f"/incidents/{incident_id}/history"))
    assert "DSL, deputy DSL and the head of year" in history  # the old answer, kept
    assert "DSL and the head of year" in history
    assert "Deputy was absent" in history
    assert "Corrected an answer: Who took part (roles)" in history
    page = text_of(dsl.get(f"/incidents/{incident_id}"))
    assert "Answers corrected" in page

    auditor = signed_in(app, school.auditor)
    assert auditor.get(f"/incidents/{incident_id}/correct").status_code == 403
    staff = signed_in(app, school.staff)
    assert staff.get(f"/incidents/{incident_id}/correct").status_code == 403


def test_the_reporter_reads_no_history_and_downloads_nothing(
    app, web_runtime: Runtime, school: School
) -> None:
    incident_id = _s2(web_runtime, school)
    reporter = signed_in(app, school.staff)
    page = reporter.get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    assert "What happens next" not in text_of(page)  # the route is the record's
    for path in ("history", "history?format=csv", "record.pdf"):
        assert reporter.get(f"/incidents/{incident_id}/{path}").status_code == 403, path


def test_a_later_step_changing_an_earlier_answer_shows_old_to_new(
    app, web_runtime: Runtime, school: School
) -> None:
    actors = {"dsl": school.dsl.id, "headteacher": school.head.id, "staff": school.staff.id}
    incident_id = start_scenario(web_runtime, school.id, school.staff.id, "s8.json")
    run_steps(web_runtime, incident_id, "s8.json", actors, until="record_viewing")
    viewing = next(s for s in scenario_steps("s8.json") if s.get("complete") == "record_viewing")
    deps = web_runtime.bus.dependencies
    with deps.uow_factory() as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        definition = deps.definitions.get(uow, incident.definition_version_id)
        status = engine.get_status(definition, incident.state, deps.clock.now())
    task = next(t for t in status.ready if t.bpmn_id == "record_viewing")
    data = placeholder_data(task.form, {**viewing["data"], "unusual_or_violent_acts": True})
    web_runtime.bus.handle(CompleteTask(task.id, school.dsl.id, data))

    history = signed_in(app, school.auditor).get(f"/incidents/{incident_id}/history")
    changes = history.get_data(as_text=True).split('id="changes"')[1]
    text = " ".join(changes.replace("<", " <").split())
    assert "unusual for" in text and "Record the viewing" in text
    row = next(r for r in changes.split("<tr")[1:] if "unusual for" in r)
    cells = [c.split(">", 1)[1].split("<")[0].strip() for c in row.split("<td")[1:]]
    assert cells[1:3] == ["No", "Yes"]  # was, now
    listed = signed_in(app, school.dsl).get("/incidents?route=immediate").get_data(as_text=True)
    assert incident_id in listed  # the facts followed the new answer
