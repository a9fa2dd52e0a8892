"""The operations page: dead letters (in-process and in RabbitMQ), events being retried and timer
failures, shown to process administrators only, with no details of children.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from lxml import html

from services.bootstrap import Runtime
from services.db.column_types import utcnow
from services.messaging import (
    EventWakeup,
    InProcessPublisher,
    OutboxRelay,
    RabbitMQConsumerRunner,
    RabbitMQPublisher,
)
from services.messaging.topology import deployment_topology
from services.notifications import notifier_for
from services.scheduling.scheduler import TIMER_FAILED
from services.web import create_app
from tests.integration.messaging_fixtures import (  # noqa: F401  # fixtures, found by name
    FAST_RETRIES,
    BrokerNamespace,
    Database,
    amqp_url,
    broker,
    database,
    fast_backoff,
    running,
    wait_until,
)
from tests.integration.notifier_fixtures import (
    CHILD_NAME,
    MARKER,
    World,
    free_port,
    make_world,
    unreachable_smtp,
    with_smtp,
)
from tests.integration.web_fixtures import login


def app_of(runtime: Runtime) -> Flask:
    """The real app on the world's runtime."""
    app = create_app(runtime.settings, runtime=runtime)
    app.config["TESTING"] = True
    return app


def signed_in(app: Flask, email: str) -> FlaskClient:
    """A browser signed in as this person through the real pages."""
    browser = app.test_client()
    login(browser, email)
    return browser


def words(page_html: str, element_id: str) -> str:
    """The text of one element of the page, white space collapsed."""
    tree = html.fromstring(page_html)
    assert tree.xpath(f"//*[@id='{element_id}']"), f"no element {element_id!r} on the page"
    return " ".join(str(tree.xpath(f"string(//*[@id='{element_id}'])")).split())


def add_timer_failure(world: World) -> None:
    """Record a failed timer as the scheduler does, its error quoting an answer."""
    with world.runtime.unit_of_work() as uow:
        uow.audit.add(
            TIMER_FAILED,
            f"incident:{world.incident_id}",
            actor_id=None,
            school_id=world.school_id,
            incident_id=world.incident_id,
            new_values={
                "next_timer_at": utcnow().isoformat(),
                "attempt": 2,
                "error": f"ValueError: could not convert {MARKER!r} to a date",
            },
            occurred_at=world.clock.now(),
        )
        uow.commit()


def test_an_in_process_dead_letter_and_a_timer_failure_show_to_admins_without_child_details(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)
    smtp = unreachable_smtp()
    notifier = notifier_for(with_smtp(world, smtp), world.runtime.uow_factory)
    stop = threading.Event()
    publisher = InProcessPublisher([notifier], database.uow, stop, policy=FAST_RETRIES)
    OutboxRelay(database.uow, publisher, EventWakeup()).drain(stop)
    add_timer_failure(world)
    app = app_of(world.runtime)

    page = signed_in(app, world.person("admin").email).get("/operations")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert words(text, "dead-count").startswith("1 event given up on")
    assert "TaskReady" in text and f"school.{world.school_id}.role.dsl.task.ready" in text
    assert f"EmailFailed: SMTP server 127.0.0.1:{smtp.port} did not take the email" in text
    assert "ConnectionRefusedError" in text
    assert words(text, "timer-count").startswith("1 failed attempt to fire timers")
    assert "ValueError" in text and world.reference in text
    for secret in (MARKER, CHILD_NAME):
        assert secret not in text
    # Without keep_unrouted, events no consumer takes are refused and retried: shown as such.
    assert not words(text, "failing-count").startswith("0 ")
    assert "unroutable: no in-process consumer binds routing key" in text


def test_staff_and_dsls_get_403_and_people_signed_out_go_to_sign_in(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)
    app = app_of(world.runtime)

    for name in ("staff", "dsl", "head", "auditor"):
        assert signed_in(app, world.person(name).email).get("/operations").status_code == 403
    assert app.test_client().get("/operations").status_code == 302
    menu = signed_in(app, world.person("staff").email).get("/").get_data(as_text=True)
    assert "/notifications" in menu and "/operations" not in menu
    admin_menu = signed_in(app, world.person("admin").email).get("/").get_data(as_text=True)
    assert "/operations" in admin_menu


def test_rabbitmq_dead_letters_are_counted_from_the_broker(
    database: Database, tmp_path: Path, broker: BrokerNamespace
) -> None:
    world = make_world(database, tmp_path)
    notifier = notifier_for(with_smtp(world, unreachable_smtp()), world.runtime.uow_factory)
    prefix = broker.topology.prefix
    topology = deployment_topology(prefix)
    broker.track(notifier)
    publisher = RabbitMQPublisher(broker.url, topology, declare_for=[notifier])
    runner = RabbitMQConsumerRunner(
        broker.url, topology, [notifier], database.uow, policy=FAST_RETRIES, backoff=fast_backoff()
    )
    try:
        with running(runner.run, "notifier"):
            OutboxRelay(database.uow, publisher, EventWakeup()).drain(threading.Event())
            dead = topology.dead_queue(notifier.name)
            wait_until(lambda: broker.message_count(dead) == 1, 15, "the dead letter")
        settings = replace(world.runtime.settings, amqp_url=broker.url, amqp_prefix=prefix)
        app = app_of(replace(world.runtime, settings=settings))

        text = signed_in(app, world.person("admin").email).get("/operations").get_data(as_text=True)
    finally:
        publisher.close()
        with broker.channel() as channel:
            channel.queue_delete(topology.unrouted_queue)
            channel.exchange_delete(topology.unrouted_exchange)

    table = words(text, "broker-dead-letters")
    assert f"{prefix}.notifier.dead 1" in table
    assert f"in {prefix}.unrouted" in words(text, "unrouted-count")


def test_an_unreachable_broker_is_said_plainly(database: Database, tmp_path: Path) -> None:
    world = make_world(database, tmp_path)
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    settings = replace(world.runtime.settings, amqp_url=nowhere)
    app = app_of(replace(world.runtime, settings=settings))

    text = signed_in(app, world.person("admin").email).get("/operations").get_data(as_text=True)

    assert words(text, "broker-problem").startswith("RabbitMQ could not be asked: the broker")
