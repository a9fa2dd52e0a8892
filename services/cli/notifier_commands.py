"""`safeguard notifier`: tell people what awaits them (events from RabbitMQ) and send the emails."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

import click

from services.bootstrap import bootstrap
from services.config import PREFIX, Settings, SettingsInvalid
from services.db.migrate import current_revision, head_revision
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
    settings = _settings()
    if not settings.amqp_url:
        _fail(
            f"{PREFIX}AMQP_URL is not set: without a broker, `safeguard serve` runs the "
            "notifier in-process (embedded default), so there is nothing for `safeguard "
            "notifier` to do. Set it to the RabbitMQ URL, e.g. amqp://user:password@host:5672/."
        )
    if current_revision(settings.database_url) != head_revision():
        _fail("The database is not set up or not up to date: run `safeguard init` first.")
    _configure_logging()
    stop = threading.Event()
    _stop_on_signals(stop)
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


def _stop_on_signals(stop: threading.Event) -> None:
    def _handle(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s received: stopping after the event in hand", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO lines narrate every frame


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsInvalid as error:
        _fail(str(error))


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)
