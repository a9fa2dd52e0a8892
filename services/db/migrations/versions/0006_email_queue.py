"""The email queue: notification emails are sent apart from the event, with their own retries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-01-06

`email_deliveries` no longer only records emails already sent: the notifier queues each
notification's email there ('pending', with its subject and body) in the transaction of the
in-app notification, and the email sender sends it later, backing off on failure
(attempts, next_attempt_at, last_error) and giving up after a day ('failed') until an
administrator sends it again; 'skipped' says why an email was not sent on purpose. So a
refused email or an SMTP outage never undoes or dead-letters a notification. sent_at becomes
nullable (set when sent); the rows already there were sent. `notifications.actor_id` names
the person whose action a notification reports (break-glass access), so one person's
repeated access alerts a DSL once a day rather than on every page; it is set to NULL when
that person is deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

EMAIL_STATES = ("pending", "sent", "failed", "skipped")


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Turn email_deliveries into the email queue; add notifications.actor_id."""
    with op.batch_alter_table("email_deliveries") as batch:
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default="pending")
        )
        batch.add_column(sa.Column("subject", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("body", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("queued_at", _when(), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", _when(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.alter_column("sent_at", existing_type=_when(), nullable=True)
        batch.create_check_constraint(
            "ck_email_deliveries_state_known", _in_list("state", EMAIL_STATES)
        )
    op.execute("UPDATE email_deliveries SET state = 'sent', attempts = 1")
    op.create_index(
        "ix_email_deliveries_state_next_attempt_at",
        "email_deliveries",
        ["state", "next_attempt_at"],
    )
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("actor_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_notifications_actor_id_users", "users", ["actor_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    """Undo upgrade(); emails not sent yet cannot be kept by the older table and are dropped."""
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("fk_notifications_actor_id_users", type_="foreignkey")
        batch.drop_column("actor_id")
    op.drop_index("ix_email_deliveries_state_next_attempt_at", "email_deliveries")
    op.execute("DELETE FROM email_deliveries WHERE state <> 'sent' OR sent_at IS NULL")
    with op.batch_alter_table("email_deliveries") as batch:
        batch.drop_constraint("ck_email_deliveries_state_known", type_="check")
        batch.alter_column("sent_at", existing_type=_when(), nullable=False)
        for column in ("last_error", "next_attempt_at", "queued_at", "attempts", "body"):
            batch.drop_column(column)
        batch.drop_column("subject")
        batch.drop_column("state")
