"""The notifier against a real SMTP server (aiosmtpd on loopback), SQLite and PostgreSQL, in-process
and over RabbitMQ: who is told, what they are told, once, and what happens when email fails
(the in-app notifications stay; the email is retried on its own for a day, then can be sent
again), and break-glass alerts.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pika.exceptions
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from forms.answers import date_time
from services.bootstrap import start_embedded_services
from services.config import SmtpSettings
from services.db.models import OutboxMessage
from services.domain.commands import AssignTask, CompleteTask
from services.domain.queries import ViewIncident
from services.messaging import (
    EventWakeup,
    InProcessPublisher,
    OutboxRelay,
    RabbitMQConsumerRunner,
    RabbitMQPublisher,
)
from services.messaging.topology import Topology, deployment_topology
from services.notifications import (
    Email,
    EmailFailed,
    EmailQueueSender,
    Notifier,
    SmtpEmailSender,
    notifier_for,
)
from services.notifications.email_operations import send_emails_again
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
    add_person,
    all_text,
    email_sender,
    emails,
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
    """The notifier `safeguard serve` or `safeguard notifier` would build, on the world's clock."""
    return notifier_for(with_smtp(world, smtp), clock=world.clock.now)


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
    sender = email_sender(world, inbox.smtp_settings())
    [event] = ready_events(database)
    task_id = event.payload["task_id"]
    link = f"/incidents/{world.incident_id}/tasks/{task_id}"

    deliver_in_process(database, notifier)
    assert inbox.messages() == []  # queued with the notifications, sent by the email sender
    assert sender.send_due() == 2

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

    assert sender.send_due() == 0
    assert len(inbox.messages()) == 2
    assert len(notifications(database)) == 2
    assert [e.state for e in emails(database)] == ["sent", "sent"]
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
    sender = email_sender(world, inbox.smtp_settings())
    deliver_in_process(database, notifier)
    sender.send_due()
    [event] = ready_events(database)
    deputy = world.person("deputy")

    world.runtime.bus.handle(
        AssignTask(event.payload["task_id"], world.person("dsl").id, deputy.id, "covering")
    )
    deliver_in_process(database, notifier)
    sender.send_due()

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
    assert emails(database) == []  # nothing queued to flood people once SMTP is set
    assert "email is off (SAFEGUARD_SMTP_HOST unset): 2 people told" in caplog.text


