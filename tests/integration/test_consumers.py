"""Idempotent consumers, on RabbitMQ and in-process, against real SQLite/PostgreSQL databases."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pika
import pytest
from sqlalchemy import select, update

from services.db import SqlAlchemyUnitOfWork
from services.db.models import OutboxMessage, ProcessedMessage
from services.domain.events import IncidentClosed, TaskReady
from services.domain.handlers.common import write_outbox
from services.messaging import (
    Delivery,
    EmbeddedMessaging,
    InProcessPublisher,
    OutboxRelay,
    OutgoingMessage,
    RabbitMQConsumerRunner,
    RabbitMQPublisher,
    RelaySettings,
    handle_once,
    topic_matches,
)
from services.messaging.ports import check_consumers
from services.messaging.wakeup import EventWakeup
from services.messaging.wire import (
    DEAD_ATTEMPTS_HEADER,
    DEAD_CONSUMER_HEADER,
    DEAD_REASON_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
)
from tests.integration.messaging_fixtures import (
    FAST_RETRIES,
    BrokerNamespace,
    Database,
    RecordingConsumer,
    amqp_url,
    broker,
    database,
    effects,
    fast_backoff,
    outbox_row,
    postgres_database,
    running,
    start_consumer_process,
    stop_process,
    unsent_count,
    wait_for_count,
    wait_for_exit,
    wait_until,
    write_events,
)

__all__ = ["amqp_url", "broker", "database", "postgres_database"]  # fixtures used by name

NOW = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


def message(message_id: str, routing_key: str = "school.7.role.dsl.task.ready") -> OutgoingMessage:
    return OutgoingMessage(message_id, routing_key, "TaskReady", {"task_id": "t-1"}, NOW)


def runner_for(
    database: Database, broker: BrokerNamespace, *consumers: RecordingConsumer
) -> RabbitMQConsumerRunner:
    broker.track(*consumers)
    return RabbitMQConsumerRunner(
        broker.url,
        broker.topology,
        consumers,
        database.uow,
        policy=FAST_RETRIES,
        backoff=fast_backoff(),
    )


def dead_letters(
    broker: BrokerNamespace, consumer: str
) -> list[tuple[pika.BasicProperties, bytes]]:
    taken = broker.read_all(broker.topology.dead_queue(consumer), idle=0.5)
    return [(properties, body) for _, properties, body in taken]


def processed(database: Database, consumer: str, message_id: str) -> bool:
    with database.uow() as uow:
        return uow.processed.seen(consumer, message_id)


# --- rules that need no broker ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("school.*.role.dsl.task.ready", "school.12.role.dsl.task.ready", True),
        ("school.*.role.dsl.task.ready", "school.12.role.staff.task.ready", False),
        ("school.#", "school.12.incident.closed", True),
        ("school.#", "school", True),  # `#` matches zero words
        ("school.*", "school", False),  # `*` matches exactly one
        ("#.closed", "school.3.incident.closed", True),
        ("school.*.incident.#.excluded", "school.3.incident.person.excluded", True),
        ("definition.deployed", "definition.deployed", True),
        ("definition.deployed", "definition.deployed.again", False),
    ],
)
def test_topic_patterns_match_as_rabbitmq_does(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches


def test_consumers_need_a_queue_name_unique_among_them_and_bindings() -> None:
    with pytest.raises(ValueError, match="'Bad Name' is not usable"):
        check_consumers([RecordingConsumer("Bad Name")])
    with pytest.raises(ValueError, match="share the name 'twice'"):
        check_consumers([RecordingConsumer("twice"), RecordingConsumer("twice")])
    with pytest.raises(ValueError, match="no bindings"):
        check_consumers([RecordingConsumer("lonely", bindings=())])


def test_concurrent_deliveries_of_one_message_commit_one_effect(database: Database) -> None:
    consumer = RecordingConsumer("ledger", delay=0.3)
    delivery = Delivery("m-concurrent", "school.7.x", "TestEvent", {})
    results: list[bool] = []

    def deliver() -> None:
        results.append(handle_once(consumer, delivery, database.uow))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(results) == [False, True]
    assert consumer.calls == 2  # both ran the handler; only one commit survived
    assert effects(database, "ledger") == {"m-concurrent": 1}


# --- RabbitMQ ---------------------------------------------------------------------------------


@pytest.mark.rabbitmq
def test_the_same_message_published_twice_is_applied_once(
    database: Database, broker: BrokerNamespace
) -> None:
    consumer = RecordingConsumer("ledger")
    runner = runner_for(database, broker, consumer)
    publisher = RabbitMQPublisher(broker.url, broker.topology, declare_for=[consumer])
    try:
        assert publisher.publish([message("m-twice")]).confirmed == ("m-twice",)
        assert publisher.publish([message("m-twice")]).confirmed == ("m-twice",)
    finally:
        publisher.close()

    with running(runner.run, "consumer"):
        wait_until(lambda: processed(database, "ledger", "m-twice"), 10, "the first delivery")
        queue = broker.topology.queue("ledger")
        wait_until(lambda: broker.message_count(queue) == 0, 10, "both deliveries taken")
        time.sleep(0.3)  # the second delivery is handled (skipped) and acked

    assert broker.message_count(queue) == 0  # both acked: nothing came back on disconnect
    assert effects(database, "ledger") == {"m-twice": 1}
    assert consumer.calls == 1  # the duplicate never reached the handler


@pytest.mark.rabbitmq
def test_a_handler_that_keeps_failing_is_dead_lettered_with_the_reason_and_logged(
    database: Database, broker: BrokerNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    bad, good = RecordingConsumer("bad", fail_always=True), RecordingConsumer("good")
    runner = runner_for(database, broker, bad, good)
    publisher = RabbitMQPublisher(broker.url, broker.topology, declare_for=[bad, good])
    caplog.set_level(logging.ERROR, logger="services.messaging")
    try:
        assert publisher.publish([message("m-poison")]).confirmed == ("m-poison",)
    finally:
        publisher.close()

    with running(runner.run, "consumers"):
        dead_queue = broker.topology.dead_queue("bad")
        wait_until(lambda: broker.message_count(dead_queue) == 1, 10, "the dead letter")
        wait_until(lambda: processed(database, "good", "m-poison"), 10, "the good consumer")
        time.sleep(0.5)
        assert bad.calls == FAST_RETRIES.max_attempts  # no loop: three tries, then dead

    [(properties, body)] = dead_letters(broker, "bad")
    headers = properties.headers
    assert properties.message_id == "m-poison" and properties.type == "TaskReady"
    assert body == b'{"task_id":"t-1"}'
    assert headers[DEAD_CONSUMER_HEADER] == "bad" and headers[DEAD_ATTEMPTS_HEADER] == 3
    assert headers[ORIGINAL_ROUTING_KEY_HEADER] == "school.7.role.dsl.task.ready"
    assert "handler failed 3 times" in headers[DEAD_REASON_HEADER]
    assert "RuntimeError: boom in bad on m-poison" in headers[DEAD_REASON_HEADER]
    assert broker.message_count(broker.topology.queue("bad")) == 0
    assert effects(database, "bad") == {}  # each failed attempt rolled back its effect
    assert effects(database, "good") == {"m-poison": 1}
    failures = [r for r in caplog.records if "failed on message m-poison" in r.getMessage()]
    assert len(failures) == 3 and failures[0].exc_info is not None


@pytest.mark.rabbitmq
def test_a_handler_failing_twice_then_succeeding_applies_its_effect_once(
    database: Database, broker: BrokerNamespace
) -> None:
    consumer = RecordingConsumer("flaky", fail_first=2)
    runner = runner_for(database, broker, consumer)
    publisher = RabbitMQPublisher(broker.url, broker.topology, declare_for=[consumer])
    try:
        publisher.publish([message("m-flaky")])
    finally:
        publisher.close()

    with running(runner.run, "consumer"):
        wait_until(lambda: processed(database, "flaky", "m-flaky"), 10, "the third attempt")

    assert consumer.calls == 3
    assert effects(database, "flaky") == {"m-flaky": 1}
    assert broker.message_count(broker.topology.dead_queue("flaky")) == 0


@dataclass(frozen=True)
class RawMessage:
    """A message published by hand, bypassing the relay's encoding."""

    body: bytes
    message_id: str | None
    event_type: str | None = "TaskReady"


