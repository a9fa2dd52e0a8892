"""Messaging: PostgreSQL wakes the outbox relay with NOTIFY when outbox rows are inserted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02

A statement-level trigger on `outbox` calls pg_notify on the channel the relay LISTENs on
(services.messaging.wakeup.OUTBOX_CHANNEL). PostgreSQL delivers a notification only when the
inserting transaction commits, and folds identical ones of a transaction into one, so the
relay wakes once per committed command, never for a rolled-back one. SQLite has no NOTIFY: the
embedded relay is woken in-process after commit (services.messaging.wakeup), so nothing to do.
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Spelled out rather than imported: this revision keeps meaning what it meant.
_CHANNEL = "safeguard_outbox"

_PG_NOTIFY_FUNCTION = f"""
CREATE FUNCTION outbox_notify_relay() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{_CHANNEL}', '');
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """Create the NOTIFY trigger on outbox inserts (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_PG_NOTIFY_FUNCTION)
    op.execute(
        "CREATE TRIGGER outbox_notify_relay AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify_relay()"
    )


def downgrade() -> None:
    """Drop the trigger and its function."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify_relay ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify_relay()")
