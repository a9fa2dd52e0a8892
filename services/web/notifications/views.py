"""Notifications (list, mark as read) and the operations page (failures, dead letters, timers)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from services.messaging.topology import deployment_topology
from services.notifications import NOTIFIER_NAME
from services.notifications.operations import (
    TIMER_WINDOW,
    BrokerCounts,
    broker_counts,
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
    """Events failing or dead-lettered, and timer failures: counts and the latest errors."""
    user = _user()
    if not is_operator(user):
        abort(403)
    app_runtime = runtime()
    settings = app_runtime.settings
    schools = [s.school_id for s in user.schools if OPERATOR_ROLE in s.roles]
    with app_runtime.unit_of_work() as uow:
        outbox = outbox_report(uow)
        timers = timer_report(uow, schools, app_runtime.clock.now())
    broker: BrokerCounts | None = None
    if settings.amqp_url:
        topology = deployment_topology(settings.amqp_prefix)
        broker = broker_counts(settings.amqp_url, topology, BROKER_CONSUMERS)
    return render_template(
        "notifications/operations.html",
        outbox=outbox,
        timers=timers,
        broker=broker,
        timer_days=TIMER_WINDOW.days,
    )


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
