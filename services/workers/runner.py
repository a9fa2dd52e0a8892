"""The external-task worker: a messaging consumer that does a job and completes the task.

Bound to `school.*.external.<topic>`, it receives ExternalTaskReady events. For each:

1. In the framework's unit of work it checks the task still waits (a redelivered message for
   a completed, failed or cancelled task is acked without redoing anything), then ends that
   transaction: the job runs with no transaction open (it may take seconds).
2. It runs the job, retrying a failure with exponential backoff (WorkerPolicy).
3. It sends CompleteExternalTask with the job's result through the bus (one commit: the
   process moves on), or after the last attempt FailExternalTask, which shows the failure
   on the incident until someone retries it (RetryExternalTask publishes the task again).

Then the framework records the message as processed and acks it. An error outside the job
(the database, the bus) propagates: the framework retries the message, and the job, being
idempotent, does not file its work twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from services.db import SqlAlchemyUnitOfWork
from services.domain.bus import MessageBus
from services.domain.commands import CompleteExternalTask, FailExternalTask
from services.domain.errors import NotFound, TaskNoLongerReady
from services.messaging.ports import Consumer, Delivery, MessageInvalid

if TYPE_CHECKING:
    from services.runtime import Runtime

logger = logging.getLogger(__name__)

# Sleeps the given seconds; False when the process was asked to stop meanwhile.
Sleep = Callable[[float], bool]


class WorkerStopping(Exception):
    """The process is stopping mid-backoff: the message is left for redelivery, not failed."""


@dataclass(frozen=True)
class WorkerPolicy:
    """How often a job is tried before its task is marked failed, and the pauses between.

    Keep the total pause well under the broker's heartbeat timeout (60 s by default): a
    RabbitMQ consumer waits inside its delivery callback.
    """

    attempts: int = 3
    first_delay: float = 1.0
    max_delay: float = 20.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_delay < 0 or self.max_delay < self.first_delay:
            raise ValueError(f"unusable worker policy {self!r}: attempts >= 1, 0 <= delays")

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt number `attempt` (1, 2, 4 ... times first_delay)."""
        return float(min(self.max_delay, self.first_delay * 2 ** min(attempt - 1, 30)))


@dataclass(frozen=True)
class ExternalTaskMessage:
    """What an ExternalTaskReady event says: ids and the topic, never case details."""

    school_id: int
    incident_id: str
    task_id: str
    topic: str


class Job(Protocol):
    """The work of one topic: given the task's ids, do it and return the result (JSON values)."""

    @property
    def topic(self) -> str:
        """The camunda:topic of the service tasks it does."""
        ...

    def run(self, task: ExternalTaskMessage) -> Mapping[str, Any]:
        """Do the work (idempotently, with no transaction of the caller's open)."""
        ...


