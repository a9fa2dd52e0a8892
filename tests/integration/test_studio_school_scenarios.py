"""Scenarios a school adds in the studio, through the API on real databases: they run against
every draft of their process (statutory: false), are refused with located problems when the file
is bad, are audited, read by auditors, and never replace or remove a statutory scenario."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from services.bootstrap import Runtime
from services.db.models import AuditEvent, ProcessDraft
from services.domain.commands import DeployDefinitions
from tests.integration.service_fixtures import BPMN_DIR, default_bundle
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
    form_csrf_token,
    login,
    make_user,
    web_runtime,
    web_settings,
)


def scenario_text(name: str = "s2.json", **changes: Any) -> str:
    body = json.loads((BPMN_DIR / "scenarios" / name).read_text(encoding="utf-8"))
    body.update(changes)
    return json.dumps(body, indent=2)


def path(world: World, name: str, school_id: int | None = None) -> str:
    return f"/schools/{school_id or world.school_id}/processes/{KEY}/scenarios/{name}"


def put(client: FlaskClient, world: World, who: Member, name: str, content: object) -> Any:
    return call(client, "PUT", path(world, name), who, {"content": content})


def slug_of(runtime: Runtime, school_id: int) -> str:
    with runtime.unit_of_work() as uow:
        school = uow.schools.get(school_id)
        assert school is not None
        return school.slug


def scenario_named(draft: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((s for s in draft["scenarios"] if s["name"] == name), None)


def test_a_school_scenario_runs_against_drafts_and_can_be_replaced_and_removed(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    added = put(client, world, world.author, "adult-goes-to-police", scenario_text())
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["statutory"] is False
    runs_as = f"{slug_of(web_runtime, world.school_id)}/adult-goes-to-police"
    assert added.get_json()["runs_as"] == runs_as

    draft = new_draft(client, world.author, default_files(relabelled()))
    mine = scenario_named(draft, runs_as)
    assert mine is not None
    assert (mine["statutory"], mine["passed"]) == (False, True)
    assert draft["passed"] is True
    # The statutory scenarios still run beside it, and are still statutory.
    assert scenario_named(draft, "referral-adult-involved")["statutory"] is True  # type: ignore[index]

    # Replaced by one the default process fails: a local failure warns, it does not block.
    wrong = scenario_text(expect={"reaches": ["risk_assessment"]})
    replaced = put(client, world, world.approver, "adult-goes-to-police", wrong)
    assert replaced.status_code == 200, replaced.get_json()
    draft = new_draft(client, world.author, default_files(relabelled()))
    failed = scenario_named(draft, runs_as)
    assert failed is not None and failed["passed"] is False
    assert "risk_assessment" in failed["expected"] and "refer_to_agencies" in failed["taken"]
    assert draft["passed"] is True

    # Auditors read the school's scenarios, file and all, and change nothing.
    listing = call(client, "GET", f"/processes/{KEY}/scenarios", world.auditor).get_json()
    [shown] = [s for s in listing["school"] if s["name"] == "adult-goes-to-police"]
    assert json.loads(shown["content"])["expect"] == {"reaches": ["risk_assessment"]}
    assert shown["may_change"] is False
    assert {s["name"] for s in listing["statutory"]} >= {"referral-adult-involved"}
    assert put(client, world, world.auditor, "x", scenario_text()).status_code == 403

    removed = call(client, "DELETE", path(world, "adult-goes-to-police"), world.author)
    assert removed.status_code == 200, removed.get_json()
    draft = new_draft(client, world.author, default_files(relabelled()))
    assert scenario_named(draft, runs_as) is None
    again = call(client, "DELETE", path(world, "adult-goes-to-police"), world.author)
    assert again.status_code == 404

    with web_runtime.unit_of_work() as uow:
        actions = list(
            uow.session.scalars(
                select(AuditEvent.action)
                .where(
                    AuditEvent.target == f"scenario:{KEY}:{world.school_id}:adult-goes-to-police"
                )
                .order_by(AuditEvent.id)  # PostgreSQL returns rows in any order without one
            )
        )
    assert actions == [
        "studio.scenario_added",
        "studio.scenario_replaced",
        "studio.scenario_removed",
    ]


def test_the_store_of_school_scenarios_is_never_shown_as_a_draft(
    client: FlaskClient, world: World, web_runtime: Runtime
) -> None:
    assert put(client, world, world.author, "kept", scenario_text()).status_code == 201
    with web_runtime.unit_of_work() as uow:
        holder = uow.session.scalar(
            select(ProcessDraft.id).where(ProcessDraft.process_id == f"scenarios:{KEY}")
        )
    assert holder is not None
    assert call(client, "GET", f"/drafts/{holder}", world.author).status_code == 404
    listing = call(client, "GET", "/processes", world.author).get_json()["processes"]
    drafts = [d["id"] for p in listing for d in p["drafts"]]
    assert holder not in drafts
    call(client, "DELETE", path(world, "kept"), world.author)


@pytest.mark.parametrize(
    ("name", "content", "line", "element_id", "message"),
    [
        ("bad-json", '{\n  "steps": [\n    {"complete": }\n  ]\n}', 3, "", "not valid JSON"),
        ("not-object", "[1, 2]", None, "", "JSON object"),
        ("no-steps", '{"title": "x"}', None, "steps", "at least one step"),
        (
            "bad-step",
            '{\n  "steps": [\n    {"complete": 7}\n  ]\n}',
            2,
            "steps[1].complete",
            "task id",
        ),
        ("claims", '{"statutory": true, "steps": [{"complete": "a"}]}', 1, "statutory", "only"),
        (
            "other-process",
            '{"process": "elsewhere", "steps": [{"complete": "a"}]}',
            1,
            "process",
            "elsewhere",
        ),
        ("odd-key", '{"steps": [{"complete": "a"}], "run": "rm -rf /"}', 1, "run", "not a key"),
        (
            "deep",
            '{"steps": [{"complete": "a", "data": ' + "[" * 40 + "]" * 40 + "}]}",
            None,
            "",
            "nested",
        ),
        ("Upper-Case", '{"steps": [{"complete": "a"}]}', None, "", "scenario name"),
        (
            "huge",
            '{"steps": [{"complete": "a"}], "note": "' + "x" * 70_000 + '"}',
            None,
            "",
            "at most",
        ),
    ],
)
def test_a_bad_scenario_file_is_a_located_422_and_stores_nothing(
    client: FlaskClient,
    world: World,
    web_runtime: Runtime,
    name: str,
    content: str,
    line: int | None,
    element_id: str,
    message: str,
) -> None:
    response = put(client, world, world.author, name, content)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] in ("scenario_invalid", "invalid_request")
    if error["code"] == "scenario_invalid":
        [problem] = error["problems"]
        assert problem["file"].endswith(".json")
        assert (problem["line"], problem["element_id"]) == (line, element_id)
        assert message in problem["message"]
    listing = call(client, "GET", f"/processes/{KEY}/scenarios", world.author).get_json()
    assert [s for s in listing["school"] if s["school_id"] == world.school_id] == []


def test_a_scenario_that_is_not_text_is_refused(client: FlaskClient, world: World) -> None:
    response = put(client, world, world.author, "object", {"steps": []})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "name", ["referral-adult-involved", "non-referral-signed-off-by-headteacher"]
)
def test_statutory_scenarios_cannot_be_replaced_or_removed(
    client: FlaskClient, world: World, name: str
) -> None:
    replaced = put(client, world, world.author, name, scenario_text())
    assert replaced.status_code == 403
    assert "statutory scenario" in replaced.get_json()["error"]["message"]
    removed = call(client, "DELETE", path(world, name), world.author)
    assert removed.status_code == 403
    assert "cannot be removed" in removed.get_json()["error"]["message"]


def test_the_processs_own_scenarios_cannot_be_replaced_here(
    client: FlaskClient, world: World
) -> None:
    response = put(client, world, world.author, "s1", scenario_text())
    assert response.status_code == 403
    assert "bpmn/scenarios/" in response.get_json()["error"]["message"]


def test_only_a_process_admin_of_the_school_changes_its_scenarios(
    client: FlaskClient, world: World
) -> None:
    assert put(client, world, world.author, "ours", scenario_text()).status_code == 201
    other = call(
        client, "PUT", path(world, "ours"), world.other_admin, {"content": scenario_text()}
    )
    assert other.status_code == 403
    assert f"school {world.school_id}" in other.get_json()["error"]["message"]
    gone = call(client, "DELETE", path(world, "ours"), world.other_admin)
    assert gone.status_code == 403
    assert call(client, "GET", f"/processes/{KEY}/scenarios", world.staff).status_code == 403
    assert call(client, "DELETE", path(world, "ours"), world.author).status_code == 200


def test_a_school_scenario_is_uploaded_and_removed_from_the_page(
    client: FlaskClient, make_user: Any, web_runtime: Runtime
) -> None:
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    admin = make_user("process_admin")
    login(client, admin.email)
    page = client.get(f"/studio/processes/{KEY}/scenarios")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "referral-adult-involved" in html  # the statutory ones are listed, with no button
    token = form_csrf_token(html)
    action = f"/studio/schools/{admin.school_id}/processes/{KEY}/scenarios"
    bad = client.post(
        action,
        data={"csrf_token": token, "name": "", "file": (io.BytesIO(b"{oops"), "late.json")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert "late.json:1" in bad.get_data(as_text=True)
    upload = (io.BytesIO(scenario_text().encode()), "late-disclosure.json")
    added = client.post(
        action,
        data={"csrf_token": token, "name": "", "file": upload},
        content_type="multipart/form-data",
    )
    assert added.status_code == 302
    html = client.get(f"/studio/processes/{KEY}/scenarios").get_data(as_text=True)
    assert "late-disclosure" in html and "Remove" in html
    removed = client.post(f"{action}/late-disclosure/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    html = client.get(f"/studio/processes/{KEY}/scenarios").get_data(as_text=True)
    assert "late-disclosure" not in html
    statutory = client.post(f"{action}/referral-adult-involved/remove", data={"csrf_token": token})
    assert statutory.status_code == 403


def test_a_scenario_file_with_a_picture_in_it_is_refused_from_the_page_and_stores_nothing(
    client: FlaskClient, make_user: Any, web_runtime: Runtime
) -> None:
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    admin = make_user("process_admin")
    login(client, admin.email)
    token = form_csrf_token(client.get(f"/studio/processes/{KEY}/scenarios").get_data(as_text=True))
    # A PNG signature and padding only: the shape of a picture, never a picture of anyone.
    picture = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 300).decode()
    body = json.loads(scenario_text())
    body["steps"][0]["data"]["what_was_said"] = f"data:image/png;base64,{picture}"
    refused = client.post(
        f"/studio/schools/{admin.school_id}/processes/{KEY}/scenarios",
        data={
            "csrf_token": token,
            "name": "",
            "file": (io.BytesIO(json.dumps(body).encode()), "pic.json"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "steps[0].data.what_was_said" in refused.get_data(as_text=True)
    with web_runtime.unit_of_work() as uow:
        stored = uow.session.scalars(select(ProcessDraft.files)).all()
    assert not any(picture in json.dumps(files) for files in stored)
