"""Documents and external tasks: the record PDFs workers render, and the tasks they complete.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04

`documents` holds PDFs this system renders itself from an incident's record (kind
'record_pdf'): never uploads, never images. `task_id` is the external task that produced a
document, unique, so a retried job finds the document it already stored. `external_tasks`
mirrors the BPMN service tasks waiting for a worker (as `human_tasks` mirrors user tasks):
its state, attempts and last error are how a worker's failure stays visible on the incident
and ops pages until someone retries it. Both cascade with their incident.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

DOCUMENT_KINDS = ("record_pdf",)
EXTERNAL_TASK_STATES = ("waiting", "completed", "failed", "cancelled")


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Create documents and external_tasks."""
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("created_by_worker", sa.String(100), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.CheckConstraint(_in_list("kind", DOCUMENT_KINDS), name="ck_documents_kind_known"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_documents_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.UniqueConstraint("task_id", name="uq_documents_task_id"),
    )
    op.create_index(
        "ix_documents_incident_id_created_at", "documents", ["incident_id", "created_at"]
    )
    op.create_table(
        "external_tasks",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("bpmn_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("finished_at", _when(), nullable=True),
        sa.CheckConstraint(
            _in_list("state", EXTERNAL_TASK_STATES), name="ck_external_tasks_state_known"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_external_tasks_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_external_tasks"),
    )
    op.create_index("ix_external_tasks_incident_id", "external_tasks", ["incident_id"])
    op.create_index("ix_external_tasks_state_created_at", "external_tasks", ["state", "created_at"])


def downgrade() -> None:
    """Drop what upgrade() created."""
    op.drop_table("external_tasks")
    op.drop_table("documents")
