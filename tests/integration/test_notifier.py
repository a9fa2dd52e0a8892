"""The notifier against a real SMTP server (aiosmtpd on loopback), SQLite and PostgreSQL, in-process
and over RabbitMQ: who is told, what they are told, once, and what happens when email fails.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pika.exceptions
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from services.bootstrap import start_embedded_services
from services.config import SmtpSettings
from services.db.models import OutboxMessage
from services.domain.commands import AssignTask
from services.messaging import (
    EventWakeup,
    InProcessPublisher,
    OutboxRelay,
    RabbitMQConsumerRunner,
    RabbitMQPublisher,
)
from services.messaging.topology import Topology, deployment_topology
from services.messaging.wire import (
    DEAD_ATTEMPTS_HEADER,
    DEAD_CONSUMER_HEADER,
    DEAD_REASON_HEADER,
)
from services.notifications import Email, EmailFailed, Notifier, SmtpEmailSender, notifier_for
from services.web import create_app
from tests.integration.messaging_fixtures import (  # noqa: F401  # fixtures, found by name
    FAST_RETRIES,
    BrokerNamespace,
    Database,
    amqp_url,
    broker,
    database,
    fast_backoff,
    outbox_row,
    running,
    wait_until,
)
from tests.integration.notifier_fixtures import (
    CHILD_NAME,
    MARKER,
    SmtpInbox,
    World,
    all_text,
    make_world,
    notifications,
    ready_events,
    send_again,
    smtp_inbox,
    unreachable_smtp,
    with_smtp,
)
from tests.integration.service_fixtures import scenario_steps
from tests.integration.test_web_incidents import filled, page_form
from tests.integration.web_fixtures import login

TASK_NAME = "Hold the initial review meeting"


@pytest.fixture
def inbox() -> Iterator[SmtpInbox]:
    """A real SMTP server on a free loopback port."""
    yield from smtp_inbox()


def notifier_of(world: World, smtp: SmtpSettings | None) -> Notifier:
    """The notifier `safeguard serve` or `safeguard notifier` would build with this SMTP."""
    return notifier_for(with_smtp(world, smtp), world.runtime.uow_factory)


def deliver_in_process(database: Database, notifier: Notifier) -> None:
    """Relay every due outbox row to the notifier in this thread (the embedded default)."""
    stop = threading.Event()
    publisher = InProcessPublisher(
        [notifier], database.uow, stop, policy=FAST_RETRIES, keep_unrouted=True
    )
    OutboxRelay(database.uow, publisher, EventWakeup()).drain(stop)


def assert_says_nothing_of_the_child(world: World, texts: list[str]) -> None:
    """None of the texts carries the incident's free text, the child's name or the reference."""
    for text in texts:
        for secret in (MARKER, CHILD_NAME, world.reference):
            assert secret not in text, f"{secret!r} leaked into: {text}"


def test_a_ready_task_reaches_its_schools_dsls_only_by_email_and_in_app_once_even_if_sent_twice(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    notifier = notifier_of(world, inbox.smtp_settings())
    [event] = ready_events(database)
    task_id = event.payload["task_id"]
    link = f"/incidents/{world.incident_id}/tasks/{task_id}"

    deliver_in_process(database, notifier)

    told = {world.person("dsl").email, world.person("deputy").email}
    received = inbox.messages()
    assert sorted(r for recipients, _ in received for r in recipients) == sorted(told)
    for _recipients, message in received:
        assert message["Subject"] == f"Safeguard Flow: a task awaits you ({world.school_name})"
        assert message["From"] == "safeguard@school.test"
        body = all_text(message)
        assert TASK_NAME in body and f"http://localhost{link}" in body
    notes = notifications(database)
    assert sorted(n.user_id for n in notes) == sorted(
        [world.person("dsl").id, world.person("deputy").id]
    )
    assert {(n.kind, n.link, n.message_id, n.school_id) for n in notes} == {
        ("task.ready", link, event.message_id, world.school_id)
    }
    assert {n.text for n in notes} == {f"A task awaits you at {world.school_name}: {TASK_NAME}."}
    assert_says_nothing_of_the_child(
        world, [all_text(m) for _, m in received] + [f"{n.text} {n.link}" for n in notes]
    )

    send_again(database, event.message_id)
    deliver_in_process(database, notifier)

    assert len(inbox.messages()) == 2
    assert len(notifications(database)) == 2
    assert outbox_row(database, event.message_id).sent_at is not None


def test_events_no_consumer_takes_are_marked_sent_with_a_note_not_retried(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)

    deliver_in_process(database, notifier_of(world, None))

    with database.uow() as uow:
        rows = list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    started = next(r for r in rows if r.event_type == "IncidentStarted")
    assert all(r.sent_at is not None for r in rows)
    assert started.last_error == (
        "unrouted: no in-process consumer binds routing key "
        f"'school.{world.school_id}.incident.started': kept, not retried"
    )
    ready = next(r for r in rows if r.event_type == "TaskReady")
    assert ready.last_error is None


def test_a_task_given_to_someone_tells_them_alone(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    notifier = notifier_of(world, inbox.smtp_settings())
    deliver_in_process(database, notifier)
    [event] = ready_events(database)
    deputy = world.person("deputy")

    world.runtime.bus.handle(
        AssignTask(event.payload["task_id"], world.person("dsl").id, deputy.id, "covering")
    )
    deliver_in_process(database, notifier)

    assigned = [n for n in notifications(database) if n.kind == "task.assigned"]
    assert [n.user_id for n in assigned] == [deputy.id]
    assert assigned[0].text == f"A task at {world.school_name} was given to you: {TASK_NAME}."
    last_recipients, last = inbox.messages()[-1]
    assert last_recipients == [deputy.email]
    assert last["Subject"] == f"Safeguard Flow: a task was given to you ({world.school_name})"
    assert len(inbox.messages()) == 3  # two for the ready task, one for the assignment


def test_without_smtp_email_is_skipped_with_a_log_line_and_people_are_told_in_the_app(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(database, tmp_path)
    caplog.set_level(logging.INFO, logger="services.notifications")

    deliver_in_process(database, notifier_of(world, None))

    assert len(notifications(database)) == 2
    assert "email is off (SAFEGUARD_SMTP_HOST unset): 2 people told" in caplog.text


def test_a_retry_after_email_failed_part_way_emails_nobody_twice_and_notifies_once(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    inbox.refuse(1, after=1)  # the first person's email goes, the second's is refused once

    deliver_in_process(database, notifier_of(world, inbox.smtp_settings()))

    recipients = [r for rs, _ in inbox.messages() for r in rs]
    assert sorted(recipients) == sorted([world.person("dsl").email, world.person("deputy").email])
    assert len(notifications(database)) == 2
    [event] = ready_events(database)
    assert outbox_row(database, event.message_id).last_error is None


def test_email_refused_every_time_dead_letters_the_event_and_rolls_back_its_in_app_rows(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    inbox.refuse(-1, after=1)  # the first email goes; every later one is refused

    deliver_in_process(database, notifier_of(world, inbox.smtp_settings()))

    [event] = ready_events(database)
    row = outbox_row(database, event.message_id)
    assert row.sent_at is not None and row.last_error is not None
    assert row.last_error.startswith(
        "dead letter: consumer notifier gave up: handler failed 3 times, last with EmailFailed: "
        f"SMTP server 127.0.0.1:{inbox.port} did not take the email: SMTPDataError 451"
    )
    assert notifications(database) == []  # every attempt's rows rolled back
    assert len(inbox.messages()) == 1  # the first person was emailed once, not per attempt


def test_emails_in_a_row_share_one_smtp_session_and_one_the_server_closed_is_replaced() -> None:
    inbox = SmtpInbox.start(idle_timeout=0.5)
    sender = SmtpEmailSender(inbox.smtp_settings())
    try:
        sender.send(Email("a@school.test", "One", "1"))
        sender.send(Email("b@school.test", "Two", "2"))
        assert inbox.sessions() == 1
        time.sleep(1.2)  # the server ends the idle session; the sender finds out on use

        sender.send(Email("c@school.test", "Three", "3"))

        assert [m["Subject"] for _, m in inbox.messages()] == ["One", "Two", "Three"]
        assert inbox.sessions() == 2
    finally:
        sender.close()
        inbox.stop()


def test_an_unreachable_smtp_server_fails_the_send_naming_it() -> None:
    sender = SmtpEmailSender(unreachable_smtp())
    with pytest.raises(
        EmailFailed, match=r"SMTP server 127\.0\.0\.1:\d+ did not take the email: Conn"
    ):
        sender.send(Email("a@school.test", "One", "1"))


# --- over RabbitMQ ----------------------------------------------------------------------------


@contextmanager
def deployment_of(broker: BrokerNamespace, notifier: Notifier) -> Iterator[Topology]:
    """The deployment topology under the test's prefix; its unrouted queue deleted afterwards."""
    topology = deployment_topology(broker.topology.prefix)
    broker.track(notifier)
    try:
        yield topology
    finally:
        with broker.channel() as channel:
            channel.queue_delete(topology.unrouted_queue)
            channel.exchange_delete(topology.unrouted_exchange)


