"""The process studio: drafts with their saves, releases of versions, and each school's version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.db.column_types import UTCDateTime, json_type, utcnow
from services.db.models.base import Base, in_list

DRAFT_STATES = ("draft", "approved", "published", "discarded")


class ProcessDraft(Base):
    """A proposed change to a process: its files, the checks of its latest revision, approval.

    `revision` counts saves; a save names the revision it was based on, so two people saving
    the same draft never overwrite each other (the second gets a conflict). Any save voids an
    approval. `checks` holds the problems and scenario results of `checked_revision`.
    """

    __tablename__ = "process_drafts"
    __table_args__ = (CheckConstraint(in_list("state", DRAFT_STATES), name="state_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255), index=True)
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("definition_versions.id"))
    files: Mapped[dict[str, str]] = mapped_column(json_type())  # name -> XML text (UTF-8)
    note: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    checks: Mapped[dict[str, Any] | None] = mapped_column(json_type(nullable=True))
    checked_revision: Mapped[int | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_revision: Mapped[int | None]
    published_version_id: Mapped[int | None] = mapped_column(ForeignKey("definition_versions.id"))


class DraftSave(Base):
    """One save of a draft: who, when, which revision, and what changed in words."""

    __tablename__ = "draft_saves"
    __table_args__ = (UniqueConstraint("draft_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("process_drafts.id", ondelete="CASCADE"))
    revision: Mapped[int]
    saved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    summary: Mapped[str] = mapped_column(Text, default="")


class ProcessRelease(Base):
    """Who made a published version and why: the note, the authors' draft, the approver."""

    __tablename__ = "process_releases"

    version_id: Mapped[int] = mapped_column(ForeignKey("definition_versions.id"), primary_key=True)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("process_drafts.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SchoolProcessVersion(Base):
    """The version of a process a school runs: new incidents there start on it."""

    __tablename__ = "school_process_versions"

    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    process_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("definition_versions.id"))
    chosen_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
