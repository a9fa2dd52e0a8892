"""`safeguard notifier` tells people what awaits them (events from RabbitMQ); `safeguard mailer`
sends the emails the notifier queued.

They are separate processes so that sending email (TLS, a slow or refusing server) never sits
on the path from an event to the people it concerns: with both in one process, email added
about 80 ms to every event's p95.
"""

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
from services.notifications import email_sender_for, notifier_for
from services.notifications.email_queue import EMAIL_POLL_SECONDS

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
    """Notify people in the app and queue their emails when a task awaits them, until stopped.

    Consumes its queue (<prefix>.notifier) on SAFEGUARD_AMQP_URL. The emails it queues are
    sent by `safeguard mailer`; without SMTP, people are told in the app only. SIGTERM or
    SIGINT stop it after the event in hand. Several notifiers may run: they share the queue.
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
    if settings.smtp is None:
        logger.warning("%sSMTP_HOST is not set: people are told in the app only", PREFIX)
    runner = RabbitMQConsumerRunner(
        settings.amqp_url,
        topology,
        [consumer],
        runtime.uow_factory,
        prefetch=prefetch,
        connection_name="safeguard-notifier",
    )
    try:
        logger.info("notifier started on %s", topology.queue(consumer.name))
        runner.run(stop)
    finally:
        runtime.close()


@click.command()
@click.option(
    "--interval",
    default=EMAIL_POLL_SECONDS,
    show_default=True,
    type=click.FloatRange(0.05, 3600),
    help="Seconds between looks for queued emails that are due.",
)
def mailer(interval: float) -> None:
    """Send the notification emails the notifier queued, until stopped.

    Sends through SAFEGUARD_SMTP_HOST, retrying each email with growing pauses for a day, then
    marking it failed for an administrator to send again (the operations page). Several
    mailers may run: each claims the emails it sends. SIGTERM or SIGINT stop it after the email
    in hand. Without SMTP it says so and exits 0.
    """
    settings = load_settings()
    if settings.smtp is None:
        # Nothing to do is not a failure: exit 0, so compose (restart: on-failure) leaves it.
        click.echo(
            f"{PREFIX}SMTP_HOST is not set: there is no server to send emails through, so "
            "people are told in the app only and `safeguard mailer` has nothing to do. Set "
            f"{PREFIX}SMTP_HOST and {PREFIX}SMTP_FROM (see services/config.py) to send emails.",
            err=True,
        )
        return
    require_current_database(settings)
    configure_logging()
    stop = threading.Event()
    stop_on_signals(stop, "the email in hand")
    runtime = bootstrap(settings)
    sender = email_sender_for(settings, runtime.uow_factory)
    assert sender is not None  # SMTP is configured (checked above)
    try:
        logger.info("mailer started: sending queued emails through %s", settings.smtp.host)
        sender.run(stop, interval)
    finally:
        runtime.close()
    logger.info("notifier stopped")
