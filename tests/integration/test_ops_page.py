"""The operations page: dead letters (in-process and in RabbitMQ), events being retried, emails
being retried or given up on, events no consumer took and timer failures, shown to process
administrators of the schools concerned only, with no details of children; and its actions
(deliver an event again, send emails again), CSRF-protected and audited.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import delete, select

from services.bootstrap import Runtime
from services.db import SqlAlchemyUnitOfWork
from services.db.column_types import utcnow
from services.db.models import AuditEvent, Membership, OutboxMessage
from services.messaging import (
    Consumer,
    Delivery,
    EventWakeup,
    InProcessPublisher,
    OutboxRelay,
    RabbitMQConsumerRunner,
    RabbitMQPublisher,
)
from services.messaging.topology import deployment_topology
from services.notifications import notifier_for
from services.notifications.email_operations import SENT_AGAIN
from services.notifications.operations import DELIVERED_AGAIN
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
    email_sender,
    emails,
    free_port,
    make_world,
    notifications,
    ready_events,
    smtp_inbox,
    unreachable_smtp,
    with_smtp,
)
from tests.integration.web_fixtures import login


@pytest.fixture
def inbox() -> Iterator[SmtpInbox]:
    """A real SMTP server on a free loopback port."""
    yield from smtp_inbox()


class FlakyConsumer:
    """Takes ready tasks, failing (its error quoting an address) until healed."""

    name = "flaky"
    bindings = ("school.*.role.*.task.ready",)

    def __init__(self) -> None:
        self.healed = False
        self.handled: list[str] = []

    def handle(self, message: Delivery, uow: SqlAlchemyUnitOfWork) -> None:
        """Fail until healed; then note the message."""
        if not self.healed:
            raise RuntimeError("the downstream service refused it")
        self.handled.append(message.message_id)


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


def csrf_of(page_html: str) -> str:
    """The CSRF token of the page's forms."""
    tokens = html.fromstring(page_html).xpath("//input[@name='csrf_token']/@value")
    assert isinstance(tokens, list) and tokens, "no form with a CSRF token on the page"
    return str(tokens[0])


def drain(database: Database, consumers: list[Consumer], *, keep_unrouted: bool = False) -> None:
    """Relay every due outbox row to these consumers in this thread (the embedded default)."""
    stop = threading.Event()
    publisher = InProcessPublisher(
        consumers, database.uow, stop, policy=FAST_RETRIES, keep_unrouted=keep_unrouted
    )
    OutboxRelay(database.uow, publisher, EventWakeup()).drain(stop)


def audit_actions(database: Database, action: str) -> list[AuditEvent]:
    """The audit events of one action, in order."""
    with database.uow() as uow:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(uow.session.scalars(query))


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


def test_a_dead_letter_and_a_timer_failure_show_without_child_details_and_deliver_again(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)
    flaky = FlakyConsumer()
    drain(database, [notifier_for(world.runtime.settings), flaky])
    add_timer_failure(world)
    admin = signed_in(app_of(world.runtime), world.person("admin").email)

    text = admin.get("/operations").get_data(as_text=True)

    assert words(text, "dead-count").startswith("1 event given up on")
    [event] = ready_events(database)
    assert "TaskReady" in text and f"school.{world.school_id}.role.dsl.task.ready" in text
    assert (
        "dead letter: consumer flaky gave up: handler failed 3 times, last with RuntimeError: "
        "the downstream service refused it"
    ) in text
    assert words(text, "timer-count").startswith("1 failed attempt to fire timers")
    assert "ValueError" in text and world.reference in text
    for secret in (MARKER, CHILD_NAME):
        assert secret not in text
    # Without keep_unrouted, events no consumer takes are refused and retried: shown as such.
    assert not words(text, "failing-count").startswith("0 ")
    assert "unroutable: no in-process consumer binds routing key" in text

    flaky.healed = True
    path = f"/operations/events/{event.message_id}/deliver-again"
    assert admin.post(path).status_code == 400  # no CSRF token
    response = admin.post(
        f"/operations/events/{event.message_id}/deliver-again", data={"csrf_token": csrf_of(text)}
    )
    assert response.status_code == 302
    assert "will be delivered again" in admin.get("/operations").get_data(as_text=True)
    drain(database, [notifier_for(world.runtime.settings), flaky])

    assert flaky.handled == [event.message_id]
    assert len(notifications(database)) == 2  # the notifier had it already: not told twice
    row = outbox_row(database, event.message_id)
    assert row.sent_at is not None and row.last_error is None
    [audit] = audit_actions(database, DELIVERED_AGAIN)
    assert (audit.actor_id, audit.school_id) == (world.person("admin").id, world.school_id)