class ExternalTaskWorker:
    """A consumer that runs one job per ExternalTaskReady of its topic (see module docstring)."""

    def __init__(
        self,
        job: Job,
        bus: MessageBus,
        *,
        policy: WorkerPolicy | None = None,
        worker_name: str | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._job = job
        self._bus = bus
        self._policy = policy or WorkerPolicy()
        self.worker_name = worker_name or default_worker_name(job.topic)
        self._sleep = sleep or _sleeper(threading.Event())

    @property
    def name(self) -> str:
        """The consumer's queue and dedupe name: worker-<topic>."""
        return f"worker-{self._job.topic}"

    @property
    def bindings(self) -> tuple[str, ...]:
        """ExternalTaskReady of this topic, in every school."""
        return (f"school.*.external.{self._job.topic}",)

    def handle(self, message: Delivery, uow: SqlAlchemyUnitOfWork) -> None:
        """Do the task's job unless it no longer waits; complete or fail it through the bus."""
        task = parse_message(message, self._job.topic)
        row = uow.external_tasks.get(task.task_id)
        if row is None or row.state != "waiting":
            state = row.state if row is not None else "gone"
            logger.info("%s: task %s is %s: nothing to do", self.name, task.task_id, state)
            return
        # Nothing was written yet: ending the transaction here means none is held while the
        # job works; the framework's processed-message row starts a new one after.
        uow.rollback()
        self._work(task)

    def _work(self, task: ExternalTaskMessage) -> None:
        failure: Exception | None = None
        for attempt in range(1, self._policy.attempts + 1):
            try:
                result = self._job.run(task)
            except Exception as exc:
                failure = exc
                logger.warning(
                    "%s: attempt %d of %d on task %s failed: %s",
                    self.name,
                    attempt,
                    self._policy.attempts,
                    task.task_id,
                    _describe(exc),
                    exc_info=exc,
                )
                if attempt < self._policy.attempts and not self._sleep(self._policy.delay(attempt)):
                    raise WorkerStopping(f"stopped while retrying task {task.task_id}") from exc
                continue
            self._send(CompleteExternalTask(task.task_id, self.worker_name, result))
            return
        assert failure is not None
        error = f"{_describe(failure)} (after {self._policy.attempts} attempts)"
        self._send(FailExternalTask(task.task_id, self.worker_name, error, self._policy.attempts))

    def _send(self, command: CompleteExternalTask | FailExternalTask) -> None:
        try:
            self._bus.handle(command)
        except (TaskNoLongerReady, NotFound) as gone:
            # Cancelled by the process, completed by another run, or the incident deleted.
            logger.info("%s: task %s moved on before us: %s", self.name, command.task_id, gone)


def parse_message(message: Delivery, topic: str) -> ExternalTaskMessage:
    """The task a message names; MessageInvalid (dead-lettered at once) when it cannot be used."""
    payload = message.payload
    school_id, incident_id = payload.get("school_id"), payload.get("incident_id")
    task_id, sent_topic = payload.get("task_id"), payload.get("topic")
    if not isinstance(school_id, int) or isinstance(school_id, bool):
        raise MessageInvalid(f"{message.event_type} {message.message_id} has no school_id")
    if not isinstance(incident_id, str) or not isinstance(task_id, str):
        raise MessageInvalid(f"{message.event_type} {message.message_id} lacks its ids")
    if sent_topic != topic:
        raise MessageInvalid(
            f"{message.event_type} {message.message_id} is for topic {sent_topic!r}, not {topic!r}"
        )
    return ExternalTaskMessage(school_id, incident_id, task_id, topic)


def default_worker_name(topic: str) -> str:
    """How the audit trail names this worker: topic, host and process."""
    return f"{topic}@{socket.gethostname()}:{os.getpid()}"


def worker_consumers(
    runtime: Runtime,
    *,
    topics: Sequence[str] | None = None,
    policy: WorkerPolicy | None = None,
    stop: threading.Event | None = None,
) -> list[Consumer]:
    """The workers of every known job (or of `topics`), on this runtime's bus.

    For the embedded default, pass them to EmbeddedMessaging with the other consumers;
    `safeguard worker` runs them on RabbitMQ. `stop` cuts a backoff short on shutdown.
    """
    from services.workers.render_pdf import RecordPdfJob

    deps = runtime.bus.dependencies
    jobs: dict[str, Callable[[str], Job]] = {
        RecordPdfJob.topic: lambda name: RecordPdfJob(deps, name),
    }
    chosen = list(jobs) if topics is None else list(topics)
    unknown = sorted(set(chosen) - set(jobs))
    if unknown:
        raise ValueError(f"no worker for topic(s) {', '.join(unknown)}: known {', '.join(jobs)}")
    sleep = _sleeper(stop or threading.Event())
    return [
        ExternalTaskWorker(
            jobs[topic](default_worker_name(topic)), runtime.bus, policy=policy, sleep=sleep
        )
        for topic in chosen
    ]


def _sleeper(stop: threading.Event) -> Sleep:
    return lambda seconds: not stop.wait(seconds)


def _describe(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
