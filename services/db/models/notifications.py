"""In-app notifications, and the queue of notification emails with their own retries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.db.column_types import UTCDateTime, big_id_type, utcnow
from services.db.models.base import Base, in_list

NOTIFICATION_KINDS = ("task.ready", "task.assigned", "incident.break_glass", "incident.message")
# pending: to send (next_attempt_at NULL means at once); sent; failed: given up on, until
# someone sends it again; skipped: not sent on purpose (the task no longer waits, the person
# left), the reason in last_error.
EMAIL_STATES = ("pending", "sent", "failed", "skipped")


class Notification(Base):
    """Something the app tells one person: a task awaits them, or a break-glass access (no child).

    One row per (event, person): the notifier writes it in the transaction that marks the
    event processed, so a redelivered event never notifies twice.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id"),
        # A person's unread list, newest first: user_id = ? AND read_at IS NULL ORDER BY id.
        Index("ix_notifications_user_id_read_at_id", "user_id", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(big_id_type(), primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(36))  # the event that caused it
    kind: Mapped[str] = mapped_column(String(32))  # one of NOTIFICATION_KINDS
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[str | None] = mapped_column(String(64))
    # Whose action it reports (the person who used break-glass); None for tasks.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(String(500))
    link: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EmailDelivery(Base):
    """The email of one notification (event, person): queued with it, sent with its own retries.

    The notifier queues it in the transaction of the in-app notification; the email sender
    (services.notifications.email_queue) sends it later, backing off on failure, and gives up
    after a day ('failed'), when an administrator may send it again. The words are fixed at
    queue time (services.notifications.messages: nothing about children); the address is the
    person's at sending time.
    """

    __tablename__ = "email_deliveries"
    __table_args__ = (
        CheckConstraint(in_list("state", EMAIL_STATES), name="state_known"),
        # The sender's look for due emails: state = 'pending' AND next_attempt_at <= now.
        Index("ix_email_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    subject: Mapped[str] = mapped_column(String(300), default="", server_default="")
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
