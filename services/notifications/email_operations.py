"""What the operations page shows of notification emails, and sending them again.

Emails being retried (pending after a failed try) and given up on ('failed'), in the schools
an administrator administers: the school of each email's notification. The recipient is
named, with their address, while they belong to one of those schools; otherwise both are
withheld, from the error too (an SMTP refusal may quote the address). Sending again makes
an email due at once with a fresh day of retries, and is audited.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Membership, Notification, School, User
from services.db.models.notifications import EmailDelivery

SENT_AGAIN = "notification.email_sent_again"
WITHHELD = "someone no longer in your schools"


@dataclass(frozen=True)
class EmailProblem:
    """An email being retried or given up on: to whom, about what, and the latest error."""

    message_id: str
    user_id: int
    school_name: str
    recipient: str  # the person's name and address, or WITHHELD
    subject: str
    state: str
    attempts: int
    error: str
    queued_at: datetime | None
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class EmailReport:
    """How many emails are being retried or were given up on, and the latest of them."""

    retrying_count: int
    failed_count: int
    latest: tuple[EmailProblem, ...]


def email_report(
    uow: SqlAlchemyUnitOfWork, school_ids: Collection[int], limit: int = 20
) -> EmailReport:
    """Emails of these schools' notifications being retried or given up on, latest first."""
    if not school_ids:
        return EmailReport(0, 0, ())
    counting = (
        select(EmailDelivery.state, func.count())
        .join(Notification, _notification_of_email())
        .where(_in_schools(school_ids), _problem())
        .group_by(EmailDelivery.state)
    )
    counts: dict[str, int] = {state: int(n) for state, n in uow.session.execute(counting)}
    query = (
        select(EmailDelivery, School.name, User.display_name, User.email)
        .join(Notification, _notification_of_email())
        .join(School, School.id == Notification.school_id)
        .join(User, User.id == EmailDelivery.user_id)
        .where(_in_schools(school_ids), _problem())
        .order_by(EmailDelivery.queued_at.desc(), EmailDelivery.message_id)
        .limit(limit)
    )
    rows = uow.session.execute(query).all()
    members = _members(uow, school_ids, {row[0].user_id for row in rows})
    latest = tuple(
        _problem_of(email, school, name, address, email.user_id in members)
        for email, school, name, address in rows
    )
    return EmailReport(counts.get("pending", 0), counts.get("failed", 0), latest)


def send_emails_again(
    uow: SqlAlchemyUnitOfWork,
    school_ids: Collection[int],
    actor_id: int,
    now: datetime,
    only: tuple[str, int] | None = None,
) -> int:
    """Make these schools' failing emails (or the one `only` names) due now; audited, no commit."""
    if not school_ids:
        return 0
    query = (
        select(EmailDelivery, Notification.school_id)
        .join(Notification, _notification_of_email())
        .where(_in_schools(school_ids), _problem())
    )
    if only is not None:
        query = query.where(EmailDelivery.message_id == only[0], EmailDelivery.user_id == only[1])
    found = uow.session.execute(query).all()
    for email, school_id in found:
        uow.audit.add(
            SENT_AGAIN,
            f"email:{email.message_id}:{email.user_id}",
            actor_id=actor_id,
            school_id=school_id,
            old_values={"state": email.state, "attempts": email.attempts},
            new_values={"state": "pending"},
            occurred_at=now,
        )
        email.state, email.attempts, email.queued_at, email.next_attempt_at = (
            "pending",
            0,
            now,
            None,
        )
    return len(found)


def _notification_of_email() -> ColumnElement[bool]:
    return and_(
        Notification.message_id == EmailDelivery.message_id,
        Notification.user_id == EmailDelivery.user_id,
    )


def _in_schools(school_ids: Collection[int]) -> ColumnElement[bool]:
    return Notification.school_id.in_(sorted(school_ids))


def _problem() -> ColumnElement[bool]:
    retrying = and_(EmailDelivery.state == "pending", EmailDelivery.last_error.is_not(None))
    return or_(EmailDelivery.state == "failed", retrying)


def _members(
    uow: SqlAlchemyUnitOfWork, school_ids: Collection[int], user_ids: Collection[int]
) -> frozenset[int]:
    if not user_ids:
        return frozenset()
    query = select(Membership.user_id).where(
        Membership.school_id.in_(sorted(school_ids)), Membership.user_id.in_(sorted(user_ids))
    )
    return frozenset(uow.session.scalars(query))


def _problem_of(
    email: EmailDelivery, school: str, name: str, address: str, shown: bool
) -> EmailProblem:
    error = email.last_error or ""
    if not shown:
        error = _without(error, address)
    return EmailProblem(
        message_id=email.message_id,
        user_id=email.user_id,
        school_name=school,
        recipient=f"{name} <{address}>" if shown else WITHHELD,
        subject=email.subject,
        state=email.state,
        attempts=email.attempts,
        error=error,
        queued_at=email.queued_at,
        next_attempt_at=email.next_attempt_at,
    )


def _without(text: str, address: str) -> str:
    # Case-insensitive: servers echo addresses as they were given, or lower-cased.
    start = text.lower().find(address.lower()) if address else -1
    while start >= 0:
        text = text[:start] + "[address withheld]" + text[start + len(address) :]
        start = text.lower().find(address.lower())
    return text