def test_over_rabbitmq_the_dsls_are_told_once_and_unrouted_events_are_kept(
    database: Database, tmp_path: Path, inbox: SmtpInbox, broker: BrokerNamespace
) -> None:
    world = make_world(database, tmp_path)
    notifier = notifier_of(world, inbox.smtp_settings())
    with deployment_of(broker, notifier) as topology:
        publisher = RabbitMQPublisher(broker.url, topology, declare_for=[notifier])
        relay = OutboxRelay(database.uow, publisher, EventWakeup())
        runner = RabbitMQConsumerRunner(
            broker.url, topology, [notifier], database.uow, backoff=fast_backoff()
        )
        with running(runner.run, "notifier"):
            stop = threading.Event()
            relay.drain(stop)
            wait_until(lambda: len(notifications(database)) == 2, 15, "two notifications")
            [event] = ready_events(database)
            send_again(database, event.message_id)
            relay.drain(stop)
            wait_until(
                lambda: broker.message_count(topology.queue(notifier.name)) == 0,
                10,
                "the duplicate to be taken",
            )
            assert broker.message_count(topology.unrouted_queue) >= 3  # started, excluded, ...
        publisher.close()

        assert len(notifications(database)) == 2
        assert sorted(r for rs, _ in inbox.messages() for r in rs) == sorted(
            [world.person("dsl").email, world.person("deputy").email]
        )
        with database.uow() as uow:
            unsent = uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
            )
            assert list(unsent) == []  # unrouted events were confirmed, not retried


