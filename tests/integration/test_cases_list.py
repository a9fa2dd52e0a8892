"""The incidents list and search through the real app, under the access matrix.

Every person x relationship x school: a row appears exactly when the incident page would
open for them without break-glass, and searching answers finds only what they may read.
Runs on SQLite and PostgreSQL.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

from sqlalchemy import select

from services.bootstrap import Runtime
from services.db.models import AuditEvent
from services.domain.commands import ExcludePerson
from tests.integration.case_helpers import run_steps, start_scenario
from tests.integration.test_web_incidents import (  # noqa: F401  # fixtures, found by name
    MARKER,
    School,
    deployed,
    school,
    signed_in,
    start_incident,
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

# Who sees the incident in the list without break-glass (reporter = staff, who completed a task).
SEES = {
    "staff": True,
    "bystander": False,
    "dsl": True,
    "deputy": True,
    "head": True,
    "auditor": True,
    "admin": False,
    "outsider": False,
}


def _audit(runtime: Runtime, action: str, actor: int) -> list[AuditEvent]:
    with runtime.bus.dependencies.uow_factory() as uow:
        query = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.actor_id == actor)
        return list(uow.session.scalars(query.order_by(AuditEvent.id)))


def test_list_and_search_leak_nothing_across_the_access_matrix(
    app, web_runtime: Runtime, school: School
) -> None:
    incident_id = start_incident(web_runtime, school)
    reference_of = None
    for name, user in school.by_role().items():
        browser = signed_in(app, user)
        listing = browser.get("/incidents")
        searched = browser.get(f"/incidents?q={MARKER.lower()}&school={user.school_id}")
        assert listing.status_code == 200, name
        assert searched.status_code == 200, name
        seen = incident_id in listing.get_data(as_text=True)
        found = incident_id in searched.get_data(as_text=True)
        assert seen is SEES[name], name
        assert found is SEES[name], name
        assert MARKER not in listing.get_data(as_text=True)  # the list shows no answers
        if seen:
            reference_of = text_of(listing)
        audited = _audit(web_runtime, "incidents.listed", user.id)
        assert len(audited) == 2, name
        words = audited[-1].new_values or {}
        assert words["search_length"] == len(MARKER)
        assert MARKER.lower() not in str(words).lower()  # the words are never stored
        assert words["search_hmac"]
    assert reference_of is not None


def test_an_excluded_dsl_never_sees_the_row(app, web_runtime: Runtime, school: School) -> None:
    incident_id = start_incident(web_runtime, school)
    web_runtime.bus.handle(ExcludePerson(incident_id, school.head.id, school.deputy.id, "Related"))
    browser = signed_in(app, school.deputy)
    assert incident_id not in browser.get("/incidents").get_data(as_text=True)
    assert incident_id not in browser.get(f"/incidents?q={MARKER}").get_data(as_text=True)


def test_filters_by_route_criterion_status_and_reference(
    app, web_runtime: Runtime, school: School
) -> None:
    actors = {"dsl": school.dsl.id, "headteacher": school.head.id, "staff": school.staff.id}
    adult = start_scenario(web_runtime, school.id, school.staff.id, "s2.json")
    run_steps(web_runtime, adult, "s2.json", actors, until="refer_to_agencies")
    other = start_incident(web_runtime, school)
    browser = signed_in(app, school.dsl)

    def ids(query: str) -> set[str]:
        body = browser.get(f"/incidents?{query}").get_data(as_text=True)
        return {i for i in (adult, other) if i in body}

    assert ids("route=immediate") == {adult}
    assert ids("route=immediate:adult_involved") == {adult}
    assert ids("route=immediate&criterion=coercion_or_grooming") == set()
    assert ids("route=undecided") == {other}
    assert ids("status=open") == {adult, other}
    assert ids("status=closed") == set()
    page = browser.get("/incidents?route=immediate")
    assert "An adult is involved" in text_of(page)  # the criterion in words, not its id


def test_bad_filters_are_named_and_refused(app, school: School) -> None:
    browser = signed_in(app, school.dsl)
    page = browser.get("/incidents?status=maybe&from=yesterday&route=sideways")
    assert page.status_code == 422
    text = text_of(page)
    assert "Status must be one of: open, closed" in text
    assert "Reported from must be a date written as YYYY-MM-DD" in text
    assert "Route must be one of" in text


def test_search_finds_words_only_in_steps_the_searcher_may_read(
    app, web_runtime: Runtime, school: School
) -> None:
    # The reporter reads their own report, not the DSL's review: searching for words only the
    # review holds must not tell them the incident matches.
    actors = {"dsl": school.dsl.id, "headteacher": school.head.id, "staff": school.staff.id}
    incident_id = start_scenario(web_runtime, school.id, school.staff.id, "s2.json")
    run_steps(web_runtime, incident_id, "s2.json", actors, until="refer_to_agencies")
    review_words = "deputy dsl and the head of year"  # S2's review_attendees
    for name, expected in (("staff", False), ("dsl", True), ("auditor", True), ("head", True)):
        browser = signed_in(app, school.by_role()[name])
        body = browser.get(f"/incidents?q={review_words}").get_data(as_text=True)
        assert (incident_id in body) is expected, name
    reporter = signed_in(app, school.staff)
    own_words = "19-year-old they met online"  # in the reporter's own report
    assert incident_id in reporter.get(f"/incidents?q={own_words}").get_data(as_text=True)
