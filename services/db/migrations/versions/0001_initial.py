"""Initial schema: accounts, definitions, incidents and tasks, audit trail, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Written by hand and checked against the models by the integration tests (autogenerate finds
no difference on SQLite or PostgreSQL). Types are spelled out here rather than imported from
the models, so this revision keeps meaning what it meant when later models change.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ROLES = ("staff", "dsl", "headteacher", "auditor", "admin")
INCIDENT_STATUSES = ("open", "closed", "failed")
TASK_STATES = ("ready", "completed", "cancelled")


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json(nullable: bool = False) -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=nullable).with_variant(
        postgresql.JSONB(none_as_null=nullable), "postgresql"
    )


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Create every table, index and the append-only guard on audit_events."""
    _create_accounts()
    _create_definitions()
    _create_incidents()
    _create_records()
    _guard_audit_events()


def downgrade() -> None:
    """Drop everything upgrade() created."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_events_refuse_change() CASCADE")
    for table in (
        "processed_messages",
        "outbox",
        "audit_events",
        "incident_children",
        "children",
        "incident_exclusions",
        "human_tasks",
        "incidents",
        "definition_versions",
        "process_definitions",
        "api_tokens",
        "memberships",
        "users",
        "schools",
    ):
        op.drop_table(table)


def _create_accounts() -> None:
    op.create_table(
        "schools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schools"),
        sa.UniqueConstraint("slug", name="uq_schools_slug"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.CheckConstraint("email = lower(email)", name="ck_users_email_lower_case"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.CheckConstraint(_in_list("role", ROLES), name="ck_memberships_role_known"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_memberships_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name="fk_memberships_school_id_schools",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_memberships"),
        sa.UniqueConstraint(
            "user_id", "school_id", "role", name="uq_memberships_user_id_school_id_role"
        ),
    )
    op.create_index("ix_memberships_school_id_role", "memberships", ["school_id", "role"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("last_used_at", _when(), nullable=True),
        sa.Column("revoked_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])


def _create_definitions() -> None:
    op.create_table(
        "process_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_process_definitions"),
        sa.UniqueConstraint("process_id", name="uq_process_definitions_process_id"),
    )
    op.create_table(
        "definition_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("sources", _json(), nullable=False),
        sa.Column("deployed_at", _when(), nullable=False),
        sa.Column("deployed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definitions.id"],
            name="fk_definition_versions_definition_id_process_definitions",
        ),
        sa.ForeignKeyConstraint(
            ["deployed_by"],
            ["users.id"],
            name="fk_definition_versions_deployed_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_definition_versions"),
        sa.UniqueConstraint(
            "definition_id", "version", name="uq_definition_versions_definition_id_version"
        ),
        sa.UniqueConstraint(
            "definition_id", "digest", name="uq_definition_versions_definition_id_digest"
        ),
    )


def _create_incidents() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("definition_version_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("next_timer_at", _when(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", _when(), nullable=True),
        sa.CheckConstraint(_in_list("status", INCIDENT_STATUSES), name="ck_incidents_status_known"),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name="fk_incidents_school_id_schools"
        ),
        sa.ForeignKeyConstraint(
            ["definition_version_id"],
            ["definition_versions.id"],
            name="fk_incidents_definition_version_id_definition_versions",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name="fk_incidents_created_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("school_id", "reference", name="uq_incidents_school_id_reference"),
    )
    op.create_index("ix_incidents_next_timer_at", "incidents", ["next_timer_at"])
    op.create_index(
        "ix_incidents_school_id_status_created_at",
        "incidents",
        ["school_id", "status", "created_at"],
    )
    op.create_table(
        "human_tasks",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("bpmn_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("due_at", _when(), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("completed_at", _when(), nullable=True),
        sa.Column("completed_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(_in_list("state", TASK_STATES), name="ck_human_tasks_state_known"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_human_tasks_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name="fk_human_tasks_assignee_id_users",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["completed_by"],
            ["users.id"],
            name="fk_human_tasks_completed_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_human_tasks"),
    )
    op.create_index(
        "ix_human_tasks_inbox", "human_tasks", ["state", "role", "due_at", "created_at"]
    )
    op.create_index("ix_human_tasks_incident_id", "human_tasks", ["incident_id"])
    op.create_table(
        "incident_exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_exclusions_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_incident_exclusions_user_id_users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name="fk_incident_exclusions_created_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_exclusions"),
        sa.UniqueConstraint(
            "incident_id", "user_id", name="uq_incident_exclusions_incident_id_user_id"
        ),
    )
    op.create_index("ix_incident_exclusions_user_id", "incident_exclusions", ["user_id"])
    op.create_table(
        "children",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name="fk_children_school_id_schools"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_children"),
    )
    op.create_index("ix_children_school_id", "children", ["school_id"])
    op.create_table(
        "incident_children",
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_children_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name="fk_incident_children_child_id_children"
        ),
        sa.PrimaryKeyConstraint("incident_id", "child_id", "role", name="pk_incident_children"),
    )
    op.create_index("ix_incident_children_child_id", "incident_children", ["child_id"])


def _create_records() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", _when(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.String(36), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("old_values", _json(nullable=True), nullable=True),
        sa.Column("new_values", _json(nullable=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_incident_id_id", "audit_events", ["incident_id", "id"])
    op.create_index(
        "ix_audit_events_school_id_occurred_at", "audit_events", ["school_id", "occurred_at"]
    )
    op.create_table(
        "outbox",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("available_at", _when(), nullable=False),
        sa.Column("sent_at", _when(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("message_id", name="uq_outbox_message_id"),
    )
    op.create_index("ix_outbox_sent_at_id", "outbox", ["sent_at", "id"])
    op.create_table(
        "processed_messages",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("processed_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id", name="pk_processed_messages"),
    )


# A later batch-mode migration that rebuilds audit_events on SQLite drops these triggers with
# the old table: it must create them again.
_PG_REFUSE_CHANGE = """
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""


def _guard_audit_events() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_REFUSE_CHANGE)
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_events_no_{operation.lower()} BEFORE {operation} "
            f"ON audit_events BEGIN SELECT RAISE(ABORT, "
            f"'audit_events is append-only: {operation} refused'); END"
        )
