"""Moving running incidents to a newer version, through the API and the studio's pages, on real
databases: the preview, the audited move, the inbox following it, who may do it, a refused move
(a ready task that no longer exists, or a change since the preview) writing nothing."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import pytest
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from services.bootstrap import Runtime
from services.db.models import AuditEvent, CaseAnswer, HumanTask, Incident, OutboxMessage
from services.db.repositories.studio import StudioRepository
from services.domain.clock import FixedClock
from services.domain.commands import CompleteTask, DeployDefinitions, StartIncident
from services.domain.studio import migration
from services.domain.studio.policy import schools_where
from services.web.auth import issue_api_token
from tests.integration.service_fixtures import BPMN_DIR, disclosure_data, scenario_steps
from tests.integration.web_fixtures import (  # noqa: F401
    app,
    client,
    clock,
    form_csrf_token,
    login,
    make_user,
    web_runtime,
    web_settings,
)
from workflow import engine
from workflow.definition import load_definition
from workflow.model import SourceFile

DEFAULT_KEY = "sharing_nudes_response"
S1 = {step["complete"]: step["data"] for step in scenario_steps("s1.json")}


@dataclass(frozen=True)
class Member:
    """A person with one role in one school, and their API token."""

    id: int
    token: str


@dataclass(frozen=True)
class World:
    """A process of its own (no other test starts incidents on it) in three versions, a school
    running it with its people, and a process admin of another school.

    v2 moves the initial review to the headteacher's lane; v3 gives the risk assessment a new
    id, so an incident waiting at it cannot move to v3 (one still at the initial review can).
    """

    key: str
    school_id: int
    admin: Member
    auditor: Member
    staff: Member
    dsl: Member
    head: Member
    other_admin: Member


def _member(runtime: Runtime, school_id: int, role: str) -> Member:
    with runtime.unit_of_work() as uow:
        tag = secrets.token_hex(4)
        user = uow.users.add(f"{role}-{tag}@migration.test", f"{role} {tag}", "not-a-hash")
        user.totp_secret = "A" * 32
        uow.users.grant(user.id, school_id, role)
        token = issue_api_token(uow, user.id, "test")
        uow.commit()
        return Member(user.id, token)


def _files(key: str, change: Callable[[str], str] = lambda text: text) -> list[SourceFile]:
    main = BPMN_DIR / "sharing-nudes-response.bpmn"
    text = change(main.read_text(encoding="utf-8")).replace(DEFAULT_KEY, key)
    dmns = [SourceFile(p.name, p.read_bytes()) for p in sorted(BPMN_DIR.glob("*.dmn"))]
    return [SourceFile(main.name, text.encode("utf-8")), *dmns]


def _review_for_the_head(text: str) -> str:
    ref = "        <bpmn:flowNodeRef>{}</bpmn:flowNodeRef>\n"
    text = text.replace(ref.format("initial_review"), "", 1)
    text = text.replace(
        ref.format("agree_in_house"), ref.format("agree_in_house") + ref.format("initial_review"), 1
    )
    return text.replace(
        'camunda:formKey="initial_review" camunda:candidateGroups="dsl"',
        'camunda:formKey="initial_review" camunda:candidateGroups="headteacher"',
    )


def _risks_renamed(text: str) -> str:
    return text.replace("risk_assessment", "assess_risks")


def _store_version(runtime: Runtime, files: list[SourceFile]) -> None:
    # Stored as `safeguard init` would: the statutory gate is not what these tests are about.
    definition = load_definition(files)
    with runtime.unit_of_work() as uow:
        uow.definitions.deploy(
            definition.process_id, definition.name, definition.digest, definition.spec, files
        )
        uow.commit()


@pytest.fixture
def world(web_runtime: Runtime) -> World:
    key = f"migration_{secrets.token_hex(4)}"
    web_runtime.bus.handle(DeployDefinitions(_files(key), None))
    _store_version(web_runtime, _files(key, _review_for_the_head))
    _store_version(web_runtime, _files(key, _risks_renamed))
    with web_runtime.unit_of_work() as uow:
        tag = secrets.token_hex(4)
        school = uow.schools.add(f"Migration School {tag}", f"migration-{tag}").id
        other = uow.schools.add(f"Other Migration {tag}", f"migration-other-{tag}").id
        uow.commit()
    return World(
        key,
        school,
        _member(web_runtime, school, "process_admin"),
        _member(web_runtime, school, "auditor"),
        _member(web_runtime, school, "staff"),
        _member(web_runtime, school, "dsl"),
        _member(web_runtime, school, "headteacher"),
        _member(web_runtime, other, "process_admin"),
    )


def _on_v1(runtime: Runtime, world: World) -> str:
    """An incident started while v1 was its school's version (it waits at the initial review)."""
    with runtime.unit_of_work() as uow:
        repo = StudioRepository(uow.session)
        v1 = repo.version(world.key, 1)
        assert v1 is not None
        repo.choose(world.school_id, world.key, v1.id, None)
        uow.commit()
    started = runtime.bus.handle(
        StartIncident(world.school_id, world.staff.id, disclosure_data("Migration Test"), world.key)
    )
    assert started.incident_id is not None
    return started.incident_id


