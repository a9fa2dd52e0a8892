"""The studio's pages through the test client: who sees them, and what auditors may not do."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

from flask.testing import FlaskClient

from services.bootstrap import Runtime
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
