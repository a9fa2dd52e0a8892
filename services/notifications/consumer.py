"""The notifier: tells the people who may act on a task that it awaits them, by email and in-app.

It consumes `school.*.role.*.task.ready` (tell the people holding the task's roles) and
`school.*.user.*.task.assigned` (tell the person given the task). For each event it:

1. reads the task, the school and the recipients (services.notifications.recipients); a task
   no longer waiting (completed, cancelled, claimed or given to someone else meanwhile) is
   skipped: the later event says what happened;
2. emails each recipient not yet emailed about this event (`email_deliveries`);
3. adds one in-app notification per recipient, and the record of each email sent, through
   the framework's unit of work: they commit with the processed_messages row, so a
   redelivered event notifies nobody twice. If an email fails part-way, the records of the
   emails already sent are committed in a transaction of their own before the attempt rolls
   back, so the retry does not email those people again. (A crash between an email and the
   commit can still send it twice: email is at least once.)

An email that fails raises: the framework rolls back that attempt's in-app rows, retries,
and finally dead-letters the event (the operations page shows it). With no SMTP server
configured, email is skipped with a log line and the in-app notifications still happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.db import SqlAlchemyUnitOfWork
from services.db.column_types import utcnow
from services.db.models import HumanTask
from services.messaging.ports import Delivery, MessageInvalid
from services.notifications.email import Email, EmailSender
from services.notifications.messages import (
    TASK_ASSIGNED,
    TASK_READY,
    NoticeText,
    notice_text,
    task_path,
    task_url,
)
from services.notifications.recipients import (
    Recipient,
    assignee_of_task,
    people_for_ready_task,
)

logger = logging.getLogger(__name__)

NOTIFIER_NAME = "notifier"
TASK_READY_PATTERN = "school.*.role.*.task.ready"
TASK_ASSIGNED_PATTERN = "school.*.user.*.task.assigned"
UnitOfWorkFactory = Callable[[], SqlAlchemyUnitOfWork]


@dataclass(frozen=True)
class TaskNotice:
    """What an event says about a task, read from its payload (ids and roles only)."""

    kind: str
    school_id: int
    incident_id: str
    task_id: str
    role: str
    candidate_groups: tuple[str, ...]
    assignee_id: int | None


class Notifier:
    """The consumer telling people a task awaits them (see the module docstring)."""

    name = NOTIFIER_NAME
    bindings = (TASK_READY_PATTERN, TASK_ASSIGNED_PATTERN)

    def __init__(
        self,
        *,
        base_url: str,
        sender: EmailSender | None,
        uow_factory: UnitOfWorkFactory,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._base_url = base_url
        self._sender = sender
        self._uow_factory = uow_factory  # for the email records, committed on their own
        self._clock = clock

    def handle(self, message: Delivery, uow: SqlAlchemyUnitOfWork) -> None:
        """Email and notify the people who may act on the event's task (no commit)."""
        notice = read_notice(message)
        task = uow.tasks.get(notice.task_id)
        if task is None or not _still_waiting(task, notice):
            logger.info(
                "notifier: task %s no longer waits as event %s said: nobody told",
                notice.task_id,
                message.message_id,
            )
            return
        school = uow.schools.get(notice.school_id)
        if school is None or task.incident.school_id != school.id:
            # Never trust the routing key's school over the task's own: tell nobody.
            raise MessageInvalid(
                f"{message.event_type} {message.message_id}: task {notice.task_id} is not a "
                f"task of school {notice.school_id}"
            )
        people = _recipients(uow, notice)
        url = task_url(self._base_url, notice.incident_id, notice.task_id)
        text = notice_text(notice.kind, school.name, task.name, url)
        self._email(uow, message.message_id, people, text)
        now = self._clock()
        for person in people:
            uow.notifications.add(
                user_id=person.user_id,
                school_id=notice.school_id,
                message_id=message.message_id,
                kind=notice.kind,
                text=text.in_app,
                link=task_path(notice.incident_id, notice.task_id),
                incident_id=notice.incident_id,
                task_id=notice.task_id,
                created_at=now,
            )

    def _email(
        self,
        uow: SqlAlchemyUnitOfWork,
        message_id: str,
        people: Sequence[Recipient],
        text: NoticeText,
    ) -> None:
        if not people:
            return
        if self._sender is None:
            logger.info(
                "notifier: email is off (SAFEGUARD_SMTP_HOST unset): %d people told about "
                "event %s in the app only",
                len(people),
                message_id,
            )
            return
        already = uow.notifications.emailed(message_id)
        sent: list[int] = []
        try:
            for person in people:
                if person.user_id not in already:
                    self._sender.send(Email(person.email, text.subject, text.body))
                    sent.append(person.user_id)
        except Exception:
            # This attempt rolls back: keep the record of who was emailed, for the retry.
            self._record_emails_apart(message_id, sent)
            raise
        for user_id in sent:
            uow.notifications.record_email(message_id, user_id, self._clock())

    def _record_emails_apart(self, message_id: str, user_ids: Sequence[int]) -> None:
        if not user_ids:
            return
        try:
            with self._uow_factory() as ledger:
                for user_id in user_ids:
                    ledger.notifications.record_email(message_id, user_id, self._clock())
                ledger.commit()
        except IntegrityError:
            # A concurrent delivery of the same event recorded them first: those people were
            # emailed twice (at least once is the promise); nothing more to do.
            logger.warning("notifier: event %s emailed some people twice", message_id)


def read_notice(message: Delivery) -> TaskNotice:
    """The task an event is about; MessageInvalid if its payload lacks what is needed."""
    payload = message.payload
    assigned = message.routing_key.endswith(".task.assigned")
    assignee_id = _int(payload, "assignee_id", message) if assigned else None
    groups = payload.get("candidate_groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise MessageInvalid(f"{message.event_type}: candidate_groups is not a list of roles")
    return TaskNotice(
        kind=TASK_ASSIGNED if assigned else TASK_READY,
        school_id=_int(payload, "school_id", message),
        incident_id=_text(payload, "incident_id", message),
        task_id=_text(payload, "task_id", message),
        role=_text(payload, "role", message),
        candidate_groups=tuple(groups),
        assignee_id=assignee_id,
    )


def _still_waiting(task: HumanTask, notice: TaskNotice) -> bool:
    if task.state != "ready" or task.incident_id != notice.incident_id:
        return False
    if notice.kind == TASK_ASSIGNED:
        return task.assignee_id == notice.assignee_id
    return task.assignee_id is None  # claimed meanwhile: the role need not hear of it


def _recipients(uow: SqlAlchemyUnitOfWork, notice: TaskNotice) -> list[Recipient]:
    if notice.kind == TASK_ASSIGNED:
        assert notice.assignee_id is not None  # read_notice requires it
        person = assignee_of_task(
            uow, notice.school_id, notice.incident_id, notice.role, notice.assignee_id
        )
        return [person] if person is not None else []
    return people_for_ready_task(
        uow, notice.school_id, notice.incident_id, notice.role, notice.candidate_groups
    )


def _int(payload: Mapping[str, Any], key: str, message: Delivery) -> int:
    value = payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MessageInvalid(f"{message.event_type} {message.message_id}: {key} is not a number")
    return value


def _text(payload: Mapping[str, Any], key: str, message: Delivery) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise MessageInvalid(f"{message.event_type} {message.message_id}: {key} is missing")
    return value