def call(
    client: FlaskClient, method: str, path: str, who: Member, body: Any = None
) -> TestResponse:
    headers = {"Authorization": f"Bearer {who.token}"}
    return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def _to_risks(runtime: Runtime, world: World, incident_id: str) -> None:
    """The DSL holds the initial review: the risk assessment is ready."""
    [row] = _ready(runtime, incident_id)
    runtime.bus.handle(CompleteTask(row.id, world.dsl.id, S1["initial_review"]))


def _snapshot(runtime: Runtime, incident_id: str) -> tuple[Any, ...]:
    with runtime.unit_of_work() as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        rows = [
            (t.id, t.bpmn_id, t.role, t.state, t.assignee_id)
            for t in uow.tasks.for_incident(incident_id)
        ]
        return (incident.state, incident.version_id, incident.definition_version_id, rows)


def _ready(runtime: Runtime, incident_id: str) -> list[HumanTask]:
    with runtime.unit_of_work() as uow:
        return list(uow.tasks.for_incident(incident_id, state="ready"))


def _answers(runtime: Runtime, incident_id: str) -> list[tuple[str, Any]]:
    """Every answer given (kept per completion) and the steps the engine state still holds."""
    with runtime.unit_of_work() as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        definition = runtime.bus.dependencies.definitions.get(uow, incident.definition_version_id)
        steps = engine.completed_steps(definition, incident.state)
        rows = uow.session.scalars(
            select(CaseAnswer).where(CaseAnswer.incident_id == incident_id).order_by(CaseAnswer.id)
        )
        given = [(row.bpmn_id, row.answers) for row in rows]
        return given + [("state:" + step.bpmn_id, step.data) for step in steps]


def _version_number(runtime: Runtime, incident_id: str) -> int:
    with runtime.unit_of_work() as uow:
        incident = uow.session.get(Incident, incident_id)
        assert incident is not None
        version = uow.definitions.get_version(incident.definition_version_id)
        assert version is not None
        return version.version


def test_an_incident_moves_audited_its_inbox_follows_and_it_completes_on_the_new_version(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    incident_id = _on_v1(web_runtime, world)
    answers = _answers(web_runtime, incident_id)
    path = f"/processes/{world.key}/versions/1/migration"

    preview = call(client, "GET", f"{path}?to=2", world.auditor)
    assert preview.status_code == 200, preview.get_json()
    shown = next(i for i in preview.get_json()["incidents"] if i["id"] == incident_id)
    assert shown["migratable"] is True
    assert shown["may_migrate"] is False  # an auditor reads, and moves nothing
    review = next(t for t in shown["tasks"] if t["bpmn_id"] == "initial_review")
    assert (review["outcome"], review["lane_before"], review["lane_after"]) == (
        "moved",
        "dsl",
        "headteacher",
    )
    assert shown["answers"] == [
        {"bpmn_id": "record_disclosure", "name": "Record the disclosure", "answers": 8}
    ]
    assert "Migration Test" not in preview.get_data(as_text=True)  # no personal details

    body = {
        "to": 2,
        "incident_ids": [incident_id],
        "expected_versions": {incident_id: shown["incident_version"]},
    }
    moved = call(client, "POST", path, world.admin, body)
    assert moved.status_code == 200, moved.get_json()
    assert [m["id"] for m in moved.get_json()["migrated"]] == [incident_id]
    assert moved.get_json()["refused"] == []

    assert _version_number(web_runtime, incident_id) == 2
    assert _answers(web_runtime, incident_id) == answers  # answers kept exactly
    [row] = _ready(web_runtime, incident_id)
    assert (row.bpmn_id, row.role) == ("initial_review", "headteacher")
    with web_runtime.unit_of_work() as uow:
        audit = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.incident_id == incident_id, AuditEvent.action == "incident.migrated"
            )
        ).one()
        assert audit.actor_id == world.admin.id
        assert audit.old_values == {"process_key": world.key, "version": 1}
        assert audit.new_values is not None and audit.new_values["version"] == 2
        assert {"bpmn_id": "initial_review", "outcome": "moved"}.items() <= next(
            t for t in audit.new_values["tasks"] if t["bpmn_id"] == "initial_review"
        ).items()
        ready_events = uow.session.scalars(
            select(OutboxMessage.routing_key).where(
                OutboxMessage.routing_key == f"school.{world.school_id}.role.headteacher.task.ready"
            )
        ).all()
        assert ready_events

    # The headteacher now does the review on v2; the incident runs on to its end there.
    for bpmn_id in [
        "initial_review",
        "risk_assessment",
        "agree_in_house",
        "talk_to_children",
        "inform_parents_and_carers",
        "containment",
        "confirm_deletion",
        "close_incident",
        "sign_off_closure",
        "plan_preventative_education",
    ]:
        [row] = _ready(web_runtime, incident_id)
        assert row.bpmn_id == bpmn_id
        actor = world.head if row.role == "headteacher" else world.dsl
        web_runtime.bus.handle(CompleteTask(row.id, actor.id, S1[bpmn_id]))
    assert _ready(web_runtime, incident_id) == []
    assert _version_number(web_runtime, incident_id) == 2
    given = [bpmn_id for bpmn_id, _ in _answers(web_runtime, incident_id)]
    assert "plan_preventative_education" in given and "sign_off_closure" in given


