"""Operations endpoints: /healthz (alive), /readyz (database and broker answer), /metrics.

/metrics is Prometheus text (prometheus-client): requests and latency by route (this process),
and, read from the database at each scrape, task completions, the outbox backlog and the age
of its oldest row, dead letters (in-process delivery), timers due and the email queue by state.
Nothing names a person or a child: only counts, routes and ages. When SAFEGUARD_METRICS_TOKEN
is set, /metrics wants it as a bearer token. Under gunicorn each worker counts its own requests.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator

import pika
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from services.config import Settings
from services.db.models import EmailDelivery, HumanTask, Incident, OutboxMessage
from services.messaging.rabbitmq import BROKER_ERRORS, close_quietly, connection_parameters
from services.runtime import Runtime
from services.web.extensions import RUNTIME_KEY, exempt_from_csrf, runtime

bp = Blueprint("health", __name__)
exempt_from_csrf(bp)
METRICS_KEY = "safeguard.metrics"
HEALTH_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "health.metrics"})
DEAD_LETTER_NOTE = "dead letter:%"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    """This app's registry: request counts and latency by route, and the database collector."""

    def __init__(self, app_runtime: Runtime, settings: Settings) -> None:
        self.settings = settings
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "safeguard_http_requests",
            "HTTP requests answered, by route (endpoint), method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "safeguard_http_request_duration_seconds",
            "Time to answer a request, by route (endpoint) and method",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(DatabaseCollector(app_runtime))


class DatabaseCollector(Collector):
    """Work waiting and done, counted in the database at each scrape."""

    def __init__(self, app_runtime: Runtime) -> None:
        self._runtime = app_runtime

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Read the counts (one short transaction)."""
        now = self._runtime.clock.now()
        with self._runtime.unit_of_work() as uow:
            session = uow.session
            completed = session.scalar(select(func.count()).where(HumanTask.state == "completed"))
            unsent = OutboxMessage.sent_at.is_(None)
            backlog = session.scalar(select(func.count()).where(unsent))
            oldest = session.scalar(select(func.min(OutboxMessage.created_at)).where(unsent))
            dead = session.scalar(
                select(func.count()).where(
                    OutboxMessage.sent_at.is_not(None),
                    OutboxMessage.last_error.like(DEAD_LETTER_NOTE),
                )
            )
            timers = session.scalar(
                select(func.count()).where(Incident.status == "open", Incident.next_timer_at <= now)
            )
            emails = session.execute(
                select(EmailDelivery.state, func.count()).group_by(EmailDelivery.state)
            ).all()
        yield CounterMetricFamily(
            "safeguard_tasks_completed", "User tasks completed, ever", value=completed or 0
        )
        yield GaugeMetricFamily(
            "safeguard_outbox_backlog", "Events not yet published", backlog or 0
        )
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "safeguard_outbox_oldest_age_seconds",
            "Age of the oldest unpublished event",
            max(age, 0),
        )
        yield GaugeMetricFamily(
            "safeguard_dead_letters",
            "Events a consumer gave up on (in-process delivery; RabbitMQ keeps its own)",
            value=dead or 0,
        )
        yield GaugeMetricFamily(
            "safeguard_timers_due", "Open incidents with a timer due", timers or 0
        )
        queue = GaugeMetricFamily(
            "safeguard_email_queue", "Notification emails by state", labels=["state"]
        )
        by_state = dict.fromkeys(("pending", "sent", "failed", "skipped"), 0)
        by_state.update({state: count for state, count in emails})
        for state, count in sorted(by_state.items()):
            queue.add_metric([state], count)
        yield queue


def init_app(app: Flask, settings: Settings) -> None:
    """Register the endpoints and count every request."""
    metrics = RequestMetrics(app.extensions[RUNTIME_KEY], settings)
    app.extensions[METRICS_KEY] = metrics
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()  # a measurement, never a deadline

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        route = request.endpoint or "unmatched"
        if started is not None and request.endpoint not in HEALTH_ENDPOINTS:
            metrics.requests.labels(route, request.method, str(response.status_code)).inc()
            metrics.latency.labels(route, request.method).observe(time.perf_counter() - started)
        return response


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive and answering."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database answers, and the broker where one is configured; 503 naming what does not."""
    app_runtime = runtime()
    checks: dict[str, str] = {}
    try:
        with app_runtime.unit_of_work() as uow:
            uow.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any failure means not ready; its kind is enough to say
        checks["database"] = f"unavailable: {type(error).__name__}"
    amqp_url = _metrics().settings.amqp_url
    if amqp_url:
        checks["broker"] = _broker_check(amqp_url)
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def _broker_check(amqp_url: str) -> str:
    connection = None
    try:
        parameters = connection_parameters(amqp_url, "safeguard-readiness")
        parameters.socket_timeout = 3
        connection = pika.BlockingConnection(parameters)
        return "ok"
    except BROKER_ERRORS as error:
        return f"unavailable: {type(error).__name__}"
    finally:
        close_quietly(connection)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition of this app's registry."""
    expected = _metrics().settings.metrics_token
    if expected:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return Response("metrics need the bearer token\n", 401, mimetype="text/plain")
    return Response(generate_latest(_metrics().registry), mimetype=CONTENT_TYPE_LATEST)


def _metrics() -> RequestMetrics:
    found = current_app.extensions[METRICS_KEY]
    assert isinstance(found, RequestMetrics)
    return found