@pytest.mark.rabbitmq
def test_bodies_that_are_not_json_or_lack_fields_are_dead_lettered_at_once(
    database: Database, broker: BrokerNamespace
) -> None:
    picky = RecordingConsumer("picky", invalid=True)
    runner = runner_for(database, broker, picky)
    raw = [
        RawMessage(b"{not json", "m-garbled"),
        RawMessage(b"[1, 2]", "m-list"),
        RawMessage(b"{}", None),
        RawMessage(b"{}", "m-untyped", event_type=None),
        RawMessage(b'{"task_id": 3}', "m-unusable"),  # valid, but the consumer refuses it
    ]
    with running(runner.run, "consumer"):
        dead_queue = broker.topology.dead_queue("picky")
        # Consuming means every queue and binding is declared (the dead queue comes first, so
        # its existing alone let a busy machine publish before the binding was there).
        queue = broker.topology.queue("picky")
        wait_until(lambda: _consuming(broker, queue), 10, "the consumer")
        with broker.channel() as channel:
            for item in raw:
                properties = pika.BasicProperties(message_id=item.message_id, type=item.event_type)
                channel.basic_publish(
                    broker.topology.events_exchange, "school.7.x", item.body, properties
                )
        wait_until(lambda: broker.message_count(dead_queue) == 5, 10, "five dead letters")

    reasons = {
        p.message_id: p.headers[DEAD_REASON_HEADER] for p, _ in dead_letters(broker, "picky")
    }
    assert "the body is not valid JSON" in reasons["m-garbled"]
    assert "the body is JSON list, not an object" in reasons["m-list"]
    assert "no message_id property" in reasons[None]
    assert "has no type property" in reasons["m-untyped"]
    assert "payload of m-unusable lacks what picky needs" in reasons["m-unusable"]
    assert picky.calls == 1  # only the well-formed one reached the handler, and only once
    assert effects(database, "picky") == {}


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_a_consumer_killed_mid_batch_and_restarted_loses_nothing_and_applies_nothing_twice(
    postgres_database: Database, broker: BrokerNamespace
) -> None:
    database = postgres_database
    consumer = RecordingConsumer("ledger")
    broker.track(consumer)
    publisher = RabbitMQPublisher(broker.url, broker.topology, declare_for=[consumer])
    relay = OutboxRelay(database.uow, publisher, EventWakeup())
    ids = write_events(database, 1000, per_commit=250)
    relay.drain(threading.Event())
    publisher.close()
    assert unsent_count(database, ids) == 0

    # Killed right after its 150th commit, before that message's ack, with 50 in flight.
    first = start_consumer_process(
        database, broker, "ledger", "--kill-after-commit", "150", "--prefetch", "50"
    )
    code, output = wait_for_exit(first)
    assert code == -signal.SIGKILL, output
    assert len(effects(database, "ledger")) == 150

    second = start_consumer_process(database, broker, "ledger", "--prefetch", "50")
    try:
        wait_for_count(lambda: len(effects(database, "ledger")), 1000, "every effect")
    finally:
        code, output = stop_process(second, signal.SIGTERM)
    assert code == 0, output

    applied = effects(database, "ledger")
    assert set(applied) == set(ids)
    assert max(applied.values()) == 1
    assert broker.message_count(broker.topology.queue("ledger")) == 0