def test_an_admin_sees_only_their_schools_events_and_emails_and_no_school_events_without_detail(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)
    smtp = unreachable_smtp()
    drain(database, [notifier_for(with_smtp(world, smtp))])
    email_sender(world, smtp).send_due()
    other_admin = add_person(world.runtime, world.other_school_id, "admin")
    app = app_of(replace(world.runtime, settings=with_smtp(world, smtp)))
    dsl, deputy = world.person("dsl"), world.person("deputy")

    mine = signed_in(app, world.person("admin").email).get("/operations").get_data(as_text=True)
    theirs = signed_in(app, other_admin.email).get("/operations").get_data(as_text=True)

    assert words(mine, "email-counts").startswith("2 emails being retried; 0 given up on")
    table = words(mine, "email-problems")
    assert dsl.email in table and deputy.email in table and dsl.name in table
    assert f"EmailFailed: SMTP server 127.0.0.1:{smtp.port} did not take the email" in table
    assert f"school.{world.school_id}." in mine
    assert "no in-process consumer binds routing key 'definition.deployed'" not in mine

    assert words(theirs, "email-counts").startswith("0 emails being retried; 0 given up on")
    assert f"school.{world.school_id}." not in theirs
    for address in (dsl.email, deputy.email, world.person("staff").email):
        assert address not in theirs
    # definition.deployed belongs to no school: both see it, with its kind of error only.
    assert words(theirs, "failing-count").startswith("1 event not sent yet")
    for page in (mine, theirs):
        assert "definition.deployed" in page
        assert "unroutable (detail in the server log: this event belongs to no school)" in page


def test_admins_send_failing_emails_again_with_a_csrf_token_audited_and_only_their_schools(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    smtp = unreachable_smtp()
    drain(database, [notifier_for(with_smtp(world, smtp))])
    email_sender(world, smtp).send_due()
    app = app_of(replace(world.runtime, settings=with_smtp(world, smtp)))
    admin = signed_in(app, world.person("admin").email)
    other_admin = signed_in(app, add_person(world.runtime, world.other_school_id, "admin").email)
    token = csrf_of(admin.get("/operations").get_data(as_text=True))
    dsl_email = next(e for e in emails(database) if e.user_id == world.person("dsl").id)
    one = {"message_id": dsl_email.message_id, "user_id": str(dsl_email.user_id)}

    assert admin.post("/operations/emails/send-again", data=one).status_code == 400  # no token
    odd = {"message_id": "a\x00b", "user_id": "1", "csrf_token": token}
    assert admin.post("/operations/emails/send-again", data=odd).status_code == 404
    refused = other_admin.post(
        "/operations/emails/send-again",
        data={**one, "csrf_token": csrf_of(other_admin.get("/operations").get_data(as_text=True))},
    )
    assert refused.status_code == 302
    assert "no failing email to send again" in other_admin.get("/operations").get_data(as_text=True)
    dsl = signed_in(app, world.person("dsl").email)
    assert dsl.post("/operations/emails/send-again", data=one).status_code in (400, 403)
    assert audit_actions(database, SENT_AGAIN) == []

    response = admin.post("/operations/emails/send-again", data={**one, "csrf_token": token})
    assert response.status_code == 302
    assert "1 email will be sent again" in admin.get("/operations").get_data(as_text=True)
    again = admin.post("/operations/emails/send-again", data={"csrf_token": token})
    assert again.status_code == 302

    audits = audit_actions(database, SENT_AGAIN)
    assert [a.actor_id for a in audits] == [world.person("admin").id] * 3  # one, then both
    assert {a.school_id for a in audits} == {world.school_id}
    assert all(e.next_attempt_at is None and e.attempts == 0 for e in emails(database))
    assert email_sender(world, inbox.smtp_settings()).send_due() == 2
    assert words(admin.get("/operations").get_data(as_text=True), "email-counts").startswith(
        "0 emails being retried"
    )


def test_the_address_of_someone_who_left_the_school_is_withheld_even_in_the_error(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    deputy = world.person("deputy")
    reply = f"550 5.1.1 <{deputy.email.upper()}>: Recipient address rejected"
    inbox.refuse_recipient(deputy.email, reply)
    drain(database, [notifier_for(with_smtp(world, inbox.smtp_settings()))])
    email_sender(world, inbox.smtp_settings()).send_due()
    with world.runtime.unit_of_work() as uow:
        uow.session.execute(delete(Membership).where(Membership.user_id == deputy.id))
        uow.commit()
    app = app_of(replace(world.runtime, settings=with_smtp(world, inbox.smtp_settings())))

    text = signed_in(app, world.person("admin").email).get("/operations").get_data(as_text=True)

    table = words(text, "email-problems")
    assert deputy.email not in text.lower() and deputy.name not in text
    assert "someone no longer in your schools" in table
    assert "SMTPDataError 550 5.1.1 <[address withheld]>: Recipient address rejected" in table
    assert words(text, "email-counts").startswith("1 email being retried")  # the DSL's went


def test_unrouted_events_are_counted_for_information_and_ones_a_consumer_should_take_flagged(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)
    with world.runtime.unit_of_work() as uow:
        uow.outbox.add(
            f"school.{world.school_id}.external.no_such_topic",
            "ExternalTaskReady",
            {"school_id": world.school_id, "incident_id": world.incident_id, "task_id": "t-1"},
        )
        uow.commit()
    drain(database, [notifier_for(world.runtime.settings)], keep_unrouted=True)
    with database.uow() as uow:
        unrouted = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.last_error.startswith("unrouted:"))
        ).all()

    text = (
        signed_in(app_of(world.runtime), world.person("admin").email)
        .get("/operations")
        .get_data(as_text=True)
    )

    assert words(text, "missed-count").startswith("1 event that a consumer should have taken")
    missed = words(text, "missed-events")
    assert f"ExternalTaskReady school.{world.school_id}.external.no_such_topic 1" in missed
    expected = len(unrouted) - 1
    assert expected >= 3  # incident started, person excluded, definition deployed, ...
    assert words(text, "unrouted-count").startswith(
        f"For information: {expected} events that no consumer is meant to take"
    )
    assert words(text, "failing-count").startswith("0 events")


