"""The studio's pages through the test client: who sees them, and what auditors may not do."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import io
import re

from flask.testing import FlaskClient
from sqlalchemy import func, select

from services.bootstrap import Runtime
from services.db.models import ProcessDraft
from services.domain.commands import DeployDefinitions
from tests.integration.service_fixtures import default_bundle
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


def test_auditors_read_the_studio_and_cannot_start_a_draft(
    client: FlaskClient, make_user: object, web_runtime: Runtime
) -> None:
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    auditor = make_user("auditor")  # type: ignore[operator]
    login(client, auditor.email)
    page = client.get("/studio/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "sharing_nudes_response" in html
    assert 'id="new-draft"' not in html
    token = form_csrf_token(html)
    refused = client.post(
        "/studio/processes/sharing_nudes_response/drafts",
        data={"csrf_token": token, "version": "1"},
    )
    assert refused.status_code == 403
    assert "only a process admin may change a process" in refused.get_data(as_text=True)


def test_staff_do_not_see_the_studio(client: FlaskClient, make_user: object) -> None:
    staff = make_user("staff")  # type: ignore[operator]
    login(client, staff.email)
    assert client.get("/studio/").status_code == 403


def test_autosave_from_the_page_refuses_a_stale_revision_showing_both(
    client: FlaskClient, make_user: object, web_runtime: Runtime
) -> None:
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    author = make_user("process_admin")  # type: ignore[operator]
    login(client, author.email)
    page = client.get("/studio/").get_data(as_text=True)
    created = client.post(
        "/studio/processes/sharing_nudes_response/drafts",
        data={"csrf_token": form_csrf_token(page), "version": "1"},
    )
    assert created.status_code == 302
    draft_url = created.headers["Location"]
    draft_page = client.get(draft_url).get_data(as_text=True)
    token = re.search(r'data-csrf="([^"]+)"', draft_page)
    assert token is not None
    state = client.get(f"{draft_url}/state").get_json()
    files = dict(state["files"])
    bpmn = "sharing-nudes-response.bpmn"
    headers = {"X-CSRFToken": token.group(1)}
    files[bpmn] = files[bpmn].replace('label="Why not?"', 'label="Why not, in brief?"')
    first = client.post(f"{draft_url}/save", json={"files": files, "revision": 1}, headers=headers)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["revision"] == 2
    stale = client.post(f"{draft_url}/save", json={"files": files, "revision": 1}, headers=headers)
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["theirs"]["revision"] == 2
    assert "Why not, in brief?" in body["theirs"]["files"][bpmn]
    assert body["yours"] == 1
    refused = client.post(
        f"{draft_url}/save",
        json={"files": {bpmn: "<!DOCTYPE x><x/>"}, "revision": 2},
        headers=headers,
    )
    assert refused.status_code == 422
    assert "DOCTYPE" in refused.get_json()["problems"][0]["message"]
    same = client.get("/studio/processes/sharing_nudes_response/diff?old=1&new=1")
    assert same.status_code == 200
    assert "No change." in same.get_data(as_text=True)


def test_autosave_refuses_wrong_types_as_json_and_every_change_needs_the_csrf_token(
    client: FlaskClient, make_user: object, web_runtime: Runtime
) -> None:
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    author = make_user("process_admin")  # type: ignore[operator]
    login(client, author.email)
    page = client.get("/studio/").get_data(as_text=True)
    key = "sharing_nudes_response"
    assert client.post(f"/studio/processes/{key}/drafts", data={"version": "1"}).status_code == 400
    created = client.post(
        f"/studio/processes/{key}/drafts",
        data={"csrf_token": form_csrf_token(page), "version": "1"},
    )
    draft_url = created.headers["Location"]
    token = re.search(r'data-csrf="([^"]+)"', client.get(draft_url).get_data(as_text=True))
    assert token is not None
    headers = {"X-CSRFToken": token.group(1)}
    files = client.get(f"{draft_url}/state").get_json()["files"]
    for body, status, words in (
        ({"files": files, "revision": 1, "note": 5}, 400, "note must be text"),
        ({"files": files, "revision": True}, 400, "revision must be a whole number"),
        ({"files": files, "revision": 0}, 400, "revision must be a whole number"),
        ({"files": files, "revision": 1, "note": "x" * 2001}, 422, "at most 2000"),
    ):
        refused = client.post(f"{draft_url}/save", json=body, headers=headers)
        assert refused.status_code == status, refused.get_data(as_text=True)
        assert words in refused.get_json()["error"]
    assert client.get(f"{draft_url}/state").get_json()["revision"] == 1
    for path in ("save", "approve", "publish", "discard"):
        assert client.post(f"{draft_url}/{path}", data={}).status_code == 400, path
    choose = {"process_key": key, "version": "1"}
    assert client.post("/studio/schools/1/version", data=choose).status_code == 400
    assert client.get(f"{draft_url}/state").get_json()["state"] == "draft"


def test_uploads_from_the_page_are_refused_with_located_422s_and_store_nothing(
    client: FlaskClient, make_user: object, web_runtime: Runtime
) -> None:
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    author = make_user("process_admin")  # type: ignore[operator]
    login(client, author.email)
    token = form_csrf_token(client.get("/studio/").get_data(as_text=True))
    url = "/studio/processes/sharing_nudes_response/drafts"
    cases = [
        (
            [("big.bpmn", b"<x>" + b"a" * (10 * 1024 * 1024) + b"</x>")],
            "big.bpmn",
            "the limit is 2 MB",
        ),
        ([("latin.bpmn", b"<x>\xe9</x>")], "latin.bpmn:1", "is not UTF-8 text (byte 0xe9"),
        ([("empty.bpmn", b"")], "empty.bpmn", "file is empty"),
        ([("x.bpmn", b"<x/>"), ("x.bpmn", b"<y/>")], "x.bpmn", "uploaded twice"),
    ]
    before = _drafts(web_runtime)
    for uploads, where, words in cases:
        data: dict[str, object] = {
            "csrf_token": token,
            "files": [(io.BytesIO(content), name) for name, content in uploads],
        }
        refused = client.post(url, data=data, content_type="multipart/form-data")
        html = refused.get_data(as_text=True)
        assert refused.status_code == 422, (where, html[-500:])
        assert where in html and words in html, (where, words)
    assert _drafts(web_runtime) == before


def _drafts(runtime: Runtime) -> int:
    with runtime.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(ProcessDraft)) or 0)