def test_over_rabbitmq_smtp_down_retries_then_dead_letters_with_the_reason(
    database: Database, tmp_path: Path, broker: BrokerNamespace
) -> None:
    world = make_world(database, tmp_path)
    down = SmtpSettings("127.0.0.1", 1, "safeguard@school.test", starttls=False)
    notifier = notifier_of(world, down)
    with deployment_of(broker, notifier) as topology:
        publisher = RabbitMQPublisher(broker.url, topology, declare_for=[notifier])
        runner = RabbitMQConsumerRunner(
            broker.url,
            topology,
            [notifier],
            database.uow,
            policy=FAST_RETRIES,
            backoff=fast_backoff(),
        )
        with running(runner.run, "notifier"):
            OutboxRelay(database.uow, publisher, EventWakeup()).drain(threading.Event())
            dead = topology.dead_queue(notifier.name)
            wait_until(lambda: broker.message_count(dead) == 1, 15, "the dead letter")
        publisher.close()
        [(_method, properties, _body)] = broker.read_all(dead)
        headers = properties.headers
        assert headers[DEAD_CONSUMER_HEADER] == "notifier"
        assert headers[DEAD_ATTEMPTS_HEADER] == 3
        reason = headers[DEAD_REASON_HEADER]
        assert "EmailFailed: SMTP server 127.0.0.1:1 did not take the email" in reason
        assert notifications(database) == []


