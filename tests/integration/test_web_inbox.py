"""The inbox through the real app: my tasks and my roles' tasks per school, overdue first, pages;
claim, hand back and reassign, each audited with who and why. SQLite and PostgreSQL."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.test import TestResponse

from services.bootstrap import Runtime
from services.domain.clock import FixedClock
from tests.integration.test_web_incidents import (  # noqa: F401  # fixtures, found by name
    MakeUser,
    School,
    audit_rows,
    deployed,
    incident_state_reference,
    links,
    post_with_token,
    ready_task_id,
    school,
    signed_in,
    start_incident,
    submit,
    task_rows,
    text_of,
    title_of,
    tree_of,
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


def table_rows(response: TestResponse, caption: str) -> list[str]:
    """The text of each row of the table with this caption."""
    tables = tree_of(response).xpath(f"//table[caption[normalize-space()='{caption}']]")
    if not tables:
        return []
    return [" ".join(row.text_content().split()) for row in tables[0].xpath(".//tbody/tr")]


def test_the_inbox_lists_my_roles_tasks_overdue_first_and_links_them(
    app: Flask, school: School, web_runtime: Runtime, clock: FixedClock
) -> None:
    older = start_incident(web_runtime, school)
    clock.advance(timedelta(days=2))  # the first incident's initial review (due in a day) is late
    newer = start_incident(web_runtime, school)
    dsl = signed_in(app, school.dsl)
    inbox = dsl.get("/inbox")
    assert inbox.status_code == 200
    rows = table_rows(inbox, "For your roles")
    mine = [
        r
        for r in rows
        if incident_state_reference(web_runtime, older) in r
        or incident_state_reference(web_runtime, newer) in r
    ]
    assert len(mine) == 2
    assert incident_state_reference(web_runtime, older) in mine[0] and "Overdue" in mine[0]
    assert "Overdue" not in mine[1]
    task_id = ready_task_id(web_runtime, older, "initial_review")
    assert (f"/incidents/{older}/tasks/{task_id}", "Hold the initial review meeting") in links(
        inbox, f"/incidents/{older}/tasks/.+"
    )
    assert links(inbox, f"/inbox/incidents/{older}/tasks/{task_id}/assign")  # a DSL reassigns
    # Staff and the headteacher have nothing for the initial review; auditors never act.
    for user in (school.staff, school.head):
        assert incident_state_reference(web_runtime, older) not in text_of(
            signed_in(app, user).get("/inbox")
        )
    auditor_inbox = signed_in(app, school.auditor).get("/inbox")
    assert "do not take tasks" in text_of(auditor_inbox)


def test_claiming_moves_a_task_to_me_hides_it_from_others_and_is_audited(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    reference = incident_state_reference(web_runtime, incident_id)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    dsl, deputy = signed_in(app, school.dsl), signed_in(app, school.deputy)

    claimed = post_with_token(dsl, f"/inbox/tasks/{task_id}/claim", {"next": "/inbox"})
    assert claimed.status_code == 302 and claimed.headers["Location"] == "/inbox"
    inbox = dsl.get("/inbox")
    assert "You have claimed a task of incident" in text_of(inbox)
    assert any(reference in row for row in table_rows(inbox, "Claimed by you"))
    assert reference not in text_of(deputy.get("/inbox"))
    [row] = audit_rows(web_runtime, incident_id, "task.claimed")
    assert (row.actor_id, row.old_values, row.new_values) == (
        school.dsl.id,
        {"assignee_id": None},
        {"assignee_id": school.dsl.id},
    )
    taken = post_with_token(deputy, f"/inbox/tasks/{task_id}/claim", {})
    assert taken.status_code == 409 and "being handled by someone else" in text_of(taken)
    # Only the claimer may complete it now.
    assert deputy.get(f"/incidents/{incident_id}/tasks/{task_id}").status_code == 403

    handed_back = post_with_token(
        dsl, f"/inbox/tasks/{task_id}/unclaim", {"next": "//evil.example/"}
    )
    assert handed_back.status_code == 302 and handed_back.headers["Location"] == "/inbox"
    assert any(reference in row for row in table_rows(deputy.get("/inbox"), "For your roles"))
    [row] = audit_rows(web_runtime, incident_id, "task.unclaimed")
    assert row.actor_id == school.dsl.id and row.new_values == {"assignee_id": None}


def test_a_dsl_reassigns_a_task_to_cover_an_absence_and_the_reason_is_audited(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    reference = incident_state_reference(web_runtime, incident_id)
    task_id = ready_task_id(web_runtime, incident_id, "initial_review")
    dsl = signed_in(app, school.dsl)
    path = f"/inbox/incidents/{incident_id}/tasks/{task_id}/assign"
    form_page = dsl.get(path)
    assert form_page.status_code == 200
    choices = tree_of(form_page).xpath("//input[@name='assignee']/@value")
    # Only people holding the task's role are offered (the two DSLs), and "back to the role".
    assert set(choices) == {"role", str(school.dsl.id), str(school.deputy.id)}

    no_reason = submit(dsl, path, {"assignee": str(school.deputy.id), "reason": "  "})
    assert no_reason.status_code == 422 and title_of(no_reason).startswith("Error: ")
    not_offered = submit(dsl, path, {"assignee": str(school.staff.id), "reason": "x"})
    assert not_offered.status_code == 422
    assert audit_rows(web_runtime, incident_id, "task.assigned") == []

    done = submit(dsl, path, {"assignee": str(school.deputy.id), "reason": "The DSL is away"})
    assert done.status_code == 302 and done.headers["Location"] == f"/incidents/{incident_id}"
    assert "is now with" in text_of(dsl.get(f"/incidents/{incident_id}"))
    [row] = audit_rows(web_runtime, incident_id, "task.assigned")
    assert (row.actor_id, row.reason, row.new_values) == (
        school.dsl.id,
        "The DSL is away",
        {"assignee_id": school.deputy.id},
    )
    deputy_inbox = signed_in(app, school.deputy).get("/inbox")
    assert any(reference in row for row in table_rows(deputy_inbox, "Claimed by you"))

    # The headteacher may reassign it back to the role (e.g. the deputy is off sick too).
    head = signed_in(app, school.head)
    back = submit(head, path, {"assignee": "role", "reason": "The deputy is off sick"})
    assert back.status_code == 302
    assert [t[3] for t in task_rows(web_runtime, incident_id) if t[1] == task_id] == [None]
    reasons = [r.reason for r in audit_rows(web_runtime, incident_id, "task.assigned")]
    assert reasons == ["The DSL is away", "The deputy is off sick"]
    history = text_of(head.get(f"/incidents/{incident_id}"))
    assert (
        "Reassigned: Hold the initial review meeting" in history
        and "The deputy is off sick" in history
    )


def test_the_inbox_is_paginated(app: Flask, school: School, web_runtime: Runtime) -> None:
    for _ in range(27):
        start_incident(web_runtime, school)
    dsl = signed_in(app, school.dsl)
    first = dsl.get(f"/inbox?school={school.id}")
    assert len(table_rows(first, "For your roles")) == 25
    [(next_url, _)] = links(first, r"/inbox\?school=\d+&page=2")
    second = dsl.get(next_url)
    assert len(table_rows(second, "For your roles")) == 2
    assert links(second, r"/inbox\?school=\d+&page=1")
    first_refs = {row.split()[0] for row in table_rows(first, "For your roles")}
    second_refs = {row.split()[0] for row in table_rows(second, "For your roles")}
    assert not first_refs & second_refs


def test_people_in_several_schools_see_one_school_at_a_time_and_no_other(
    app: Flask, school: School, make_user: MakeUser, web_runtime: Runtime
) -> None:
    with web_runtime.unit_of_work() as uow:
        uow.users.grant(school.dsl.id, school.outsider.school_id, "dsl")
        uow.commit()
    incident_id = start_incident(web_runtime, school)
    reference = incident_state_reference(web_runtime, incident_id)
    dsl = signed_in(app, school.dsl)
    here = dsl.get(f"/inbox?school={school.id}")
    assert reference in text_of(here)
    assert links(here, rf"/inbox\?school={school.outsider.school_id}")
    there = dsl.get(f"/inbox?school={school.outsider.school_id}")
    assert there.status_code == 200 and reference not in text_of(there)
    stranger = make_user("staff")
    assert dsl.get(f"/inbox?school={stranger.school_id}").status_code == 404
