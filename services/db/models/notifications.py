"""In-app notifications, and the record of notification emails already sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.db.column_types import UTCDateTime, big_id_type, utcnow
from services.db.models.base import Base

NOTIFICATION_KINDS = ("task.ready", "task.assigned")


class Notification(Base):
    """Something the app tells one person: a task awaits them (type, school, link; no child).

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
    text: Mapped[str] = mapped_column(String(500))
    link: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EmailDelivery(Base):
    """An event's email handed to the SMTP server for one person, kept so retries skip them."""

    __tablename__ = "email_deliveries"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
