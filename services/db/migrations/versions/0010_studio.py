"""Process studio: drafts, approvals, published versions per school (issue 9).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

- `process_drafts`: proposed changes (files as text, revision for optimistic saves, checks,
  approval); `draft_saves`: who saved which revision when.
- `process_releases`: the note, author, approver and publisher of a published version.
- `school_process_versions`: the version each school runs per process (none: the latest).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

DRAFT_STATES = ("draft", "approved", "published", "discarded")


def _at(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    kind = sa.JSON(none_as_null=nullable).with_variant(
        postgresql.JSONB(none_as_null=nullable), "postgresql"
    )
    return sa.Column(name, kind, nullable=nullable)


def _user(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.Integer(),
        sa.ForeignKey("users.id", name=f"fk_{name}_users", ondelete="SET NULL"),
        nullable=True,
    )


def upgrade() -> None:
    """Create the four studio tables."""
    op.create_table(
        "process_drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("process_id", sa.String(255), nullable=False, index=True),
        sa.Column(
            "base_version_id",
            sa.Integer(),
            sa.ForeignKey("definition_versions.id", name="fk_process_drafts_base_version"),
            nullable=True,
        ),
        _json("files"),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        _json("checks", nullable=True),
        sa.Column("checked_revision", sa.Integer(), nullable=True),
        _user("created_by"),
        _at("created_at"),
        _user("updated_by"),
        _at("updated_at"),
        _user("approved_by"),
        _at("approved_at", nullable=True),
        sa.Column("approved_revision", sa.Integer(), nullable=True),
        sa.Column(
            "published_version_id",
            sa.Integer(),
            sa.ForeignKey("definition_versions.id", name="fk_process_drafts_published_version"),
            nullable=True,
        ),
        sa.CheckConstraint(
            f"state IN ({', '.join(repr(s) for s in DRAFT_STATES)})",
            name="ck_process_drafts_state_known",
        ),
    )
    op.create_table(
        "draft_saves",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "draft_id",
            sa.Integer(),
            sa.ForeignKey("process_drafts.id", name="fk_draft_saves_draft", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        _user("saved_by"),
        _at("saved_at"),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.UniqueConstraint("draft_id", "revision", name="uq_draft_saves_draft_id_revision"),
    )
    op.create_table(
        "process_releases",
        sa.Column(
            "version_id",
            sa.Integer(),
            sa.ForeignKey("definition_versions.id", name="fk_process_releases_version"),
            primary_key=True,
        ),
        sa.Column(
            "draft_id",
            sa.Integer(),
            sa.ForeignKey("process_drafts.id", name="fk_process_releases_draft"),
            nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        _user("author_id"),
        _user("approved_by"),
        _user("published_by"),
        _at("published_at"),
    )
    op.create_table(
        "school_process_versions",
        sa.Column(
            "school_id",
            sa.Integer(),
            sa.ForeignKey(
                "schools.id", name="fk_school_process_versions_school", ondelete="CASCADE"
            ),
            primary_key=True,
        ),
        sa.Column("process_id", sa.String(255), primary_key=True),
        sa.Column(
            "version_id",
            sa.Integer(),
            sa.ForeignKey("definition_versions.id", name="fk_school_process_versions_version"),
            nullable=False,
        ),
        _user("chosen_by"),
        _at("chosen_at"),
    )


def downgrade() -> None:
    """Drop the studio tables (published definition versions themselves stay)."""
    op.drop_table("school_process_versions")
    op.drop_table("process_releases")
    op.drop_table("draft_saves")
    op.drop_table("process_drafts")