def test_a_refused_email_leaves_everyone_told_in_the_app_and_is_retried_alone_a_minute_later(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    sender = email_sender(world, inbox.smtp_settings())
    inbox.refuse(1, after=1)  # the first person's email goes, the second's is refused once

    deliver_in_process(database, notifier_of(world, inbox.smtp_settings()))
    assert sender.send_due() == 1

    assert len(notifications(database)) == 2  # the refusal undid nobody's notification
    [event] = ready_events(database)
    assert outbox_row(database, event.message_id).last_error is None  # no dead letter
    sent, refused = sorted(emails(database), key=lambda e: e.state != "sent")
    assert (sent.state, sent.attempts) == ("sent", 1)
    assert (refused.state, refused.attempts) == ("pending", 1)
    assert refused.last_error is not None and "SMTPDataError 451" in refused.last_error
    assert refused.next_attempt_at == world.clock.now() + timedelta(minutes=1)

    assert sender.send_due() == 0  # not due yet
    world.clock.advance(timedelta(minutes=1))
    assert sender.send_due() == 1

    recipients = [r for rs, _ in inbox.messages() for r in rs]
    assert sorted(recipients) == sorted([world.person("dsl").email, world.person("deputy").email])
    assert [e.state for e in emails(database)] == ["sent", "sent"]


def test_an_smtp_outage_backs_off_for_a_day_then_gives_up_visibly_and_sending_again_works(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    down = email_sender(world, unreachable_smtp())
    deliver_in_process(database, notifier_of(world, inbox.smtp_settings()))
    assert len(notifications(database)) == 2

    waits: list[timedelta] = []
    while (pending := [e for e in emails(database) if e.state == "pending"]) and len(waits) < 60:
        due = max(e.next_attempt_at or world.clock.now() for e in pending)
        waits.append(due - world.clock.now())
        world.clock.set(max(due, world.clock.now()))
        assert down.send_due() == 0

    minutes = [round(w.total_seconds() / 60) for w in waits]
    assert minutes[:9] == [0, 1, 2, 4, 8, 16, 32, 60, 60]  # doubling from 1 minute to 1 hour
    given_up = emails(database)
    assert {e.state for e in given_up} == {"failed"}
    queued_at = given_up[0].queued_at
    assert queued_at is not None and world.clock.now() - queued_at >= timedelta(days=1)
    assert all(e.attempts == len(waits) for e in given_up)
    assert all("ConnectionRefusedError" in (e.last_error or "") for e in given_up)
    assert len(notifications(database)) == 2

    with world.runtime.unit_of_work() as uow:
        again = send_emails_again(
            uow, [world.school_id], world.person("admin").id, world.clock.now()
        )
        uow.commit()
    assert again == 2
    assert email_sender(world, inbox.smtp_settings()).send_due() == 2
    assert len(inbox.messages()) == 2
    assert {e.state for e in emails(database)} == {"sent"}


def test_an_email_is_skipped_once_its_task_no_longer_waits_or_its_person_is_inactive(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    deliver_in_process(database, notifier_of(world, inbox.smtp_settings()))
    [event] = ready_events(database)
    with world.runtime.unit_of_work() as uow:
        deputy = uow.users.get(world.person("deputy").id)
        assert deputy is not None
        deputy.is_active = False
        uow.commit()
    review = scenario_steps("s1.json")[1]["data"]
    world.runtime.bus.handle(CompleteTask(event.payload["task_id"], world.person("dsl").id, review))

    assert email_sender(world, inbox.smtp_settings()).send_due() == 0

    assert inbox.messages() == []
    reasons = {e.user_id: (e.state, e.last_error) for e in emails(database)}
    assert reasons == {
        world.person("dsl").id: ("skipped", "not sent: the task no longer waits"),
        world.person("deputy").id: ("skipped", "not sent: the person's account is not active"),
    }


def test_two_email_senders_never_send_the_same_email(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    deliver_in_process(database, notifier_of(world, inbox.smtp_settings()))
    senders = [email_sender(world, inbox.smtp_settings()) for _ in range(2)]
    counts: list[int] = []

    def send(sender: EmailQueueSender) -> None:
        counts.append(sender.send_due())

    threads = [threading.Thread(target=send, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(counts) in ([0, 2], [1, 1])
    assert len(inbox.messages()) == 2


# --- break-glass ------------------------------------------------------------------------------


def events_of(database: Database, event_type: str) -> list[OutboxMessage]:
    """The outbox rows of one event type, in the order written."""
    with database.uow() as uow:
        query = select(OutboxMessage).where(OutboxMessage.event_type == event_type)
        return list(uow.session.scalars(query.order_by(OutboxMessage.id)))


def break_glass(world: World, person_id: int) -> None:
    """Open the world's incident with break-glass, as the incident page does."""
    reason = f"Worried about {CHILD_NAME}: {MARKER}"  # a reason may quote a child
    world.runtime.bus.handle(ViewIncident(world.incident_id, person_id, reason))


def test_break_glass_alerts_the_schools_dsls_once_a_day_with_who_when_and_a_link_not_the_reason(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    notifier = notifier_of(world, inbox.smtp_settings())
    sender = email_sender(world, inbox.smtp_settings())
    deliver_in_process(database, notifier)
    sender.send_due()
    teacher = add_person(world.runtime, world.school_id, "staff")

    break_glass(world, teacher.id)
    deliver_in_process(database, notifier)
    sender.send_due()

    alerts = [n for n in notifications(database) if n.kind == "incident.break_glass"]
    assert sorted(n.user_id for n in alerts) == sorted(
        [world.person("dsl").id, world.person("deputy").id]
    )
    assert {n.link for n in alerts} == {f"/incidents/{world.incident_id}"}
    assert {n.actor_id for n in alerts} == {teacher.id}
    [used] = events_of(database, "BreakGlassUsed")
    assert {n.text for n in alerts} == {
        f"{teacher.name} opened an incident at {world.school_name} using break-glass access "
        f"(outside the need to know) on {date_time(used.created_at)}."
    }
    mails = inbox.messages()[2:]
    assert sorted(r for rs, _ in mails for r in rs) == sorted(
        [world.person("dsl").email, world.person("deputy").email]
    )
    for _, message in mails:
        assert message["Subject"] == (
            f"Safeguard Flow: an incident was opened with break-glass access ({world.school_name})"
        )
        body = all_text(message)
        assert teacher.name in body
        assert f"http://localhost/incidents/{world.incident_id}" in body
    assert_says_nothing_of_the_child(
        world, [all_text(m) for _, m in mails] + [n.text for n in alerts]
    )

    break_glass(world, teacher.id)  # the next page of the same visit
    deliver_in_process(database, notifier)
    assert len([n for n in notifications(database) if n.kind == "incident.break_glass"]) == 2

    world.clock.advance(timedelta(hours=25))
    break_glass(world, teacher.id)
    deliver_in_process(database, notifier)
    assert len([n for n in notifications(database) if n.kind == "incident.break_glass"]) == 4


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
            assert email_sender(world, inbox.smtp_settings()).send_due() == 2
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


def test_over_rabbitmq_smtp_down_dead_letters_nothing_and_break_glass_reaches_the_dsls(
    database: Database, tmp_path: Path, broker: BrokerNamespace
) -> None:
    world = make_world(database, tmp_path)
    down = SmtpSettings("127.0.0.1", 1, "safeguard@school.test", starttls=False)
    notifier = notifier_of(world, down)
    teacher = add_person(world.runtime, world.school_id, "staff")
    with deployment_of(broker, notifier) as topology:
        publisher = RabbitMQPublisher(broker.url, topology, declare_for=[notifier])
        relay = OutboxRelay(database.uow, publisher, EventWakeup())
        runner = RabbitMQConsumerRunner(
            broker.url,
            topology,
            [notifier],
            database.uow,
            policy=FAST_RETRIES,
            backoff=fast_backoff(),
        )
        with running(runner.run, "notifier"):
            relay.drain(threading.Event())
            wait_until(lambda: len(notifications(database)) == 2, 15, "two notifications")
            break_glass(world, teacher.id)
            relay.drain(threading.Event())
            wait_until(lambda: len(notifications(database)) == 4, 15, "two break-glass alerts")
            assert email_sender(world, down).send_due() == 0
            dead = broker.message_count(topology.dead_queue(notifier.name))
        publisher.close()

    assert dead == 0
    alerted = {n.user_id for n in notifications(database) if n.kind == "incident.break_glass"}
    assert alerted == {world.person("dsl").id, world.person("deputy").id}
    waiting = emails(database)
    assert len(waiting) == 4 and {e.state for e in waiting} == {"pending"}
    assert all("did not take the email" in (e.last_error or "") for e in waiting)


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


def test_serve_without_a_broker_tells_the_dsl_in_app_and_by_email_after_a_report_on_the_web(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    runtime = replace(world.runtime, settings=with_smtp(world, inbox.smtp_settings()))
    app = create_app(runtime.settings, runtime=runtime)
    app.config["TESTING"] = True
    embedded = start_embedded_services(runtime, scheduler_interval=0.2, email_interval=0.2)
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
        dsl_email = world.person("dsl").email
        wait_until(
            lambda: sum(dsl_email in rs for rs, _ in inbox.messages()) == 2,
            15,
            "the email sender's thread to email the DSL of both incidents",
        )
    finally:
        embedded.stop()
    assert embedded.emails is not None and not embedded.emails.thread.is_alive()
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
