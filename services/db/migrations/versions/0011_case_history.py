"""Case history: answers per completion and corrections (issue 10).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Nothing yet: this revision keeps its place in the chain."""


def downgrade() -> None:
    """Nothing to undo."""
