"""Session generation: signing out ends the session on the server, not only in the browser.

Revision ID: 0005
Revises: 0004
Create Date: 2026-01-05

`users.session_generation` is copied into the signed session cookie at sign-in and compared on
every request; signing out (and enrolling an authenticator) adds one to it, so every cookie
issued before, including a copy someone kept, is refused from then on. Existing users start at
0; sessions issued before this revision carry no generation and must sign in again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add users.session_generation, 0 for everyone."""
    op.add_column(
        "users",
        sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Drop users.session_generation."""
    # Not batch mode: SQLite 3.35+ drops a plain column in place, where batch mode would
    # rebuild `users`, which most tables reference.
    op.drop_column("users", "session_generation")
