"""Children, chronology, transfers and retention (issue 11).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Nothing yet: this revision keeps its place in the chain."""


def downgrade() -> None:
    """Nothing to undo."""
