"""A JSON log line per request with its id, and no personal data in it."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from services.bootstrap import Runtime
from services.config import Settings
from services.web.auth.tokens import issue_api_token
from services.web.request_log import JsonFormatter
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    TEST_PASSWORD,
    WebUser,
    app,
    client,
    clock,
    csrf_token,
    login,
    make_user,
    web_runtime,
    web_settings,
)

MakeUser = Callable[..., WebUser]


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "safeguard.request"
    ]


def test_each_request_has_an_id_and_one_json_line_without_personal_data(
    client: FlaskClient, make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    staff = make_user("staff")
    with caplog.at_level(logging.INFO, logger="safeguard.request"):
        login(client, staff.email)
        page = client.get("/?q=Jamie+Smith", headers={"X-Request-ID": "trace-123"})
        odd = client.get("/", headers={"X-Request-ID": "bad id; <script>"})
    assert page.headers["X-Request-ID"] == "trace-123"
    assert odd.headers["X-Request-ID"] != "bad id; <script>"
    assert len(odd.headers["X-Request-ID"]) == 32
    lines = json_lines(caplog)
    [home] = [line for line in lines if line.get("request_id") == "trace-123"]
    assert home["route"] == "home.index" and home["status"] == 200
    assert home["method"] == "GET" and home["user_id"] == staff.id
    assert isinstance(home["duration_ms"], float)
    everything = json.dumps(lines)
    for secret in (staff.email, TEST_PASSWORD, "Jamie", "csrf"):
        assert secret not in everything


def test_an_api_request_is_logged_as_its_token_holders_not_the_cookies_user(
    client: FlaskClient,
    make_user: MakeUser,
    web_runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    signed_in, holder = make_user("staff"), make_user("dsl")
    with web_runtime.unit_of_work() as uow:
        token = issue_api_token(uow, holder.id, "test", at=web_runtime.clock.now())
        uow.commit()
    login(client, signed_in.email)  # the same browser also carries someone else's cookie
    with caplog.at_level(logging.INFO, logger="safeguard.request"):
        client.get(
            "/api/v1/tasks", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "api-1"}
        )
        client.get("/api/v1/tasks", headers={"X-Request-ID": "api-2"})  # no token: refused
    by_id = {line.get("request_id"): line for line in json_lines(caplog)}
    assert by_id["api-1"]["user_id"] == holder.id and by_id["api-1"]["status"] == 200
    assert by_id["api-2"]["user_id"] is None and by_id["api-2"]["status"] == 401


def test_production_logs_json_by_default() -> None:
    production = Settings.from_env(
        {"SAFEGUARD_ENVIRONMENT": "production", "SAFEGUARD_SECRET_KEY": "ab" * 32}
    )
    assert production.log_format == "json"
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"SAFEGUARD_LOG_FORMAT": "JSON"}).log_format == "json"
