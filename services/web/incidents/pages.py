"""What the incident and inbox pages share: domain errors as GOV.UK error pages, flashes."""

from __future__ import annotations

from flask import Blueprint, flash, render_template

from services.db.errors import ConcurrentUpdate
from services.domain.errors import (
    AccessDenied,
    Conflict,
    DomainError,
    NotFound,
    ProcessNotStartable,
    TaskClaimedByAnother,
)

Page = tuple[str, int]
SUCCESS = "success"

CHANGED_HEADING = "This incident changed while you were working"
CHANGED_PARAGRAPHS = (
    "Your answers were not saved: someone else completed or changed this step first.",
    "Reload the incident to see what changed, then fill in the task again if it is still needed.",
)
MOVED_ON = (
    "Someone else claimed, completed or reassigned it first. Nothing was changed.",
    "Reload the page to see where it is now.",
)


def tell(message: str) -> None:
    """Show a success banner on the next page (never with a child's details in it)."""
    flash(message, SUCCESS)


def error_page(
    error: DomainError | ConcurrentUpdate,
    *,
    incident_url: str | None = None,
    lost_answers: bool = False,
) -> Page:
    """The GOV.UK page for a refused command or query, with the error's HTTP status.

    lost_answers: the request carried a task's answers, so a conflict must say they were not
    saved.
    """
    if isinstance(error, NotFound):
        return _page(404, "Page not found", ("If you typed the web address, check it is correct.",))
    if isinstance(error, AccessDenied):
        return _page(403, "You cannot do this", (_sentence(str(error)),), incident_url)
    if isinstance(error, ProcessNotStartable):
        not_set_up = ("No response process is set up yet: ask your process administrator.",)
        return _page(409, "Concerns cannot be reported yet", not_set_up)
    if isinstance(error, TaskClaimedByAnother):
        claimed = ("Someone else has claimed this task. Ask a DSL to reassign it if needed.",)
        lost = ("Your answers were not saved.",) if lost_answers else ()
        heading = "This task is being handled by someone else"
        return _page(409, heading, claimed + lost, incident_url)
    if isinstance(error, (Conflict, ConcurrentUpdate)) and lost_answers:
        return _page(409, CHANGED_HEADING, CHANGED_PARAGRAPHS, incident_url)
    if isinstance(error, (Conflict, ConcurrentUpdate)):
        return _page(409, "This task changed while you were looking at it", MOVED_ON, incident_url)
    return _page(error.http_status, "Sorry, that could not be done", (_sentence(str(error)),))


def task_gone_page(*, posted: bool, incident_url: str) -> Page:
    """The task is not waiting any more: after a POST, say the answers were not saved."""
    if posted:
        return _page(409, CHANGED_HEADING, CHANGED_PARAGRAPHS, incident_url)
    paragraphs = ("It has been completed, or the incident no longer needs it.",)
    return _page(409, "This task is no longer waiting", paragraphs, incident_url)


def _page(
    status: int, heading: str, paragraphs: tuple[str, ...], incident_url: str | None = None
) -> Page:
    html = render_template(
        "incidents/problem.html",
        heading=heading,
        paragraphs=paragraphs,
        incident_url=incident_url,
    )
    return html, status


def _sentence(text: str) -> str:
    # Domain messages name the record first ("task X: only a DSL ..."): keep the reason.
    reason = text.partition(": ")[2] if ": " in text else text
    reason = reason.strip()
    return (reason[:1].upper() + reason[1:]).rstrip(".") + "." if reason else ""


def register_domain_errors(bp: Blueprint) -> None:
    """Render refused commands and queries raised in the blueprint's views as error pages."""
    bp.register_error_handler(DomainError, lambda error: error_page(error))
    bp.register_error_handler(ConcurrentUpdate, lambda error: error_page(error))
