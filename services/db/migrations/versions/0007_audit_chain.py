"""Tamper evidence: hash-chained audit events (issue 10).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Nothing yet: this revision keeps its place in the chain."""


def downgrade() -> None:
    """Nothing to undo."""
