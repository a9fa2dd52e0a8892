"""Process studio: drafts, approvals, published versions per school (issue 9).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Nothing yet: this revision keeps its place in the chain."""


def downgrade() -> None:
    """Nothing to undo."""