def test_staff_and_dsls_get_403_and_people_signed_out_go_to_sign_in(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)
    app = app_of(world.runtime)

    for name in ("staff", "dsl", "head", "auditor"):
        browser = signed_in(app, world.person(name).email)
        assert browser.get("/operations").status_code == 403
        token = csrf_of(browser.get("/").get_data(as_text=True))  # the sign-out form's
        for path in ("/operations/emails/send-again", "/operations/events/x/deliver-again"):
            assert browser.post(path, data={"csrf_token": token}).status_code == 403
    assert app.test_client().get("/operations").status_code == 302
    menu = signed_in(app, world.person("staff").email).get("/").get_data(as_text=True)
    assert "/notifications" in menu and "/operations" not in menu
    admin_menu = signed_in(app, world.person("admin").email).get("/").get_data(as_text=True)
    assert "/operations" in admin_menu


def test_rabbitmq_dead_letters_are_counted_from_the_broker(
    database: Database, tmp_path: Path, broker: BrokerNamespace
) -> None:
    world = make_world(database, tmp_path)
    notifier = notifier_for(world.runtime.settings)
    with world.runtime.unit_of_work() as uow:  # a task.ready event without its task: invalid
        uow.outbox.add(
            f"school.{world.school_id}.role.dsl.task.ready", "TaskReady", {"school_id": 1}
        )
        uow.commit()
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
    assert f"in {prefix}.unrouted (all schools, mostly such events)" in words(
        text, "unrouted-count"
    )


def test_an_unreachable_broker_is_said_plainly(database: Database, tmp_path: Path) -> None:
    world = make_world(database, tmp_path)
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    settings = replace(world.runtime.settings, amqp_url=nowhere)
    app = app_of(replace(world.runtime, settings=settings))

    text = signed_in(app, world.person("admin").email).get("/operations").get_data(as_text=True)

    assert words(text, "broker-problem").startswith("RabbitMQ could not be asked: the broker")


def test_failed_jobs_show_to_the_admins_of_their_school_with_the_error_type_only(
    database: Database, tmp_path: Path
) -> None:
    world = make_world(database, tmp_path)
    with world.runtime.unit_of_work() as uow:
        job = uow.external_tasks.add(
            task_id="job-1",
            incident_id=world.incident_id,
            bpmn_id="render_record_pdf",
            name="File the record as a PDF",
            topic="render_record_pdf",
            role="dsl",
        )
        job.state, job.attempts, job.finished_at = "failed", 3, utcnow()
        job.last_error = f"ValueError: cannot lay out {MARKER!r}"
        uow.commit()
    other_admin = add_person(world.runtime, world.other_school_id, "admin")
    app = app_of(world.runtime)

    mine = signed_in(app, world.person("admin").email).get("/operations").get_data(as_text=True)
    theirs = signed_in(app, other_admin.email).get("/operations").get_data(as_text=True)

    assert words(mine, "job-count").startswith("1 job ")
    table = words(mine, "failed-jobs")
    assert world.reference in table and "File the record as a PDF" in table
    assert "ValueError" in table and MARKER not in mine
    assert words(theirs, "job-count").startswith("0 jobs ")
    assert world.reference not in theirs
