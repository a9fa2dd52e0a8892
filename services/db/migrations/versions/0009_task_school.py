"""Tasks carry their school, indexed for the inbox (issue 7).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

The inbox asked for one school's ready tasks by joining every task to its incident: with 100k
incidents SQLite walked all of a school's incidents and PostgreSQL bitmap-scanned every ready
task of every school. `human_tasks.school_id` (copied from the incident, which never changes
school) and a partial index over ready tasks only, school first, let both read just the open
work of one school. The old index (state, role, due_at, created_at) served only that query.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_READY = sa.text("state = 'ready'")


def upgrade() -> None:
    """Add human_tasks.school_id from each task's incident, then the partial inbox index."""
    with op.batch_alter_table("human_tasks") as batch:
        batch.add_column(sa.Column("school_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE human_tasks SET school_id = "
        "(SELECT incidents.school_id FROM incidents WHERE incidents.id = human_tasks.incident_id)"
    )
    with op.batch_alter_table("human_tasks") as batch:
        batch.alter_column("school_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_human_tasks_school_id_schools", "schools", ["school_id"], ["id"], ondelete="CASCADE"
        )
        batch.drop_index("ix_human_tasks_inbox")
    op.create_index(
        "ix_human_tasks_school_ready",
        "human_tasks",
        ["school_id", "role", "due_at", "created_at"],
        sqlite_where=_READY,
        postgresql_where=_READY,
    )


def downgrade() -> None:
    """Back to the inbox index without the school, and no school column."""
    op.drop_index("ix_human_tasks_school_ready", table_name="human_tasks")
    with op.batch_alter_table("human_tasks") as batch:
        batch.create_index("ix_human_tasks_inbox", ["state", "role", "due_at", "created_at"])
        batch.drop_constraint("fk_human_tasks_school_id_schools", type_="foreignkey")
        batch.drop_column("school_id")
