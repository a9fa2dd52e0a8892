"""Children, chronology, transfers and retention (issue 11).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

- `children` gains year group, who named the child, when a DSL confirmed them, and the child
  they were merged into (duplicates are merged, never deleted, so the audit trail still names
  a child that exists).
- `incident_children` gains who linked the child and when.
- `incident_parties`: adults involved, kept in the case tables only.
- `file_transfers`: a child protection file sent to another school and its receipt.
- `incident_retention` (keep decisions, legal holds) and `retention_policies` (years per school).
- Three indexes the reports read through, on incidents, human_tasks and case_answers, and
  `incident_report_rows` (one narrow row per incident, what the dashboard counts) with
  `report_progress` (how far those rows have read the audit trail).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


# What the reports read through (see services/db/models/children.py).
REPORT_INDEXES = (
    ("ix_incidents_id_school_id_created_at", "incidents", ["id", "school_id", "created_at"]),
    (
        "ix_human_tasks_bpmn_id_incident_id_state",
        "human_tasks",
        ["bpmn_id", "incident_id", "state"],
    ),
    ("ix_case_answers_bpmn_id_incident_id_id", "case_answers", ["bpmn_id", "incident_id", "id"]),
)


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the child columns and the four new tables."""
    with op.batch_alter_table("children") as batch:
        batch.add_column(sa.Column("year_group", sa.String(20), nullable=True))
        batch.add_column(sa.Column("confirmed_at", _when(), nullable=True))
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
    with op.batch_alter_table("incident_children") as batch:
        batch.add_column(sa.Column("added_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("added_at", _when(), nullable=True))
    _create_parties()
    _create_transfers()
    _create_retention()
    for name, table, columns in REPORT_INDEXES:
        op.create_index(name, table, columns)
    _create_report_rows()


def _create_parties() -> None:
    op.create_table(
        "incident_parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("added_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_parties_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_parties"),
    )
    op.create_index("ix_incident_parties_incident_id", "incident_parties", ["incident_id"])


def _create_transfers() -> None:
    op.create_table(
        "file_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("from_school_id", sa.Integer(), nullable=False),
        sa.Column("to_school_id", sa.Integer(), nullable=True),
        sa.Column("to_school_name", sa.String(200), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("what_sent", sa.Text(), nullable=False),
        sa.Column("sent_at", _when(), nullable=False),
        sa.Column("sent_by", sa.Integer(), nullable=True),
        sa.Column("due_at", _when(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("received_at", _when(), nullable=True),
        sa.Column("received_by", sa.String(200), nullable=True),
        sa.Column("receipt_recorded_by", sa.Integer(), nullable=True),
        sa.Column("received_child_id", sa.Integer(), nullable=True),
        sa.Column("escalated_at", _when(), nullable=True),
        sa.CheckConstraint("status IN ('sent', 'received')", name="ck_file_transfers_status_known"),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name="fk_file_transfers_child_id_children"
        ),
        sa.ForeignKeyConstraint(
            ["from_school_id"], ["schools.id"], name="fk_file_transfers_from_school_id_schools"
        ),
        sa.ForeignKeyConstraint(
            ["to_school_id"], ["schools.id"], name="fk_file_transfers_to_school_id_schools"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_file_transfers"),
    )
    op.create_index("ix_file_transfers_child_id", "file_transfers", ["child_id"])
    op.create_index("ix_file_transfers_status_due_at", "file_transfers", ["status", "due_at"])


def _create_retention() -> None:
    op.create_table(
        "incident_retention",
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("review_date", sa.Date(), nullable=True),
        sa.Column("keep_reason", sa.Text(), nullable=True),
        sa.Column("legal_hold_reason", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_retention_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name="pk_incident_retention"),
    )
    op.create_table(
        "retention_policies",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("years_after_birth", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name="fk_retention_policies_school_id_schools"
        ),
        sa.PrimaryKeyConstraint("school_id", name="pk_retention_policies"),
    )


def _create_report_rows() -> None:
    op.create_table(
        "incident_report_rows",
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("route", sa.String(20), nullable=False),
        sa.Column("criteria", sa.String(1000), nullable=False),
        sa.Column("review_state", sa.String(12), nullable=True),
        sa.Column("review_hours", sa.Float(), nullable=True),
        sa.Column("review_on_time", sa.Boolean(), nullable=True),
        sa.Column("parents", sa.String(16), nullable=True),
        sa.Column("parents_reason", sa.Boolean(), nullable=False),
        sa.Column("police_outcome", sa.String(64), nullable=True),
        sa.Column("deletion", sa.String(24), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_report_rows_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name="pk_incident_report_rows"),
    )
    op.create_index(
        "ix_incident_report_rows_school_id_created_at",
        "incident_report_rows",
        ["school_id", "created_at"],
    )
    op.create_table(
        "report_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "last_audit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_report_progress"),
    )


def downgrade() -> None:
    """Drop what upgrade() created."""
    op.drop_table("report_progress")
    op.drop_index("ix_incident_report_rows_school_id_created_at", table_name="incident_report_rows")
    op.drop_table("incident_report_rows")
    for name, table, _columns in REPORT_INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_table("retention_policies")
    op.drop_table("incident_retention")
    op.drop_index("ix_file_transfers_status_due_at", table_name="file_transfers")
    op.drop_index("ix_file_transfers_child_id", table_name="file_transfers")
    op.drop_table("file_transfers")
    op.drop_index("ix_incident_parties_incident_id", table_name="incident_parties")
    op.drop_table("incident_parties")
    with op.batch_alter_table("incident_children") as batch:
        batch.drop_column("added_at")
        batch.drop_column("added_by")
    with op.batch_alter_table("children") as batch:
        batch.drop_column("created_by")
        batch.drop_column("merged_into_id")
        batch.drop_column("confirmed_at")
        batch.drop_column("year_group")