def test_an_events_exchange_declared_without_the_alternate_exchange_is_used_as_it_is(
    database: Database, broker: BrokerNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    tap = broker.tap("school.#")  # declares the events exchange the old way, with no arguments
    topology = deployment_topology(broker.topology.prefix)
    with database.uow() as uow:
        uow.outbox.add("school.1.role.dsl.task.ready", "TestEvent", {"n": 1})
        uow.commit()
    publisher = RabbitMQPublisher(broker.url, topology)
    try:
        assert OutboxRelay(database.uow, publisher, EventWakeup()).drain(threading.Event()) == 1
    finally:
        publisher.close()
        with broker.channel() as channel:
            channel.queue_delete(topology.unrouted_queue)
            channel.exchange_delete(topology.unrouted_exchange)
    assert len(broker.read_all(tap)) == 1
    assert "exists with other arguments" in caplog.text
    refused = pytest.raises(pika.exceptions.ChannelClosedByBroker, match="alternate-exchange")
    with refused, broker.channel() as channel:
        channel.exchange_declare(
            topology.events_exchange,
            "topic",
            durable=True,
            arguments=topology.events_exchange_arguments(),
        )


# --- the embedded default, through the web ----------------------------------------------------


def test_serve_without_a_broker_tells_the_dsl_in_the_app_after_a_concern_is_reported_on_the_web(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)
    app = create_app(world.runtime.settings, runtime=world.runtime)
    app.config["TESTING"] = True
    embedded = start_embedded_services(world.runtime, scheduler_interval=0.2)
    try:
        staff = app.test_client()
        login(staff, world.person("staff").email)
        report = staff.get("/report")
        answers = {**scenario_steps("s1.json")[0]["data"], "what_was_said": f"{MARKER} said so."}
        done = staff.post("/report", data=filled(page_form(report), answers))
        assert done.status_code == 302, done.get_data(as_text=True)[:500]

        dsl_id = world.person("dsl").id
        wait_until(
            lambda: (
                len({n.incident_id for n in notifications(database) if n.user_id == dsl_id}) == 2
            ),
            15,
            "the DSL to be told of the new incident",
        )
    finally:
        embedded.stop()
    dsl = app.test_client()
    login(dsl, world.person("dsl").email)
    page = dsl.get("/notifications")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "You have 2 unread notifications." in text
    assert f"A task awaits you at {world.school_name}: {TASK_NAME}." in text
    assert MARKER not in text
    newest = notifications(database)[-1]
    assert dsl.get(newest.link).status_code == 200
    assert_marks_read(dsl)
    assert world.person("outsider").id not in {n.user_id for n in notifications(database)}


def assert_marks_read(browser: FlaskClient) -> None:
    """Mark everything read through the page's button: no unread left."""
    form = page_form(browser.get("/notifications"))
    response = browser.post(form.action, data=dict(form.form_values()))
    assert response.status_code == 302
    after = browser.get("/notifications").get_data(as_text=True)
    assert "2 notifications marked as read." in after
    assert "unread notification" not in after


def test_people_mark_their_own_notifications_read_and_never_someone_elses(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)
    deliver_in_process(database, notifier_of(world, None))
    mine = {n.user_id: n.id for n in notifications(database)}
    dsl, deputy = world.person("dsl"), world.person("deputy")
    app = create_app(world.runtime.settings, runtime=world.runtime)
    app.config["TESTING"] = True
    browser = app.test_client()
    login(browser, deputy.email)
    token = page_form(browser.get("/notifications")).form_values()[0][1]

    for notification_id in (mine[dsl.id], mine[deputy.id]):
        response = browser.post(
            f"/notifications/{notification_id}/read", data={"csrf_token": token, "page": "1"}
        )
        assert response.status_code == 302

    read = {n.user_id: n.read_at for n in notifications(database)}
    assert read[deputy.id] is not None
    assert read[dsl.id] is None  # the deputy's request changed nothing of the DSL's
    page = browser.get("/notifications").get_data(as_text=True)
    assert "unread notification" not in page and "Mark as read" not in page