# --- in-process (the embedded default) --------------------------------------------------------


def test_in_process_delivery_routes_by_pattern_and_a_replayed_row_is_not_applied_twice(
    database: Database,
) -> None:
    dsl = RecordingConsumer("dsl-inbox", bindings=("school.*.role.dsl.task.ready",))
    everything = RecordingConsumer("projection", bindings=("school.#",))
    ready = TaskReady(7, "dsl", "task-1", "incident-1", "review")
    closed = IncidentClosed(7, "incident-1")
    messaging = EmbeddedMessaging(
        database.engine,
        database.session_factory,
        [dsl, everything],
        policy=FAST_RETRIES,
        settings=RelaySettings(poll_interval=0.2),  # the replay below is an UPDATE: polled
    )
    messaging.start()
    try:
        with database.uow() as uow:
            write_outbox(uow, [ready, closed])
            uow.commit()
        wait_until(lambda: unsent_count(database) == 0, 10, "both rows delivered")
        wait_until(lambda: len(effects(database, "projection")) == 2, 10, "the projection")
        with database.uow() as uow:
            replay = update(OutboxMessage).where(OutboxMessage.event_type == "TaskReady")
            uow.session.execute(replay.values(sent_at=None))
            uow.commit()
        wait_until(lambda: unsent_count(database) == 0, 10, "the replay delivered")
    finally:
        messaging.stop(timeout=10)

    assert list(effects(database, "dsl-inbox").values()) == [1]
    assert sorted(effects(database, "projection").values()) == [1, 1]
    assert (dsl.calls, everything.calls) == (1, 2)  # the replay was skipped, not handled


