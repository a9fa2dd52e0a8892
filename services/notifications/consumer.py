"""The notifier: tells people what awaits them, in the app at once and by a queued email.

It consumes `school.*.role.*.task.ready` (tell the people holding the task's roles),
`school.*.user.*.task.assigned` (tell the person given the task) and
`school.*.incident.break_glass` (alert the school's DSLs that someone opened an incident
outside the need to know: break_glass.py). For a task event it:

1. reads the task, the school and the recipients (services.notifications.recipients); a task
   no longer waiting (completed, cancelled, claimed or given to someone else meanwhile) is
   skipped: the later event says what happened;
2. adds one in-app notification per recipient and, when email is on, queues their email
   (telling.py), through the framework's unit of work: they commit with the
   processed_messages row, so a redelivered event notifies nobody twice.

The notifier never talks to the mail server: the email sender (email_queue.py) sends the
queued emails with retries of their own, over minutes and hours. So one refused email or an
SMTP outage never rolls back anyone's in-app notification nor dead-letters the event; an
email given up on stays visible on the operations page, where an administrator can send it
again. With no SMTP server configured, no email is queued (a log line says so).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.column_types import utcnow
from services.db.models import HumanTask, School
from services.messaging.ports import Delivery, MessageInvalid
from services.notifications.break_glass import BREAK_GLASS_PATTERN, break_glass_alert
from services.notifications.incident_messages import MESSAGE_PATTERN, message_alert
from services.notifications.messages import (
    TASK_ASSIGNED,
    TASK_READY,
    notice_text,
    task_path,
    task_url,
)
from services.notifications.payload import number_field, text_field
from services.notifications.recipients import (
    Recipient,
    assignee_of_task,
    people_for_ready_task,
)
from services.notifications.telling import Notice, tell

logger = logging.getLogger(__name__)

NOTIFIER_NAME = "notifier"
TASK_READY_PATTERN = "school.*.role.*.task.ready"
TASK_ASSIGNED_PATTERN = "school.*.user.*.task.assigned"
NOTIFIER_BINDINGS = (
    TASK_READY_PATTERN,
    TASK_ASSIGNED_PATTERN,
    BREAK_GLASS_PATTERN,
    MESSAGE_PATTERN,
)


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
    """The consumer telling people what awaits them (see the module docstring)."""

    name = NOTIFIER_NAME
    bindings = NOTIFIER_BINDINGS
    # It only writes notifications and queued emails through the unit of work (the mailer
    # sends them): a duplicate event's writes roll back with its refused commit.
    effects_only_in_transaction = True

    def __init__(
        self,
        *,
        base_url: str,
        email: bool,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._base_url = base_url
        self._email = email  # queue emails (SMTP is configured) or tell in the app only
        self._clock = clock

    def handle(self, message: Delivery, uow: SqlAlchemyUnitOfWork) -> None:
        """Notify the people the event concerns and queue their emails (no commit)."""
        if message.routing_key.endswith(".incident.break_glass"):
            found = break_glass_alert(uow, message, base_url=self._base_url, now=self._clock())
        elif message.routing_key.endswith(".incident.message"):
            found = message_alert(uow, message, base_url=self._base_url)
        else:
            found = self._task_notice(message, uow)
        if found is not None:
            notice, people = found
            tell(uow, message.message_id, people, notice, email=self._email, now=self._clock())

    def _task_notice(
        self, message: Delivery, uow: SqlAlchemyUnitOfWork
    ) -> tuple[Notice, list[Recipient]] | None:
        notice = read_notice(message)
        task = _task_of(uow, notice.task_id)
        if task is None or not _still_waiting(task, notice):
            logger.info(
                "notifier: task %s no longer waits as event %s said: nobody told",
                notice.task_id,
                message.message_id,
            )
            return None
        if task.school_id != notice.school_id:
            # Never trust the routing key's school over the task's own: tell nobody.
            raise MessageInvalid(
                f"{message.event_type} {message.message_id}: task {notice.task_id} is not a "
                f"task of school {notice.school_id}"
            )
        url = task_url(self._base_url, notice.incident_id, notice.task_id)
        told = Notice(
            kind=notice.kind,
            school_id=notice.school_id,
            text=notice_text(notice.kind, task.school_name, task.name, url),
            link=task_path(notice.incident_id, notice.task_id),
            incident_id=notice.incident_id,
            task_id=notice.task_id,
        )
        return told, _recipients(uow, notice)


def read_notice(message: Delivery) -> TaskNotice:
    """The task an event is about; MessageInvalid if its payload lacks what is needed."""
    assigned = message.routing_key.endswith(".task.assigned")
    assignee_id = number_field(message, "assignee_id") if assigned else None
    groups = message.payload.get("candidate_groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise MessageInvalid(f"{message.event_type}: candidate_groups is not a list of roles")
    return TaskNotice(
        kind=TASK_ASSIGNED if assigned else TASK_READY,
        school_id=number_field(message, "school_id"),
        incident_id=text_field(message, "incident_id"),
        task_id=text_field(message, "task_id"),
        role=text_field(message, "role"),
        candidate_groups=tuple(groups),
        assignee_id=assignee_id,
    )


@dataclass(frozen=True)
class _Task:
    """What the notifier needs of a task and its school."""

    state: str
    incident_id: str
    assignee_id: int | None
    school_id: int
    name: str
    school_name: str


def _task_of(uow: SqlAlchemyUnitOfWork, task_id: str) -> _Task | None:
    # One statement with the school's name: it runs for every event. The task's school_id is
    # its incident's, which never changes (migration 0009), so the incident is not read.
    query = (
        select(
            HumanTask.state,
            HumanTask.incident_id,
            HumanTask.assignee_id,
            HumanTask.school_id,
            HumanTask.name,
            School.name,
        )
        .join(School, School.id == HumanTask.school_id)
        .where(HumanTask.id == task_id)
    )
    row = uow.session.execute(query).one_or_none()
    return _Task(*row) if row is not None else None


def _still_waiting(task: _Task, notice: TaskNotice) -> bool:
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
