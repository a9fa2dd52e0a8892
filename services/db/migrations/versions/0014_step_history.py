"""Step history: completed steps kept out of the engine state (issue 7).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

The engine now drops finished work from an instance's state once a command hands its
completed steps to this table (in the same transaction). No backfill: incidents saved before
this revision still hold their whole history in their state, and readers merge the rows here
with what the state holds, so they read the same history as before.

Downgrade puts every stored step back into its incident's state (as a completed task under
the root, where older code reads history) before dropping the table, so no answer is lost.
The connections travelled that pruned states keep in their root are not read by older code.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create completed_steps."""
    op.create_table(
        "completed_steps",
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("bpmn_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("lane", sa.String(50), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_completed_steps_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "task_id", name="pk_completed_steps"),
    )
    op.create_index(
        "ix_completed_steps_incident_id_sequence", "completed_steps", ["incident_id", "sequence"]
    )


def downgrade() -> None:
    """Put every stored step back into its incident's state, then drop completed_steps.

    Older code reads history only from the state: each step goes back as a completed task
    hanging from the root of the (sub)workflow whose spec has its element, with its answers,
    number, time and actor, exactly where that code looks for them.
    """
    bind = op.get_bind()
    steps = sa.table(
        "completed_steps",
        sa.column("incident_id", sa.String()),
        sa.column("task_id", sa.String()),
        sa.column("sequence", sa.Integer()),
        sa.column("bpmn_id", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("completed_at", sa.DateTime(timezone=True)),
        sa.column("data", _json()),
    )
    held: dict[str, list[Any]] = {}
    for row in bind.execute(sa.select(steps).order_by(steps.c.incident_id, steps.c.sequence)):
        held.setdefault(row.incident_id, []).append(row)
    for incident_id, rows in held.items():
        found = bind.execute(
            sa.text(
                "SELECT i.state, v.spec FROM incidents i JOIN definition_versions v "
                "ON v.id = i.definition_version_id WHERE i.id = :id"
            ),
            {"id": incident_id},
        ).one()
        state = json.loads(found.state)
        for row in rows:
            _put_back(state, json.loads(found.spec), row)
        bind.execute(
            sa.text("UPDATE incidents SET state = :state WHERE id = :id"),
            {"state": json.dumps(state, separators=(",", ":")), "id": incident_id},
        )
    op.drop_index("ix_completed_steps_incident_id_sequence", table_name="completed_steps")
    op.drop_table("completed_steps")


def _put_back(state: dict[str, Any], spec: dict[str, Any], row: Any) -> None:
    workflow = _holder(state, spec, row.bpmn_id)
    if workflow is None:
        raise RuntimeError(
            f"incident {row.incident_id}: step {row.bpmn_id} ({row.task_id}) has no place in "
            "its state to go back to; downgrading would lose it"
        )
    root = workflow["tasks"][workflow["root"]]
    internal: dict[str, Any] = {"safeguard:seq": row.sequence}
    if row.completed_at is not None:
        when = row.completed_at
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        internal["safeguard:completed_at"] = when.isoformat()
    if row.actor is not None:
        internal["safeguard:actor"] = row.actor
    workflow["tasks"][row.task_id] = {
        "id": row.task_id,
        "parent": workflow["root"],
        "children": [],
        "last_state_change": 0,
        "state": 64,  # COMPLETED
        "task_spec": row.bpmn_id,
        "triggered": False,
        "internal_data": internal,
        "data": {},
        "delta": {"updates": dict(row.data), "deletions": []},
        "typename": "Task",
    }
    root["children"].append(row.task_id)


def _holder(state: dict[str, Any], spec: dict[str, Any], bpmn_id: str) -> dict[str, Any] | None:
    # The top workflow when its spec has the element; else a subprocess of the spec that has it.
    if bpmn_id in spec["spec"]["task_specs"]:
        return state
    for subprocess in state.get("subprocesses", {}).values():
        sub_spec = spec["subprocess_specs"].get(subprocess.get("spec"), {})
        if bpmn_id in sub_spec.get("task_specs", {}):
            return subprocess  # type: ignore[no-any-return]
    return None
