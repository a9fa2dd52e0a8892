"""`safeguard worker`: do external tasks (the record PDF) from RabbitMQ until stopped."""

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
from services.messaging.rabbitmq import RabbitMQConsumerRunner
from services.messaging.topology import DEFAULT_PREFIX, deployment_topology
from services.workers.render_pdf import TOPIC as RECORD_PDF
from services.workers.runner import WorkerPolicy, worker_consumers

logger = logging.getLogger("services.workers")
TOPICS = (RECORD_PDF,)


@click.command()
@click.option(
    "--topic",
    "topics",
    multiple=True,
    type=click.Choice(TOPICS),
    help="A topic to work on (repeat for several). Default: every topic.",
)
@click.option(
    "--prefix",
    default=None,
    help="Name prefix of the exchanges and queues (one per deployment). "
    f"Default: {PREFIX}AMQP_PREFIX, else {DEFAULT_PREFIX}.",
)
@click.option(
    "--attempts",
    default=3,
    show_default=True,
    envvar=f"{PREFIX}WORKER_ATTEMPTS",
    type=click.IntRange(1, 10),
    help=f"Tries of a job before its task is marked failed ({PREFIX}WORKER_ATTEMPTS).",
)
@click.option(
    "--first-delay",
    default=1.0,
    show_default=True,
    envvar=f"{PREFIX}WORKER_FIRST_DELAY_SECONDS",
    type=click.FloatRange(0, 20),
    help="Seconds before the second try; each further pause doubles, up to 20 s "
    f"({PREFIX}WORKER_FIRST_DELAY_SECONDS).",
)
def worker(topics: tuple[str, ...], prefix: str | None, attempts: int, first_delay: float) -> None:
    """Do external tasks (e.g. file the incident record as a PDF) until stopped.

    Consumes <prefix>.worker-<topic> on SAFEGUARD_AMQP_URL; SIGTERM or SIGINT stop it after
    the task in hand. Several workers may run: they share the queue. A job that fails every
    try marks its task failed on the incident page, where a DSL can retry it.
    """
    settings = load_settings()
    if not settings.amqp_url:
        fail(
            f"{PREFIX}AMQP_URL is not set: without a broker, `safeguard serve` runs the workers "
            "in-process (embedded default), so there is nothing for `safeguard worker` to do. "
            "Set it to the RabbitMQ URL, e.g. amqp://user:password@host:5672/."
        )
    require_current_database(settings)
    configure_logging()
    stop = threading.Event()
    stop_on_signals(stop, "the task in hand")
    runtime = bootstrap(settings)
    topology = deployment_topology(prefix or settings.amqp_prefix)
    policy = WorkerPolicy(attempts=attempts, first_delay=first_delay, max_delay=20.0)
    consumers = worker_consumers(runtime, topics=topics or None, policy=policy, stop=stop)
    runner = RabbitMQConsumerRunner(
        settings.amqp_url,
        topology,
        consumers,
        runtime.uow_factory,
        prefetch=1,  # a job takes a while: leave other messages to other workers
        connection_name="safeguard-worker",
    )
    try:
        logger.info("worker started on %s", ", ".join(topology.queue(c.name) for c in consumers))
        runner.run(stop)
    finally:
        runtime.close()
    logger.info("worker stopped")
