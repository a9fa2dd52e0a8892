"""Whose drafts a process admin may touch, through the API: approving, publishing, saving and
discarding need process_admin in a school the draft is for (where its author is one: their
school or trust), and a school's version is chosen only by its own process admins."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from services.bootstrap import Runtime
from services.db.models import ProcessDraft
from tests.integration.test_studio_api import (  # noqa: F401
    KEY,
    Member,
    World,
    _member,
    call,
    default_files,
    new_draft,
    relabelled,
    world,
)
from tests.integration.web_fixtures import (  # noqa: F401
    app,
    client,
    clock,
    web_runtime,
    web_settings,
)


def state_of(runtime: Runtime, draft_id: int) -> str:
    with runtime.unit_of_work() as uow:
        return str(
            uow.session.scalar(select(ProcessDraft.state).where(ProcessDraft.id == draft_id))
        )


def test_a_process_admin_of_another_school_cannot_approve(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    draft = new_draft(client, world.author, default_files(relabelled()))
    shown = call(client, "GET", f"/drafts/{draft['id']}", world.other_admin)
    assert shown.status_code == 200  # process admins read every draft
    refused = call(client, "POST", f"/drafts/{draft['id']}/approve", world.other_admin)
    assert refused.status_code == 403
    message = refused.get_json()["error"]["message"]
    assert "you may not approve draft" in message
    assert "you are a process admin of none of them" in message
    assert state_of(web_runtime, draft["id"]) == "draft"
    # A second admin of the author's school approves it.
    assert call(client, "POST", f"/drafts/{draft['id']}/approve", world.approver).status_code == 200


def test_a_trust_admin_of_the_authors_school_may_approve(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    trust = _member(web_runtime, world.other_school_id, "process_admin")
    with web_runtime.unit_of_work() as uow:
        uow.users.grant(trust.id, world.school_id, "process_admin")
        uow.commit()
    draft = new_draft(client, world.author, default_files(relabelled()))
    approved = call(client, "POST", f"/drafts/{draft['id']}/approve", trust)
    assert approved.status_code == 200, approved.get_json()


def test_a_process_admin_of_another_school_cannot_publish_or_save(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    draft = new_draft(client, world.author, default_files(relabelled()))
    path = f"/drafts/{draft['id']}"
    assert call(client, "POST", f"{path}/approve", world.approver).status_code == 200
    published = call(client, "POST", f"{path}/publish", world.other_admin, {"note": "theirs"})
    assert published.status_code == 403
    assert "you may not publish draft" in published.get_json()["error"]["message"]
    saved = call(client, "PUT", path, world.other_admin, {"files": default_files(), "revision": 1})
    assert saved.status_code == 403
    assert "you may not change draft" in saved.get_json()["error"]["message"]
    assert state_of(web_runtime, draft["id"]) == "approved"  # the approval stands
    view = call(client, "GET", path, world.other_admin).get_json()
    assert view["state"] == "approved"


def test_a_process_admin_cannot_choose_another_schools_version(
    client: FlaskClient, world: World
) -> None:
    listing = call(client, "GET", "/processes", world.other_admin).get_json()["processes"]
    version = next(p for p in listing if p["process_key"] == KEY)["versions"][0]["version"]
    body = {"process_key": KEY, "version": version}
    refused = call(
        client, "POST", f"/schools/{world.school_id}/process-version", world.other_admin, body
    )
    assert refused.status_code == 403
    assert (
        f"only a process admin of school {world.school_id} chooses its version"
        in refused.get_json()["error"]["message"]
    )
    allowed = call(
        client, "POST", f"/schools/{world.other_school_id}/process-version", world.other_admin, body
    )
    assert allowed.status_code == 200
    assert (
        call(
            client, "POST", f"/schools/{world.school_id}/process-version", world.auditor, body
        ).status_code
        == 403
    )
