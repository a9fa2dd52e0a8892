"""Ids in URLs: anything that cannot be one of our ids is a 404 on every route, never a 500.

PostgreSQL refuses a NUL character in text, so an id like `a%00b` that reached a query used to
fail there with a 500. Runs on SQLite and PostgreSQL (the `db_url` fixture).
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

from typing import Any

from flask import Flask, url_for
from lxml import html
from werkzeug.routing import IntegerConverter, Rule

from services.bootstrap import Runtime
from services.web.auth import issue_api_token
from tests.integration.test_web_incidents import (  # noqa: F401  # fixtures, found by name
    School,
    deployed,
    school,
    signed_in,
    start_incident,
)
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    app,
    client,
    clock,
    csrf_token,
    make_user,
    web_runtime,
    web_settings,
)

NUL_ID = "a\x00b"


def test_html_routes_answer_404_for_ids_with_a_nul_byte(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    incident_id = start_incident(web_runtime, school)
    dsl = signed_in(app, school.dsl)
    token = csrf_token(dsl, "/")
    gets = [
        "/incidents/abc%00def",
        "/incidents/abc%00def/exclude",
        "/incidents/x/documents/a%00b",
        f"/incidents/{incident_id}/documents/a%00b",
        f"/incidents/{incident_id}/tasks/a%00b",
        f"/inbox/incidents/{incident_id}/tasks/a%00b/assign",
    ]
    posts = [
        "/incidents/abc%00def/break-glass",
        f"/incidents/{incident_id}/external-tasks/a%00b/retry",
        f"/incidents/{incident_id}/tasks/a%00b",
        "/inbox/tasks/a%00b/claim",
        "/inbox/tasks/a%00b/unclaim",
    ]
    for path in gets:
        response = dsl.get(path)
        assert response.status_code == 404, path
        assert "Page not found" in page_heading(response.get_data(as_text=True)), path
    for path in posts:
        assert dsl.post(path, data={"csrf_token": token}).status_code == 404, path
    assert dsl.get(f"/incidents/{incident_id}").status_code == 200  # real ids still work


def test_the_api_answers_such_ids_with_a_json_404_once_the_token_is_checked(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    api = app.test_client()
    assert api.get("/api/v1/incidents/ab%00cd").status_code == 401
    headers = {"Authorization": f"Bearer {api_token(web_runtime, school.dsl.id)}"}
    response = api.get("/api/v1/incidents/ab%00cd", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_every_route_with_a_text_argument_answers_404_for_one_with_a_nul_byte(
    app: Flask, school: School, web_runtime: Runtime
) -> None:
    dsl = signed_in(app, school.dsl)
    token = csrf_token(dsl, "/")
    bearer = {"Authorization": f"Bearer {api_token(web_runtime, school.dsl.id)}"}
    probed = []
    for rule in app.url_map.iter_rules():
        path = path_with_nul_ids(app, rule)
        if path is None:
            continue
        api = rule.endpoint.startswith("api.")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token} if method == "POST" and not api else None
            response = dsl.open(path, method=method, data=data, headers=bearer if api else {})
            assert response.status_code == 404, f"{method} {path} ({rule.endpoint})"
            probed.append(rule.endpoint)
    assert {"incidents.incident", "inbox.claim", "api.get_incident"} <= set(probed)


def api_token(runtime: Runtime, user_id: int) -> str:
    with runtime.unit_of_work() as uow:
        token = issue_api_token(uow, user_id, "test")
        uow.commit()
    return token


def path_with_nul_ids(app: Flask, rule: Rule) -> str | None:
    """The rule's URL with a NUL in each text argument (ints as 1), or None without any."""
    if rule.endpoint == "static" or not rule.arguments:
        return None
    values: dict[str, Any] = {}
    for name in rule.arguments:
        whole_number = isinstance(rule._converters.get(name), IntegerConverter)
        values[name] = 1 if whole_number or name.endswith("notification_id") else NUL_ID
    if all(value == 1 for value in values.values()):
        return None
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def page_heading(page_html: str) -> str:
    return str(html.fromstring(page_html).xpath("string(//h1)"))
