"""Notifications (list, mark as read) and the operations page (failures, dead letters, emails)."""

from __future__ import annotations

import re

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from services.messaging.topology import deployment_topology
from services.notifications import NOTIFIER_NAME
from services.notifications.email_operations import email_report, send_emails_again
from services.notifications.operations import (
    TIMER_WINDOW,
    BrokerCounts,
    audit_check,
    broker_counts,
    deliver_again,
    error_type,
    outbox_report,
    timer_report,
)
from services.web.auth.identity import SignedInUser, current_user, login_required
from services.web.extensions import runtime
from services.web.incidents.pages import tell

bp = Blueprint("notifications", __name__)

PAGE_SIZE = 25
MAX_PAGE = 10_000
OPERATOR_ROLE = "admin"
MESSAGE_ID = re.compile(r"[A-Za-z0-9-]{1,36}")  # an event's id: a UUID string
# The consumers whose dead-letter queues the operations page counts (RabbitMQ).
BROKER_CONSUMERS: tuple[str, ...] = (NOTIFIER_NAME,)


def is_operator(user: SignedInUser) -> bool:
    """Whether the person sees the operations page: a process administrator somewhere."""
    return OPERATOR_ROLE in user.all_roles


@bp.get("/notifications")
@login_required
def index() -> str:
    """The person's notifications, newest first, unread ones marked."""
    user = _user()
    page = min(max(1, request.args.get("page", 1, type=int)), MAX_PAGE)
    with runtime().unit_of_work() as uow:
        rows = uow.notifications.for_user(user.id, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
        unread = uow.notifications.unread_count(user.id)
    return render_template(
        "notifications/index.html",
        notifications=rows[:PAGE_SIZE],
        unread=unread,
        page=page,
        previous_url=url_for(".index", page=page - 1) if page > 1 else None,
        next_url=url_for(".index", page=page + 1) if len(rows) > PAGE_SIZE else None,
    )


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int) -> Response:
    """Mark one of the person's notifications read (someone else's id changes nothing)."""
    _mark({notification_id})
    return redirect(url_for(".index", page=request.form.get("page", 1, type=int)))


@bp.post("/notifications/read")
@login_required
def mark_all_read() -> Response:
    """Mark all the person's notifications read."""
    marked = _mark(None)
    tell(f"{marked} notification{'' if marked == 1 else 's'} marked as read.")
    return redirect(url_for(".index"))


@bp.get("/operations")
@login_required
def operations() -> str:
    """Events failing or dead-lettered, emails failing, timer failures: in the admin's schools."""
    schools = _administered()
    app_runtime = runtime()
    settings = app_runtime.settings
    with app_runtime.unit_of_work() as uow:
        outbox = outbox_report(uow, schools)
        emails = email_report(uow, schools)
        timers = timer_report(uow, schools, app_runtime.clock.now())
        job_count, jobs = uow.external_tasks.failed_in(schools)
        audit = audit_check(uow, schools)
    broker: BrokerCounts | None = None
    if settings.amqp_url:
        topology = deployment_topology(settings.amqp_prefix)
        broker = broker_counts(settings.amqp_url, topology, BROKER_CONSUMERS)
    return render_template(
        "notifications/operations.html",
        outbox=outbox,
        emails=emails,
        email_on=settings.smtp is not None,
        timers=timers,
        job_count=job_count,
        jobs=[(task, reference, error_type(task.last_error)) for task, reference in jobs],
        broker=broker,
        timer_days=TIMER_WINDOW.days,
        audit=audit,
    )


@bp.post("/operations/emails/send-again")
@login_required
def send_again() -> Response:
    """Send one failing email again (message_id and user_id given), or all of the admin's."""
    schools = _administered()
    message_id = request.form.get("message_id", "")
    user_id = request.form.get("user_id", type=int)
    if message_id and not MESSAGE_ID.fullmatch(message_id):
        abort(404)  # never let a NUL byte or the like reach SQL (PostgreSQL refuses it: a 500)
    only = (message_id, user_id) if message_id and user_id is not None else None
    app_runtime = runtime()
    with app_runtime.unit_of_work() as uow:
        count = send_emails_again(uow, schools, _user().id, app_runtime.clock.now(), only)
        uow.commit()
    if count:
        tell(f"{count} email{'' if count == 1 else 's'} will be sent again in a few seconds.")
    else:
        tell("There was no failing email to send again: it may have been sent meanwhile.")
    return redirect(url_for(".operations"))


@bp.post("/operations/events/<id:message_id>/deliver-again")
@login_required
def deliver_event_again(message_id: str) -> Response:
    """Deliver an in-process dead letter of the admin's schools again."""
    schools = _administered()
    app_runtime = runtime()
    with app_runtime.unit_of_work() as uow:
        found = deliver_again(uow, schools, message_id, _user().id, app_runtime.clock.now())
        uow.commit()
    if found:
        tell("The event will be delivered again in a few seconds.")
    else:
        tell("There was no such dead letter to deliver again: it may have been delivered.")
    return redirect(url_for(".operations"))


def _administered() -> list[int]:
    """The schools the signed-in person administers; 403 for someone administering none."""
    user = _user()
    if not is_operator(user):
        abort(403)
    return [s.school_id for s in user.schools if OPERATOR_ROLE in s.roles]


def _mark(ids: set[int] | None) -> int:
    app_runtime = runtime()
    with app_runtime.unit_of_work() as uow:
        marked = uow.notifications.mark_read(_user().id, app_runtime.clock.now(), ids)
        uow.commit()
    return marked


def _user() -> SignedInUser:
    user = current_user()
    assert user is not None  # login_required let the request through
    return user
