"""Documents the system renders itself (the incident record as PDF), and external tasks.

Documents are never uploads and never images: only PDFs this system writes from the record.
An external task row mirrors a BPMN service task waiting for a worker, as human_tasks mirrors
user tasks: its state is what the incident page and the ops page show (a failure included).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.db.column_types import UTCDateTime, computed_text, utcnow
from services.db.models.base import Base, in_list

DOCUMENT_KINDS = ("record_pdf",)
# waiting: published to its topic; completed: a worker finished it; failed: a worker gave up
# after its retries (visible until someone retries it); cancelled: the process moved on.
EXTERNAL_TASK_STATES = ("waiting", "completed", "failed", "cancelled")


def new_document_id() -> str:
    """Return a fresh document id: a UUID4 as its 36-character string."""
    return str(uuid.uuid4())


class Document(Base):
    """A PDF rendered by a worker from an incident's record; content is loaded only on download."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(in_list("kind", DOCUMENT_KINDS), name="kind_known"),
        Index("ix_documents_incident_id_created_at", "incident_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_document_id)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_worker: Mapped[str] = mapped_column(String(100))
    # The external task that produced it: a retried job finds its document instead of adding one.
    task_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class ExternalTask(Base):
    """A service task of an incident waiting for (or done by) a worker; id = the engine's."""

    __tablename__ = "external_tasks"
    __table_args__ = (
        CheckConstraint(in_list("state", EXTERNAL_TASK_STATES), name="state_known"),
        # The ops page: failed (or long-waiting) tasks, oldest first.
        Index("ix_external_tasks_state_created_at", "state", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, info=computed_text("uuid"))
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True, info=computed_text("uuid")
    )
    bpmn_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(50))  # the lane holding it: who may retry it
    state: Mapped[str] = mapped_column(String(12), default="waiting")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # of the worker's last run
    last_error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))  # who completed or gave up
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
