"""Case history: the facts the incidents list filters on, and answers per completion (issue 10).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

`incident_case_facts` holds, per incident, the route the process took, whether immediate
referral applied and which criteria held, and the classification: the list filters on them
without loading engine state. `case_answers` keeps the answers of every completion and every
correction; it is filled here from the audit trail's `task.completed` rows, so incidents
started before this revision have their history and are found by free-text search too.
(Their facts row appears at their next step.)
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

BATCH = 1000


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create incident_case_facts and case_answers; copy past completions from the audit trail."""
    op.create_table(
        "incident_case_facts",
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(20), nullable=True),
        sa.Column("immediate_referral", sa.Boolean(), nullable=True),
        sa.Column("referral_criteria", sa.String(1000), nullable=False),
        sa.Column("classification", sa.String(64), nullable=True),
        sa.Column("updated_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_case_facts_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name="pk_incident_case_facts"),
    )
    op.create_index(
        "ix_incident_case_facts_school_id_route", "incident_case_facts", ["school_id", "route"]
    )
    op.create_index(
        "ix_incident_case_facts_school_id_immediate",
        "incident_case_facts",
        ["school_id", "immediate_referral"],
    )
    op.create_table(
        "case_answers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("bpmn_id", sa.String(255), nullable=False),
        sa.Column("lane", sa.String(50), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", _when(), nullable=False),
        sa.Column("answers", _json(), nullable=False),
        sa.Column("previous", _json(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('completion', 'correction')", name="ck_case_answers_kind_known"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_case_answers_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_case_answers"),
    )
    op.create_index("ix_case_answers_incident_id_id", "case_answers", ["incident_id", "id"])
    op.create_index("ix_incidents_school_id_created_at", "incidents", ["school_id", "created_at"])
    op.create_index("ix_incidents_school_id_closed_at", "incidents", ["school_id", "closed_at"])
    _copy_completions()


def _copy_completions() -> None:
    # Past completions are in the audit trail (task.completed, target "task:<bpmn id>:<id>");
    # the lane comes from the task's row. Incidents deleted since are skipped.
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT a.incident_id, a.target, a.actor_id, a.occurred_at, a.new_values, h.role "
            "FROM audit_events a JOIN incidents i ON i.id = a.incident_id "
            "LEFT JOIN human_tasks h ON a.target = 'task:' || h.bpmn_id || ':' || h.id "
            "WHERE a.action = 'task.completed' ORDER BY a.id"
        )
    )
    table = sa.table(
        "case_answers",
        sa.column("incident_id"),
        sa.column("task_id"),
        sa.column("bpmn_id"),
        sa.column("lane"),
        sa.column("kind"),
        sa.column("actor_id"),
        sa.column("recorded_at"),  # as read: text on SQLite, a timestamp on PostgreSQL
        sa.column("answers", _json()),
        sa.column("search_text"),
    )
    batch: list[dict[str, Any]] = []
    for incident_id, target, actor_id, occurred_at, new_values, role in rows:
        parts = str(target).split(":", 2)
        values = json.loads(new_values) if isinstance(new_values, str) else (new_values or {})
        batch.append(
            {
                "incident_id": incident_id,
                "task_id": parts[2] if len(parts) == 3 else "",  # "task:<bpmn id>:<task id>"
                "bpmn_id": parts[1] if len(parts) == 3 else "",
                "lane": role or "",
                "kind": "completion",
                "actor_id": actor_id,
                "recorded_at": occurred_at,
                "answers": values,
                "search_text": _text_of(values),
            }
        )
        if len(batch) >= BATCH:
            op.bulk_insert(table, batch)
            batch = []
    if batch:
        op.bulk_insert(table, batch)


def _text_of(values: dict[str, Any]) -> str:
    # The same rule as services.domain.history_answers.search_text_of (frozen here).
    return " ".join(str(v) for v in values.values() if isinstance(v, str) and v.strip()).lower()


def downgrade() -> None:
    """Drop what upgrade() created."""
    op.drop_index("ix_incidents_school_id_closed_at", table_name="incidents")
    op.drop_index("ix_incidents_school_id_created_at", table_name="incidents")
    op.drop_index("ix_case_answers_incident_id_id", table_name="case_answers")
    op.drop_table("case_answers")
    op.drop_index("ix_incident_case_facts_school_id_immediate", table_name="incident_case_facts")
    op.drop_index("ix_incident_case_facts_school_id_route", table_name="incident_case_facts")
    op.drop_table("incident_case_facts")
