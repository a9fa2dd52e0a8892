"""Messaging: the outbox relay, the broker topology, and idempotent consumers.

Command handlers write events to the `outbox` table in their own transaction. The relay
publishes committed rows and marks each sent only once the broker confirmed it; consumers
handle each message once per commit, deduping on its message id. The same code runs on
RabbitMQ (SAFEGUARD_AMQP_URL set: `safeguard relay` plus consumer processes) and in-process
(the embedded default: EmbeddedMessaging runs relay and consumers on a thread of the app).

Writing a consumer::

    class TaskReadyNotifier:
        name = "notifier"  # its queue (safeguard.notifier) and its dedupe key
        bindings = ("school.*.role.*.task.ready",)  # topic patterns (* one word, # any)

        def handle(self, message: Delivery, uow: SqlAlchemyUnitOfWork) -> None:
            task_id = message.payload.get("task_id")
            if not isinstance(task_id, str):
                raise MessageInvalid(f"{message.event_type} without a task_id")
            ...  # write through uow; do NOT commit

- `handle` runs inside a unit of work the framework opens; the framework adds the
  processed_messages row for (name, message_id) to the same transaction and commits, then
  acks. A message already processed by this consumer is acked without calling `handle`.
- Raise MessageInvalid for a message that can never succeed: it is dead-lettered at once.
  Any other exception is logged with the message id and retried in place (RetryPolicy:
  5 attempts, 0.2 s doubling to 5 s); after the last attempt it is dead-lettered with the
  reason. Database outages (OperationalError) are waited out without using up attempts.
- Effects outside the database (an email) cannot join the transaction: they happen at
  least once; make them idempotent or record them through uow first.

Running consumers::

    RabbitMQConsumerRunner(amqp_url, Topology(), [consumer], runtime.uow_factory).run(stop)
    EmbeddedMessaging(runtime.engine, runtime.session_factory, [consumer]).start()  # embedded

Topology (topology.py): `<prefix>.events` topic exchange, one quorum queue `<prefix>.<name>`
per consumer with a dead-letter exchange `<prefix>.dead` and queue `<prefix>.<name>.dead`.
Dead letters carry x-safeguard-dead-reason, -consumer, -attempts and -routing-key headers.
Wake-up (wakeup.py): PostgreSQL LISTEN/NOTIFY from a trigger on outbox inserts; SQLite an
in-process event set after commit; both with a fallback poll.
"""

from services.messaging.consumer import Outcome, Result, RetryPolicy, handle_once, process_delivery
from services.messaging.in_process import (
    EmbeddedMessaging,
    InProcessConsumerRunner,
    InProcessPublisher,
)
from services.messaging.ports import (
    Consumer,
    ConsumerRunner,
    Delivery,
    MessageInvalid,
    OutgoingMessage,
    Publisher,
    PublishFailed,
    PublishOutcome,
)
from services.messaging.rabbitmq import RabbitMQConsumerRunner, RabbitMQPublisher
from services.messaging.reconnect import Backoff
from services.messaging.relay import OutboxRelay, RelaySettings
from services.messaging.relay_guard import SingleRelayGuard
from services.messaging.topology import Topology, topic_matches
from services.messaging.wakeup import CommitHook, EventWakeup, PostgresWakeup, make_wakeup

__all__ = [
    "Backoff",
    "CommitHook",
    "Consumer",
    "ConsumerRunner",
    "Delivery",
    "EmbeddedMessaging",
    "EventWakeup",
    "InProcessConsumerRunner",
    "InProcessPublisher",
    "MessageInvalid",
    "OutboxRelay",
    "Outcome",
    "OutgoingMessage",
    "PostgresWakeup",
    "PublishFailed",
    "PublishOutcome",
    "Publisher",
    "RabbitMQConsumerRunner",
    "RabbitMQPublisher",
    "RelaySettings",
    "Result",
    "RetryPolicy",
    "SingleRelayGuard",
    "Topology",
    "handle_once",
    "make_wakeup",
    "process_delivery",
    "topic_matches",
]