def test_a_ready_task_that_no_longer_exists_blocks_the_move_with_its_reason_and_writes_nothing(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    incident_id = _on_v1(web_runtime, world)
    _to_risks(web_runtime, world, incident_id)
    before = _snapshot(web_runtime, incident_id)
    path = f"/processes/{world.key}/versions/1/migration"
    preview = call(client, "GET", f"{path}?to=3", world.admin).get_json()
    shown = next(i for i in preview["incidents"] if i["id"] == incident_id)
    assert shown["migratable"] is False
    assert (
        "'Assess the risks' (risk_assessment), ready on this incident, no longer exists in the "
        "new version" in shown["blocked"]
    )
    task = next(t for t in shown["tasks"] if t["bpmn_id"] == "risk_assessment")
    assert task["outcome"] == "blocked"

    refused = call(client, "POST", path, world.admin, {"to": 3, "incident_ids": [incident_id]})
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "not_migrated"
    assert "risk_assessment" in error["message"]
    everything = call(client, "POST", path, world.admin, {"to": 3, "all": True})
    assert everything.status_code == 409
    assert _snapshot(web_runtime, incident_id) == before
    with web_runtime.unit_of_work() as uow:
        actions = uow.session.scalars(
            select(AuditEvent.action).where(AuditEvent.incident_id == incident_id)
        ).all()
        assert "incident.migrated" not in actions


def test_a_change_since_the_preview_refuses_the_move_and_writes_nothing(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    incident_id = _on_v1(web_runtime, world)
    path = f"/processes/{world.key}/versions/1/migration"
    preview = call(client, "GET", f"{path}?to=2", world.admin).get_json()
    seen = next(i for i in preview["incidents"] if i["id"] == incident_id)["incident_version"]
    _to_risks(web_runtime, world, incident_id)  # the DSL moves it on meanwhile
    before = _snapshot(web_runtime, incident_id)

    body = {"to": 2, "incident_ids": [incident_id], "expected_versions": {incident_id: seen}}
    refused = call(client, "POST", path, world.admin, body)
    assert refused.status_code == 409
    assert "changed since the preview was read" in refused.get_json()["error"]["message"]
    assert _snapshot(web_runtime, incident_id) == before
    assert _version_number(web_runtime, incident_id) == 1


def test_only_a_process_admin_of_the_incidents_school_moves_it(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    incident_id = _on_v1(web_runtime, world)
    before = _snapshot(web_runtime, incident_id)
    path = f"/processes/{world.key}/versions/1/migration"
    body = {"to": 2, "incident_ids": [incident_id]}
    for who in (world.auditor, world.staff, world.dsl, world.other_admin):
        assert call(client, "POST", path, who, body).status_code == 403
    assert call(client, "GET", f"{path}?to=2", world.staff).status_code == 403
    # "All" moves only incidents of the caller's schools: none of this school's.
    everything = call(client, "POST", path, world.other_admin, {"to": 2, "all": True})
    assert everything.status_code == 200
    assert everything.get_json()["migrated"] == []
    assert _snapshot(web_runtime, incident_id) == before


def test_the_preview_lists_only_the_callers_schools_incidents_and_is_audited(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    incident_id = _on_v1(web_runtime, world)
    path = f"/processes/{world.key}/versions/1/migration"
    elsewhere = call(client, "GET", f"{path}?to=2", world.other_admin)
    assert elsewhere.status_code == 200, elsewhere.get_json()
    body = elsewhere.get_json()
    assert incident_id not in elsewhere.get_data(as_text=True)  # counted, never listed
    assert body["incidents"] == [] and body["open_not_shown"] >= 1
    mine = call(client, "GET", f"{path}?to=2", world.admin).get_json()
    assert incident_id in [i["id"] for i in mine["incidents"]]
    with web_runtime.session_factory() as session:
        reads = session.execute(
            select(AuditEvent.actor_id, AuditEvent.new_values)
            .where(AuditEvent.action == "incidents.migration_previewed")
            .order_by(AuditEvent.id)
        ).all()
    actors = [actor for actor, _ in reads]
    assert world.other_admin.id not in actors  # they read nothing of this school's
    assert incident_id in [
        v for actor, values in reads if actor == world.admin.id for v in values["incident_ids"]
    ]


def test_the_cap_keeps_the_callers_own_incidents_however_many_others_are_open(
    client: FlaskClient,
    world: World,
    web_runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    clock: FixedClock,
) -> None:
    _on_v1(web_runtime, world)  # the earlier incident, of a school the other admin cannot read
    clock.advance(timedelta(minutes=5))
    with web_runtime.unit_of_work() as uow:
        (other,) = schools_where(uow, world.other_admin.id, "process_admin")
        repo = StudioRepository(uow.session)
        version = repo.version(world.key, 1)
        assert version is not None
        repo.choose(other, world.key, version.id, None)
        uow.commit()
    staff = _member(web_runtime, other, "staff")
    started = StartIncident(other, staff.id, disclosure_data("Cap"), world.key)
    theirs = web_runtime.bus.handle(started).incident_id
    monkeypatch.setattr(migration, "MAX_INCIDENTS", 1)
    path = f"/processes/{world.key}/versions/1/migration?to=2"
    body = call(client, "GET", path, world.other_admin).get_json()
    assert [i["id"] for i in body["incidents"]] == [theirs]
    assert body["open_not_shown"] == 1


def test_someone_excluded_from_an_incident_neither_sees_nor_moves_it(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    incident_id = _on_v1(web_runtime, world)
    with web_runtime.unit_of_work() as uow:
        for who in (world.auditor, world.admin):
            uow.incidents.exclude(incident_id, who.id, "a relative of the child", None)
        uow.commit()
    before = _snapshot(web_runtime, incident_id)
    path = f"/processes/{world.key}/versions/1/migration"
    for who in (world.auditor, world.admin):
        body = call(client, "GET", f"{path}?to=2", who).get_json()
        assert incident_id not in [i["id"] for i in body["incidents"]]
        assert body["open_not_shown"] >= 1
    named = call(client, "POST", path, world.admin, {"to": 2, "incident_ids": [incident_id]})
    assert named.status_code == 404  # as for an incident that does not exist
    everything = call(client, "POST", path, world.admin, {"to": 2, "all": True})
    assert incident_id not in [m["id"] for m in everything.get_json().get("migrated", [])]
    assert _snapshot(web_runtime, incident_id) == before


def test_bad_requests_are_located_422s(client: FlaskClient, world: World) -> None:
    path = f"/processes/{world.key}/versions/1/migration"
    assert client.get(f"/api/v1{path}?to=2").status_code == 401  # bearer tokens only
    assert call(client, "GET", path, world.admin).status_code == 422  # no ?to=
    assert call(client, "GET", f"{path}?to=1", world.admin).status_code == 422  # not newer
    assert call(client, "GET", f"{path}?to=9", world.admin).status_code == 404
    for body, field in [
        ({"to": 2}, "incident_ids"),
        ({"to": 2, "all": False}, "all"),
        ({"to": 2, "incident_ids": "x"}, "incident_ids"),
        ({"to": 2, "all": True, "incident_ids": ["x"]}, "incident_ids"),
        ({"to": 2, "all": True, "expected_versions": {"x": "1"}}, "expected_versions"),
        ({"to": 2, "all": True, "colour": "red"}, "colour"),
    ]:
        refused = call(client, "POST", path, world.admin, body)
        assert refused.status_code == 422, body
        assert field in refused.get_json()["error"]["fields"], body


def test_the_page_previews_and_moves_an_incident(
    client: FlaskClient, world: World, web_runtime: Runtime, make_user: Any
) -> None:
    incident_id = _on_v1(web_runtime, world)
    admin = make_user("process_admin", school_id=world.school_id)
    login(client, admin.email)
    assert client.get(f"/studio/processes/{world.key}/versions/9/migration").status_code == 404
    impact = client.get(f"/studio/processes/{world.key}/versions/1/impact")
    assert f"/studio/processes/{world.key}/versions/1/migration" in impact.get_data(as_text=True)
    page = client.get(f"/studio/processes/{world.key}/versions/1/migration?to=2")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Moves from the dsl lane" in html or "moves from the dsl lane" in html
    with web_runtime.unit_of_work() as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        reference, seen = incident.reference, incident.version_id
    moved = client.post(
        f"/studio/processes/{world.key}/versions/1/migration",
        data={
            "csrf_token": form_csrf_token(html),
            "to": "2",
            "incident_id": incident_id,
            f"version-{incident_id}": str(seen),
        },
    )
    assert moved.status_code == 200
    assert "1 moved" in moved.get_data(as_text=True)
    assert reference in moved.get_data(as_text=True)
    assert _version_number(web_runtime, incident_id) == 2


def test_auditors_read_the_preview_page_and_are_refused_the_move(
    client: FlaskClient, world: World, web_runtime: Runtime, make_user: Any
) -> None:
    incident_id = _on_v1(web_runtime, world)
    _to_risks(web_runtime, world, incident_id)
    before = _snapshot(web_runtime, incident_id)
    auditor = make_user("auditor", school_id=world.school_id)
    login(client, auditor.email)
    page = client.get(f"/studio/processes/{world.key}/versions/1/migration")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "to version 3" in html  # the newest version, unless another is chosen
    assert "no longer exists in the new version" in html
    assert "<button" in html and "Move all" not in html  # only the version chooser
    refused = client.post(
        f"/studio/processes/{world.key}/versions/1/migration",
        data={"csrf_token": form_csrf_token(html), "to": "2", "incident_id": incident_id},
    )
    assert refused.status_code == 403
    assert _snapshot(web_runtime, incident_id) == before


def test_all_that_can_move_do_and_those_that_cannot_are_listed_with_their_reason(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    early = _on_v1(web_runtime, world)  # at the initial review: v3 changes nothing for it
    waiting = _on_v1(web_runtime, world)
    _to_risks(web_runtime, world, waiting)  # at the risk assessment, which v3 no longer has
    answers = _answers(web_runtime, early)
    stuck = _snapshot(web_runtime, waiting)

    path = f"/processes/{world.key}/versions/1/migration"
    result = call(client, "POST", path, world.admin, {"to": 3, "all": True})
    assert result.status_code == 200, result.get_json()
    assert [m["id"] for m in result.get_json()["migrated"]] == [early]
    [refused] = result.get_json()["refused"]
    assert refused["id"] == waiting
    assert "(risk_assessment), ready on this incident, no longer exists" in refused["reason"]
    assert _version_number(web_runtime, early) == 3
    assert _answers(web_runtime, early) == answers
    assert _snapshot(web_runtime, waiting) == stuck


def test_the_page_moves_all_it_showed_could_move(
    client: FlaskClient, world: World, web_runtime: Runtime, make_user: Any
) -> None:
    first, second = _on_v1(web_runtime, world), _on_v1(web_runtime, world)
    admin = make_user("process_admin", school_id=world.school_id)
    login(client, admin.email)
    path = f"/studio/processes/{world.key}/versions/1/migration"
    page = html.fromstring(client.get(f"{path}?to=2").get_data(as_text=True))
    [form] = cast(list[Any], page.xpath("//form[.//button[@id='migrate-all']]"))
    fields = [(str(i.get("name")), str(i.get("value"))) for i in form.xpath(".//input")]
    assert sorted(v for n, v in fields if n == "incident_id") == sorted([first, second])
    later = _on_v1(web_runtime, world)  # not on the page the admin read: it stays

    moved = client.post(path, data=MultiDict(fields))
    assert moved.status_code == 200
    assert "2 moved" in moved.get_data(as_text=True)
    assert [_version_number(web_runtime, i) for i in (first, second, later)] == [2, 2, 1]
