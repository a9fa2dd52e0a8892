"""`safeguard notifier`: tell people what awaits them (events from RabbitMQ) and send the emails."""

from __future__ import annotations

import logging
import threading

import click

from services.bootstrap import bootstrap
from services.cli.process import (
    configure_logging,
    fail,
    load_settings,
    require_current_database,
    stop_on_signals,
)
from services.config import PREFIX
from services.messaging.rabbitmq import DEFAULT_PREFETCH, RabbitMQConsumerRunner
from services.messaging.topology import DEFAULT_PREFIX, deployment_topology
from services.notifications import email_sender_for, notifier_for, start_email_sender

logger = logging.getLogger("services.notifications")


@click.command()
@click.option(
    "--prefix",
    default=None,
    help="Name prefix of the exchanges and queues (one per deployment). "
    f"Default: {PREFIX}AMQP_PREFIX, else {DEFAULT_PREFIX}.",
)
@click.option(
    "--prefetch",
    default=DEFAULT_PREFETCH,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Events taken from the broker ahead of handling.",
)
def notifier(prefix: str | None, prefetch: int) -> None:
    """Notify people in the app and by email when a task awaits them, until stopped.

    Consumes its queue (<prefix>.notifier) on SAFEGUARD_AMQP_URL and sends the queued emails
    through SAFEGUARD_SMTP_HOST, retrying each for a day; without SMTP, people are told in
    the app only. SIGTERM or SIGINT stop it after the event and email in hand. Several
    notifiers may run: they share the queue and the emails.
    """
    settings = load_settings()
    if not settings.amqp_url:
        fail(
            f"{PREFIX}AMQP_URL is not set: without a broker, `safeguard serve` runs the "
            "notifier in-process (embedded default), so there is nothing for `safeguard "
            "notifier` to do. Set it to the RabbitMQ URL, e.g. amqp://user:password@host:5672/."
        )
    require_current_database(settings)
    configure_logging()
    stop = threading.Event()
    stop_on_signals(stop, "the event in hand")
    runtime = bootstrap(settings)
    topology = deployment_topology(prefix or settings.amqp_prefix)
    consumer = notifier_for(settings, runtime.uow_factory)
    sender = email_sender_for(settings, runtime.uow_factory)
    if sender is None:
        logger.warning("%sSMTP_HOST is not set: people are told in the app only", PREFIX)
    runner = RabbitMQConsumerRunner(
        settings.amqp_url,
        topology,
        [consumer],
        runtime.uow_factory,
        prefetch=prefetch,
        connection_name="safeguard-notifier",
    )
    emails = start_email_sender(sender) if sender is not None else None
    try:
        logger.info("notifier started on %s", topology.queue(consumer.name))
        runner.run(stop)
    finally:
        if emails is not None and not emails.stop(timeout=60):
            logger.error("the email sender did not stop within 60s")
        runtime.close()
    logger.info("notifier stopped")
