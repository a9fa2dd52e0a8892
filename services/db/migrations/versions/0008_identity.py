"""Identity: process admins, scoped expiring tokens, throttling, break-glass grants, invitations.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

- `memberships.role` may be `process_admin` (changes the process, with a second person's approval).
- `schools.staff_second_factor`: the school's setting that staff sign in with a second factor too.
- `api_tokens.scope` ("read" or "write") and `expires_at`: tokens that existed keep read and write
  and expire 90 days after this upgrade; `revoked_by` names who revoked one.
- `break_glass_grants`: a reason to open an incident outside need-to-know, held on the server
  with an expiry (it used to sit in the session cookie).
- `invitations`: one-time links (kept as their hash) to join a school in a role.
- `sign_in_throttles`: failed sign-ins per account and per client address (HMAC keys).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

OLD_ROLES = ("staff", "dsl", "headteacher", "auditor", "admin")
ROLES = (*OLD_ROLES, "process_admin")
TOKEN_SCOPES = ("read", "write")


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Add the role, the school setting, token scope and expiry, and the three new tables."""
    with op.batch_alter_table("memberships") as batch:
        batch.drop_constraint("ck_memberships_role_known", type_="check")
        batch.create_check_constraint("ck_memberships_role_known", _in_list("role", ROLES))
    with op.batch_alter_table("schools") as batch:
        batch.add_column(
            sa.Column(
                "staff_second_factor", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    _upgrade_api_tokens()
    _create_break_glass_grants()
    _create_invitations()
    op.create_table(
        "sign_in_throttles",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", _when(), nullable=False),
        sa.Column("last_failure_at", _when(), nullable=False),
        sa.Column("notified_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_sign_in_throttles"),
    )


def _upgrade_api_tokens() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.String(10), nullable=False, server_default="write"))
        batch.add_column(sa.Column("expires_at", _when(), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.Integer(), nullable=True))
        batch.create_check_constraint("ck_api_tokens_scope_known", _in_list("scope", TOKEN_SCOPES))
        batch.create_foreign_key(
            "fk_api_tokens_revoked_by_users", "users", ["revoked_by"], ["id"], ondelete="SET NULL"
        )
    # Tokens issued before expiry existed get 90 days from now, rather than dying at once.
    soon: sa.ColumnElement[Any] = sa.func.now() + sa.text("interval '90 days'")
    if op.get_bind().dialect.name == "sqlite":
        soon = sa.literal_column("strftime('%Y-%m-%d %H:%M:%f', 'now', '+90 days')")
    api_tokens = sa.table("api_tokens", sa.column("expires_at", _when()))
    op.execute(api_tokens.update().values(expires_at=soon))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expires_at", existing_type=_when(), nullable=False)


def _create_break_glass_grants() -> None:
    op.create_table(
        "break_glass_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("session_generation", sa.Integer(), nullable=False),
        sa.Column("granted_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_break_glass_grants_user_id_users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_break_glass_grants_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_break_glass_grants"),
    )
    op.create_index(
        "ix_break_glass_grants_user_id_expires_at",
        "break_glass_grants",
        ["user_id", "expires_at"],
    )


def _create_invitations() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.Column("accepted_at", _when(), nullable=True),
        sa.Column("revoked_at", _when(), nullable=True),
        sa.CheckConstraint(_in_list("role", ROLES), name="ck_invitations_role_known"),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name="fk_invitations_school_id_schools",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["users.id"],
            name="fk_invitations_invited_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    )
    op.create_index("ix_invitations_email", "invitations", ["email"])


def downgrade() -> None:
    """Undo upgrade(); process admins' roles are removed (the older schema has no such role)."""
    op.drop_table("sign_in_throttles")
    op.drop_index("ix_invitations_email", "invitations")
    op.drop_table("invitations")
    op.drop_index("ix_break_glass_grants_user_id_expires_at", "break_glass_grants")
    op.drop_table("break_glass_grants")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint("fk_api_tokens_revoked_by_users", type_="foreignkey")
        batch.drop_constraint("ck_api_tokens_scope_known", type_="check")
        batch.drop_column("revoked_by")
        batch.drop_column("expires_at")
        batch.drop_column("scope")
    with op.batch_alter_table("schools") as batch:
        batch.drop_column("staff_second_factor")
    op.execute("DELETE FROM memberships WHERE role = 'process_admin'")
    with op.batch_alter_table("memberships") as batch:
        batch.drop_constraint("ck_memberships_role_known", type_="check")
        batch.create_check_constraint("ck_memberships_role_known", _in_list("role", OLD_ROLES))