def test_in_process_poison_is_recorded_on_its_outbox_row_and_does_not_loop(
    database: Database,
) -> None:
    bad, good = RecordingConsumer("bad", fail_always=True), RecordingConsumer("good")
    messaging = EmbeddedMessaging(
        database.engine, database.session_factory, [bad, good], policy=FAST_RETRIES
    )
    messaging.start()
    try:
        [message_id] = write_events(database, 1)
        wait_until(lambda: unsent_count(database) == 0, 10, "the row delivered")
        time.sleep(0.5)
    finally:
        messaging.stop(timeout=10)

    row = outbox_row(database, message_id)
    assert row.sent_at is not None and row.last_error is not None
    assert row.last_error.startswith("dead letter: consumer bad gave up: handler failed 3 times")
    assert f"RuntimeError: boom in bad on {message_id}" in row.last_error
    assert bad.calls == 3
    assert effects(database, "good") == {message_id: 1}
    with database.uow() as uow:
        assert [r.message_id for r in uow.outbox.dead_lettered(10)] == [message_id]


def test_in_process_a_row_no_consumer_binds_waits_with_the_reason(database: Database) -> None:
    consumer = RecordingConsumer("dsl-inbox", bindings=("school.*.role.dsl.#",))
    relay = OutboxRelay(
        database.uow,
        InProcessPublisher([consumer], database.uow, threading.Event()),
        EventWakeup(),
    )
    [message_id] = write_events(database, 1, routing_key="school.7.incident.closed")

    relay.drain(threading.Event())

    row = outbox_row(database, message_id)
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error == (
        "unroutable: no in-process consumer binds routing key 'school.7.incident.closed'"
    )


def test_in_process_a_delivery_cut_short_leaves_the_row_to_deliver_again(
    database: Database,
) -> None:
    first = RecordingConsumer("first")
    dying = DyingConsumer("second")
    stop = threading.Event()
    relay = OutboxRelay(
        database.uow,
        InProcessPublisher([first, dying], database.uow, stop),
        EventWakeup(),
        settings=RelaySettings(batch_size=10),
    )
    [message_id] = write_events(database, 1)

    with pytest.raises(SystemExit):
        relay.publish_batch()  # the process "dies" inside the second consumer

    assert unsent_count(database) == 1
    assert processed(database, "first", message_id)
    dying.alive = True
    assert relay.publish_batch() == 1
    assert unsent_count(database) == 0
    assert first.calls == 1  # deduped on the second delivery
    assert effects(database, "first") == {message_id: 1}
    assert effects(database, "second") == {message_id: 1}


class DyingConsumer(RecordingConsumer):
    """Ends the process (SystemExit) while `alive` is False."""

    alive: bool = False

    def handle(self, message: Delivery, uow: SqlAlchemyUnitOfWork) -> None:
        """Die, or record the effect once alive."""
        if not self.alive:
            raise SystemExit("the process died mid-delivery")
        super().handle(message, uow)


def test_processed_messages_hold_one_row_per_consumer_and_message(database: Database) -> None:
    consumer = RecordingConsumer("ledger")
    delivery = Delivery("m-once", "school.7.x", "TestEvent", {})
    assert handle_once(consumer, delivery, database.uow) is True
    assert handle_once(consumer, delivery, database.uow) is False
    with database.uow() as uow:
        query = select(ProcessedMessage).where(ProcessedMessage.message_id == "m-once")
        rows = [(r.consumer, r.message_id) for r in uow.session.scalars(query)]
    assert rows == [("ledger", "m-once")]


def _consuming(broker: BrokerNamespace, queue: str) -> bool:
    try:
        with broker.channel() as channel:
            return int(channel.queue_declare(queue, passive=True).method.consumer_count) > 0
    except pika.exceptions.ChannelClosedByBroker:
        return False
