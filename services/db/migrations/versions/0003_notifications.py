"""Notifications: in-app notifications per person, and the record of emails already sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03

`notifications` holds what the notifier tells a person in the app (a task awaits them): the
task type, the school and a link, never personal details of children. Indexed for one
person's unread list, newest first. `email_deliveries` records each (event, person) email
already handed to the SMTP server, in its own transaction, so a retried event does not email
the same person twice. Both cascade with the person, school or incident they belong to, so
retention that deletes an incident deletes what was said about it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create notifications and email_deliveries."""
    op.create_table(
        "notifications",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=True),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("link", sa.String(500), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("read_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_notifications_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name="fk_notifications_school_id_schools",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_notifications_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("message_id", "user_id", name="uq_notifications_message_id_user_id"),
    )
    op.create_index(
        "ix_notifications_user_id_read_at_id", "notifications", ["user_id", "read_at", "id"]
    )
    op.create_index("ix_notifications_incident_id", "notifications", ["incident_id"])
    op.create_table(
        "email_deliveries",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_email_deliveries_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "user_id", name="pk_email_deliveries"),
    )
    op.create_index("ix_email_deliveries_user_id", "email_deliveries", ["user_id"])


def downgrade() -> None:
    """Drop what upgrade() created."""
    op.drop_table("email_deliveries")
    op.drop_table("notifications")
