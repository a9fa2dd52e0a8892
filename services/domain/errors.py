"""Errors the service layer raises on purpose, each naming the problem, with its HTTP meaning.

Errors from below pass through unchanged and keep their meaning: services.db.errors.
ConcurrentUpdate (409: reload and retry), workflow.errors.TaskDataInvalid (422, per field) and
workflow.errors.DefinitionInvalid (422, per diagram problem). `http_status_of` maps them all.
"""

from __future__ import annotations

from services.db.errors import ConcurrentUpdate
from workflow.errors import DefinitionInvalid, ProcessFailed, TaskDataInvalid


class DomainError(Exception):
    """Base class of the errors the service layer raises on purpose."""

    http_status = 400


class NotFound(DomainError):
    """No such record, or one the user has no business knowing exists (so existence is not leaked)."""  # noqa: E501

    http_status = 404


class AccessDenied(DomainError):
    """The user may know the record exists but may not do this to it."""

    http_status = 403


class BreakGlassReasonRequired(AccessDenied):
    """The record is outside the user's need to know: opening it needs a reason, which is logged."""


class Conflict(DomainError):
    """The request clashes with the record's current state: reload and decide again."""

    http_status = 409


class TaskNoLongerReady(Conflict):
    """The task was completed, cancelled or never existed in this incident's current state."""


class TaskClaimedByAnother(Conflict):
    """Someone else has claimed the task: it must be reassigned before another person acts on it."""


class AlreadyExcluded(Conflict):
    """The person is already excluded from this incident."""


class ProcessNotStartable(Conflict):
    """No version of the process is deployed, or it does not begin with the disclosure form."""


class RequestInvalid(DomainError):
    """The command itself is incomplete or names something unusable (a reason, an assignee)."""

    http_status = 422


def http_status_of(error: BaseException) -> int | None:
    """The HTTP status an error means to the web layer; None for an unexpected error (500)."""
    if isinstance(error, DomainError):
        return error.http_status
    if isinstance(error, ConcurrentUpdate):
        return 409
    if isinstance(error, (TaskDataInvalid, DefinitionInvalid)):
        return 422
    if isinstance(error, ProcessFailed):
        return 409  # the diagram cannot go on from here with these answers; nothing was saved
    return None
