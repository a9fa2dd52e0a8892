"""The process studio through its JSON API on real databases: hostile uploads, the statutory
gate, four eyes, conflicts, publishing and each school's version (with rollback)."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from services.bootstrap import Runtime
from services.db.models import AuditEvent, Incident, ProcessDraft
from services.domain.commands import DeployDefinitions, StartIncident
from services.web.auth import issue_api_token
from tests.integration.service_fixtures import (
    BPMN_DIR,
    default_bundle,
    default_bundle_again,
    disclosure_data,
)
from tests.integration.web_fixtures import (  # noqa: F401
    app,
    client,
    clock,
    web_runtime,
    web_settings,
)

KEY = "sharing_nudes_response"
BPMN_NAME = "sharing-nudes-response.bpmn"
DMN_NAME = "immediate-referral.dmn"
NEW_LABEL = "How did it come to light? (local words)"


@dataclass(frozen=True)
class Member:
    """A person with one role in one school, and their API token."""

    id: int
    token: str


@dataclass(frozen=True)
class World:
    """A school with two process admins, an auditor, staff, and a second school."""

    school_id: int
    other_school_id: int
    author: Member
    approver: Member
    auditor: Member
    staff: Member
    other_admin: Member  # a process admin of the other school only


def _member(runtime: Runtime, school_id: int, role: str) -> Member:
    with runtime.unit_of_work() as uow:
        tag = secrets.token_hex(4)
        user = uow.users.add(f"{role}-{tag}@studio.test", f"{role} {tag}", "not-a-hash")
        user.totp_secret = "A" * 32
        uow.users.grant(user.id, school_id, role)
        token = issue_api_token(uow, user.id, "test")
        uow.commit()
        return Member(user.id, token)


@pytest.fixture
def world(web_runtime: Runtime) -> Iterator[World]:
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    with web_runtime.unit_of_work() as uow:
        tag = secrets.token_hex(4)
        school = uow.schools.add(f"Studio School {tag}", f"studio-{tag}").id
        other = uow.schools.add(f"Other Studio {tag}", f"studio-other-{tag}").id
        uow.commit()
    yield World(
        school,
        other,
        _member(web_runtime, school, "process_admin"),
        _member(web_runtime, school, "process_admin"),
        _member(web_runtime, school, "auditor"),
        _member(web_runtime, school, "staff"),
        _member(web_runtime, other, "process_admin"),
    )
    # A version published here would be the latest for every school the session's other tests
    # make later (they run interleaved with these under pytest-xdist): the default is again.
    web_runtime.bus.handle(DeployDefinitions(default_bundle_again(), None))


def call(
    client: FlaskClient, method: str, path: str, who: Member, body: Any = None
) -> TestResponse:
    headers = {"Authorization": f"Bearer {who.token}"}
    return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def default_files(bpmn: str | None = None) -> dict[str, str]:
    text = (BPMN_DIR / BPMN_NAME).read_text(encoding="utf-8")
    return {
        BPMN_NAME: text if bpmn is None else bpmn,
        DMN_NAME: (BPMN_DIR / DMN_NAME).read_text(encoding="utf-8"),
    }


def relabelled() -> str:
    text = (BPMN_DIR / BPMN_NAME).read_text(encoding="utf-8")
    return text.replace('label="How did it come to light?"', f'label="{NEW_LABEL}"', 1)


def new_draft(client: FlaskClient, who: Member, files: dict[str, str]) -> dict[str, Any]:
    response = call(client, "POST", f"/processes/{KEY}/drafts", who, {"files": files, "note": "t"})
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def drafts_in_db(runtime: Runtime) -> int:
    with runtime.unit_of_work() as uow:
        return len(list(uow.session.scalars(select(ProcessDraft.id))))


HOSTILE = {
    "xxe": (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;'
        "</bpmn:definitions>",
        "DOCTYPE/entity declarations are not allowed",
    ),
    "bomb": (
        '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>',
        "DOCTYPE/entity declarations are not allowed",
    ),
    "malformed": (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n<bpmn:process',
        "malformed XML at line 2",
    ),
    "wrong root": ("<html><body>hello</body></html>", "root element is <html>"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_upload_gets_a_located_422_and_stores_nothing(
    client: FlaskClient, world: World, web_runtime: Runtime, kind: str
) -> None:
    content, expected = HOSTILE[kind]
    response = call(
        client, "POST", f"/processes/{KEY}/drafts", world.author, {"files": {"x.bpmn": content}}
    )
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "definition_invalid"
    [problem] = error["problems"]
    assert problem["file"] == "x.bpmn"
    assert expected in problem["message"]
    assert drafts_in_db(web_runtime) == 0


def test_a_body_past_the_api_limit_is_a_413_and_stores_nothing(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    huge = "<x>" + "a" * (2 * 1024 * 1024 + 10) + "</x>"
    response = call(
        client, "POST", f"/processes/{KEY}/drafts", world.author, {"files": {"x.bpmn": huge}}
    )
    assert response.status_code == 413
    assert drafts_in_db(web_runtime) == 0


def test_text_that_cannot_be_stored_is_a_422(client: FlaskClient, world: World) -> None:
    files = {"x.bpmn": "<x>\ud800</x>"}
    response = call(client, "POST", f"/processes/{KEY}/drafts", world.author, {"files": files})
    assert response.status_code == 422


def test_a_file_name_that_is_not_a_diagram_is_refused(client: FlaskClient, world: World) -> None:
    files = {"../../etc/passwd": "<x/>"}
    response = call(client, "POST", f"/processes/{KEY}/drafts", world.author, {"files": files})
    assert response.status_code == 422
    assert (
        "plain name ending .bpmn or .dmn" in response.get_json()["error"]["problems"][0]["message"]
    )


def test_an_absurd_timer_is_a_located_problem_of_the_draft(
    client: FlaskClient, world: World
) -> None:
    text = (BPMN_DIR / BPMN_NAME).read_text().replace("'P1D'", "'P99999Y'", 1)
    draft = new_draft(client, world.author, default_files(text))
    assert draft["passed"] is False
    [problem] = draft["problems"]
    assert problem["element_id"] == "initial_review"
    assert problem["file"] == BPMN_NAME
    assert problem["line"] > 0
    assert "more than 10 years" in problem["message"]
    refused = call(client, "POST", f"/drafts/{draft['id']}/approve", world.approver)
    assert refused.status_code == 409


def test_an_inverted_referral_condition_is_blocked_naming_the_scenario(
    client: FlaskClient, world: World
) -> None:
    text = (
        (BPMN_DIR / BPMN_NAME)
        .read_text()
        .replace("immediate_referral == True", "immediate_referral == False")
    )
    draft = new_draft(client, world.author, default_files(text))
    assert draft["passed"] is False
    adult = next(s for s in draft["scenarios"] if s["name"] == "referral-adult-involved")
    assert adult["statutory"] is True
    assert adult["passed"] is False
    assert "reaches refer_to_agencies" in adult["expected"]
    assert "risk_assessment" in adult["taken"]
    refused = call(client, "POST", f"/drafts/{draft['id']}/approve", world.approver)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "checks_failed"
    assert "statutory scenario 'referral-adult-involved' failed" in error["message"]


def test_four_eyes_void_on_change_publish_and_version_per_school(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    before = web_runtime.bus.handle(
        StartIncident(world.school_id, world.staff.id, disclosure_data("Studio Test"))
    )
    # Other tests of the session deploy versions too: count from what is there now.
    v1 = _version_of(web_runtime, before.incident_id)
    draft = new_draft(client, world.author, default_files(relabelled()))
    assert draft["passed"] is True, draft["problems"] or draft["scenarios"]
    assert any(NEW_LABEL in change["text"] for change in draft["diff"])
    path = f"/drafts/{draft['id']}"

    assert call(client, "POST", f"{path}/approve", world.author).status_code == 403
    assert call(client, "POST", f"{path}/approve", world.auditor).status_code == 403
    assert call(client, "POST", f"{path}/publish", world.author).status_code == 409
    approved = call(client, "POST", f"{path}/approve", world.approver)
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["state"] == "approved"

    # Any change voids the approval; the approver, having now changed it, cannot approve it.
    files = default_files(relabelled().replace("Record the disclosure", "Record what was said", 1))
    saved = call(client, "PUT", path, world.approver, {"files": files, "revision": 1})
    assert saved.status_code == 200, saved.get_json()
    assert (saved.get_json()["state"], saved.get_json()["revision"]) == ("draft", 2)
    assert call(client, "POST", f"{path}/publish", world.author).status_code == 409
    assert call(client, "POST", f"{path}/approve", world.approver).status_code == 403
    third = _member(web_runtime, world.school_id, "process_admin")
    assert call(client, "POST", f"{path}/approve", third).status_code == 200

    published = call(client, "POST", f"{path}/publish", world.author, {"note": "local words"})
    assert published.status_code == 200, published.get_json()
    v2 = published.get_json()["version"]
    assert v2 > v1

    # The author's school runs the new version; the other school stays on the one it ran.
    listing = call(client, "GET", "/processes", world.auditor).get_json()["processes"]
    process = next(p for p in listing if p["process_key"] == KEY)
    by_school = {s["id"]: s["version"] for s in process["schools"]}
    assert by_school[world.school_id] == v2
    assert by_school[world.other_school_id] == v1
    shown = next(v for v in process["versions"] if v["version"] == v2)
    assert shown["note"] == "local words"
    assert shown["approver"] is not None

    after = web_runtime.bus.handle(
        StartIncident(world.school_id, world.staff.id, disclosure_data("Studio Test"))
    )
    elsewhere_staff = _member(web_runtime, world.other_school_id, "staff")
    elsewhere = web_runtime.bus.handle(
        StartIncident(world.other_school_id, elsewhere_staff.id, disclosure_data("Studio Test"))
    )
    assert _version_of(web_runtime, before.incident_id) == v1  # running incidents stay put
    assert _version_of(web_runtime, after.incident_id) == v2
    assert _version_of(web_runtime, elsewhere.incident_id) == v1

    # Rollback: one audited action; nothing is deleted.
    body = {"process_key": KEY, "version": v1}
    other = call(
        client, "POST", f"/schools/{world.school_id}/process-version", world.other_admin, body
    )
    assert other.status_code == 403
    rolled = call(client, "POST", f"/schools/{world.school_id}/process-version", world.author, body)
    assert rolled.status_code == 200
    again = web_runtime.bus.handle(
        StartIncident(world.school_id, world.staff.id, disclosure_data("Studio Test"))
    )
    assert _version_of(web_runtime, again.incident_id) == v1
    with web_runtime.unit_of_work() as uow:
        actions = set(uow.session.scalars(select(AuditEvent.action)))
    assert {
        "studio.draft_created",
        "studio.draft_approved",
        "studio.approval_voided",
        "studio.version_published",
        "studio.version_rolled_back",
    } <= actions


def _version_of(runtime: Runtime, incident_id: str | None) -> int:
    with runtime.unit_of_work() as uow:
        incident = uow.session.get(Incident, incident_id)
        assert incident is not None
        version = uow.definitions.get_version(incident.definition_version_id)
        assert version is not None
        return version.version


def test_a_second_save_on_the_same_revision_gets_a_conflict_showing_both(
    client: FlaskClient, world: World
) -> None:
    draft = new_draft(client, world.author, default_files())
    path = f"/drafts/{draft['id']}"
    first = call(
        client, "PUT", path, world.author, {"files": default_files(relabelled()), "revision": 1}
    )
    assert first.status_code == 200
    mine = default_files(relabelled().replace("Record the disclosure", "Mine", 1))
    second = call(client, "PUT", path, world.approver, {"files": mine, "revision": 1})
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert error["code"] == "draft_changed"
    assert error["yours"] == {"revision": 1}
    assert error["theirs"]["revision"] == 2
    assert NEW_LABEL in error["theirs"]["files"][BPMN_NAME]
    assert call(client, "GET", path, world.author).get_json()["revision"] == 2


def test_auditors_read_everything_and_change_nothing(client: FlaskClient, world: World) -> None:
    draft = new_draft(client, world.author, default_files())
    assert call(client, "GET", "/processes", world.auditor).status_code == 200
    assert call(client, "GET", f"/drafts/{draft['id']}", world.auditor).status_code == 200
    refused = call(
        client, "POST", f"/processes/{KEY}/drafts", world.auditor, {"files": default_files()}
    )
    assert refused.status_code == 403
    assert call(client, "GET", "/processes", world.staff).status_code == 403


def test_a_file_in_the_encoding_it_declares_is_read(client: FlaskClient, world: World) -> None:
    text = relabelled().replace("encoding='UTF-8'", "encoding='ISO-8859-1'", 1)
    draft = new_draft(client, world.author, default_files(text))
    assert draft["passed"] is True
    stored = call(client, "GET", f"/drafts/{draft['id']}", world.author).get_json()
    assert stored["problems"] == []


def test_a_second_account_on_the_authors_mailbox_cannot_approve(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    with web_runtime.unit_of_work() as uow:
        author = uow.users.get(world.author.id)
        assert author is not None
        local, _, domain = author.email.partition("@")
        twin = uow.users.add(f"{local.upper()}+second@{domain}", "Same person", "not-a-hash")
        twin.totp_secret = "A" * 32
        uow.users.grant(twin.id, world.school_id, "process_admin")
        token = issue_api_token(uow, twin.id, "test")
        uow.commit()
    draft = new_draft(client, world.author, default_files(relabelled()))
    refused = call(client, "POST", f"/drafts/{draft['id']}/approve", Member(twin.id, token))
    assert refused.status_code == 403
    assert "from an account on your mailbox" in refused.get_json()["error"]["message"]
    assert (
        call(client, "GET", f"/drafts/{draft['id']}", world.author).get_json()["state"] == "draft"
    )
