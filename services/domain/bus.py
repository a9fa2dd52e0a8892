"""The message bus: hands each command or query to its handler with the dependencies injected.

Nothing is built at import time: `bootstrap()` builds a bus for one database. The bus never
catches anything: a handler's error reaches the caller unchanged (see errors.http_status_of).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.domain.clock import Clock, SystemClock
from services.domain.definitions import DefinitionCache
from services.domain.dependencies import Dependencies
from services.domain.messages import Message
from workflow.timing import Calendar, PlainCalendar

R = TypeVar("R")
Handler = Callable[[Any, Dependencies], Any]


class UnknownMessage(LookupError):
    """The bus has no handler for this type of message."""


class MessageBus:
    """Dispatches a message to the one handler registered for its type."""

    def __init__(
        self, handlers: Mapping[type[Message[Any]], Handler], dependencies: Dependencies
    ) -> None:
        self._handlers = dict(handlers)
        self.dependencies = dependencies

    def handle(self, message: Message[R]) -> R:
        """Run the message's handler and return its result; its errors propagate as they are."""
        handler = self._handlers.get(type(message))
        if handler is None:
            raise UnknownMessage(f"no handler is registered for {type(message).__name__}")
        return cast(R, handler(message, self.dependencies))


def default_handlers() -> dict[type[Message[Any]], Handler]:
    """Every command and query of the service layer, with its handler."""
    from services.domain import commands, queries
    from services.domain.handlers import (
        assignment,
        deploy,
        documents,
        external,
        incidents,
        messages,
        tasks,
        timers,
        views,
    )

    return {
        commands.StartIncident: incidents.start_incident,
        commands.CompleteTask: tasks.complete_task,
        commands.DeliverMessage: messages.deliver_message,
        commands.ClaimTask: assignment.claim_task,
        commands.UnclaimTask: assignment.unclaim_task,
        commands.AssignTask: assignment.assign_task,
        commands.ExcludePerson: incidents.exclude_person,
        commands.DeployDefinitions: deploy.deploy_definitions,
        commands.FireDueTimers: timers.fire_due_timers,
        commands.CompleteExternalTask: external.complete_external_task,
        commands.FailExternalTask: external.fail_external_task,
        commands.RetryExternalTask: external.retry_external_task,
        queries.ViewIncident: views.view_incident,
        queries.MessageForm: messages.message_form,
        queries.Inbox: views.inbox,
        queries.DownloadDocument: documents.download_document,
        **children_handlers(),
    }


def children_handlers() -> dict[type[Message[Any]], Handler]:
    """The commands and queries about children, chronologies, reports and retention."""
    from services.domain.handlers.children_registry import handlers

    return handlers()


def bootstrap(
    session_factory: sessionmaker[Session],
    *,
    clock: Clock | None = None,
    calendar: Calendar | None = None,
    handlers: Mapping[type[Message[Any]], Handler] | None = None,
) -> MessageBus:
    """Build the bus for one database: units of work on `session_factory`, the system clock."""
    dependencies = Dependencies(
        uow_factory=lambda: SqlAlchemyUnitOfWork(session_factory),
        clock=clock or SystemClock(),
        calendar=calendar or PlainCalendar(),
        definitions=DefinitionCache(),
    )
    return MessageBus(handlers if handlers is not None else default_handlers(), dependencies)
