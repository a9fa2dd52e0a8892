"""Identity: second factors for readers, scoped expiring API tokens, throttling, server-side break-glass grants, invitations (issue 8).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Nothing yet: this revision keeps its place in the chain."""


def downgrade() -> None:
    """Nothing to undo."""
