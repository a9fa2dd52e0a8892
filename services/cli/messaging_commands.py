"""`safeguard relay`: publish the outbox to RabbitMQ until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import threading

import click
from sqlalchemy.engine import make_url

from services.bootstrap import bootstrap
from services.cli.process import (
    configure_logging,
    fail,
    load_settings,
    require_current_database,
    stop_on_signals,
)
from services.config import PREFIX
from services.messaging.rabbitmq import RabbitMQPublisher
from services.messaging.relay import OutboxRelay, RelaySettings
from services.messaging.relay_guard import SingleRelayGuard
from services.messaging.topology import DEFAULT_PREFIX, deployment_topology
from services.messaging.wakeup import make_wakeup
from services.notifications import notifier_for
from services.workers import worker_consumers

logger = logging.getLogger("services.messaging")


@click.command()
@click.option(
    "--prefix",
    default=None,
    help="Name prefix of the exchanges and queues (one per deployment). "
    f"Default: SAFEGUARD_AMQP_PREFIX, else {DEFAULT_PREFIX}.",
)
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 500))
@click.option(
    "--poll-interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.1, 60),
    help="Seconds between looks at the outbox when nothing wakes the relay.",
)
def relay(prefix: str | None, batch_size: int, poll_interval: float) -> None:
    """Publish committed outbox rows to RabbitMQ (SAFEGUARD_AMQP_URL) until stopped.

    SIGTERM or SIGINT stops it after the batch in hand. On PostgreSQL several relays may run
    (they share the rows); on SQLite a second relay stands by until the first stops.
    """
    settings = load_settings()
    if not settings.amqp_url:
        fail(
            f"{PREFIX}AMQP_URL is not set: without a broker the app relays in-process "
            "(embedded default), so there is nothing for `safeguard relay` to do. Set it to "
            "the RabbitMQ URL, e.g. amqp://user:password@host:5672/."
        )
    require_current_database(settings)
    configure_logging()
    stop = threading.Event()
    stop_on_signals(stop, "the current batch")
    runtime = bootstrap(settings)
    # Shared with the consumer processes: events no consumer binds are kept, not retried.
    topology = deployment_topology(prefix or settings.amqp_prefix)
    # The relay declares every consumer's queue too, so events committed before a consumer
    # process first starts wait in its queue instead of counting as unrouted.
    consumers = [
        notifier_for(settings, runtime.uow_factory),
        *worker_consumers(runtime, stop=stop),
    ]
    publisher = RabbitMQPublisher(settings.amqp_url, topology, declare_for=consumers)
    outbox_relay = OutboxRelay(
        runtime.uow_factory,
        publisher,
        make_wakeup(runtime.engine),
        settings=RelaySettings(batch_size=batch_size, poll_interval=poll_interval),
    )
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        with SingleRelayGuard(settings.database_url) as guard:
            if guard.acquire(stop):
                logger.info("relay started: %s -> %s", shown, topology.events_exchange)
                outbox_relay.run(stop)
    finally:
        runtime.close()
    logger.info("relay stopped")
