"""/healthz, /readyz and /metrics on SQLite and PostgreSQL, and readiness against the broker."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from services.bootstrap import Runtime, bootstrap
from services.config import Settings
from services.web import create_app
from tests.integration.web_fixtures import (  # noqa: F401  # fixtures, found by name
    WebUser,
    app,
    client,
    clock,
    login,
    make_user,
    settings_for_tests,
    web_runtime,
    web_settings,
)

MakeUser = Callable[..., WebUser]
AMQP_URL = os.environ.get("SAFEGUARD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_healthz_says_alive_without_signing_in(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_checks_the_database(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok"}}


def test_readyz_is_503_naming_what_does_not_answer(
    db_url: str, tmp_path: Path, web_runtime: Runtime
) -> None:
    broken = settings_for_tests(
        "postgresql+psycopg://nobody@127.0.0.1:1/none",
        tmp_path,
        amqp_url="amqp://guest:guest@127.0.0.1:1/",
    )
    runtime = bootstrap(broken, clock=web_runtime.clock)
    try:
        response = create_app(broken, runtime=runtime).test_client().get("/readyz")
    finally:
        runtime.close()
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"].startswith("unavailable: ")
    assert checks["broker"].startswith("unavailable: ")


@pytest.mark.rabbitmq
def test_readyz_asks_the_broker_where_one_is_configured(
    web_settings: Settings, web_runtime: Runtime
) -> None:
    settings = dataclasses.replace(web_settings, amqp_url=AMQP_URL)
    response = create_app(settings, runtime=web_runtime).test_client().get("/readyz")
    body = response.get_json()
    if body["checks"]["broker"] != "ok" and not os.environ.get("CI"):
        pytest.skip(f"RabbitMQ does not answer at {AMQP_URL}: {body['checks']['broker']}")
    assert response.status_code == 200 and body["checks"] == {"database": "ok", "broker": "ok"}


def test_metrics_count_requests_by_route_and_read_the_queues(
    client: FlaskClient, make_user: MakeUser
) -> None:
    login(client, make_user("staff").email)
    client.get("/")
    client.get("/")
    client.get("/no-such-page")
    found = samples(client)
    home = (("method", "GET"), ("route", "home.index"), ("status", "200"))
    assert found[("safeguard_http_requests_total", home)] == 2
    assert (
        found[
            (
                "safeguard_http_requests_total",
                (("method", "GET"), ("route", "unmatched"), ("status", "404")),
            )
        ]
        == 1
    )
    assert (
        found[
            (
                "safeguard_http_request_duration_seconds_count",
                (("method", "GET"), ("route", "home.index")),
            )
        ]
        == 2
    )
    for name in (
        "safeguard_tasks_completed_total",
        "safeguard_outbox_backlog",
        "safeguard_outbox_oldest_age_seconds",
        "safeguard_dead_letters",
        "safeguard_timers_due",
    ):
        assert (name, ()) in found, name
    assert ("safeguard_email_queue", (("state", "pending"),)) in found
    text = client.get("/metrics").get_data(as_text=True)
    assert "@" not in text  # no email address, no person


def test_metrics_want_the_token_when_one_is_set(
    web_settings: Settings, web_runtime: Runtime
) -> None:
    settings = dataclasses.replace(web_settings, metrics_token="s3cret-metrics-token")
    browser = create_app(settings, runtime=web_runtime).test_client()
    assert browser.get("/metrics").status_code == 401
    ok = browser.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    assert ok.status_code == 200
