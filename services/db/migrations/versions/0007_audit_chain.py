"""Tamper evidence: hash-chained audit events (issue 10).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Adds each audit event's place in its school's chain (`chain_seq`), the hash of the row
before (`prev_hash`) and its own (`row_hash`); the chain heads; and the record of each
verification. Existing rows are chained in id order, school by school, so
`safeguard audit verify` passes right after the upgrade. The append-only guard is lifted
for that backfill only (this runs as the tables' owner) and put back; on SQLite it also
refuses an INSERT over an existing row from now on (INSERT OR REPLACE deletes the old row
without firing delete triggers).

The hashing is services.domain.audit_chain's, imported rather than frozen here: its format
is fixed for ever (rows hashed today must verify in ten years), so it means the same later.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from services.domain.audit_chain import GENESIS_HASH, chain_of, row_hash

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

BATCH = 1000
CHAIN_COLUMNS = ("chain_seq", "prev_hash", "row_hash")

_SQLITE_REFUSE = "SELECT RAISE(ABORT, 'audit_events is append-only: {what} refused')"
# INSERT OR REPLACE deletes the row it replaces without firing delete triggers (unless
# recursive_triggers is on, per connection): refuse any INSERT that would meet a row.
_SQLITE_NO_REPLACE = """
CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events
WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)
  OR (NEW.school_id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_events
      WHERE school_id = NEW.school_id AND chain_seq = NEW.chain_seq))
  OR (NEW.school_id IS NULL AND EXISTS (SELECT 1 FROM audit_events
      WHERE school_id IS NULL AND chain_seq = NEW.chain_seq))
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: INSERT over an existing row refused');
END
"""


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        sa.dialects.postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _big() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    """Create the heads and verifications tables; add, fill and guard the chain columns."""
    op.create_table(
        "audit_chain_heads",
        sa.Column("chain", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name="pk_audit_chain_heads"),
    )
    op.create_table(
        "audit_verifications",
        sa.Column("id", _big(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ran_by", sa.String(255), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("chains", sa.Integer(), nullable=False),
        sa.Column("rows_checked", sa.BigInteger(), nullable=False),
        sa.Column("broken_chains", sa.Integer(), nullable=False),
        sa.Column("broken_chain", sa.Integer(), nullable=True),
        sa.Column("broken_event_id", sa.BigInteger(), nullable=True),
        sa.Column("broken_seq", sa.BigInteger(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_verifications"),
    )
    op.add_column("audit_events", sa.Column("chain_seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("row_hash", sa.String(64), nullable=True))
    if _postgresql():
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        _chain_existing_rows()
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        for name in CHAIN_COLUMNS:
            op.alter_column("audit_events", name, nullable=False)
    else:
        _drop_sqlite_triggers("update", "delete")
        _chain_existing_rows()
        # SQLite sets NOT NULL by copying the table, which drops its triggers: made again.
        with op.batch_alter_table("audit_events", recreate="always") as batch:
            for name in CHAIN_COLUMNS:
                batch.alter_column(name, nullable=False)
        _create_sqlite_triggers(no_replace=True)
    for name, columns, where in (
        ("uq_audit_events_school_id_chain_seq", ["school_id", "chain_seq"], "IS NOT NULL"),
        ("uq_audit_events_global_chain_seq", ["chain_seq"], "IS NULL"),
    ):
        condition = sa.text(f"school_id {where}")
        op.create_index(
            name,
            "audit_events",
            columns,
            unique=True,
            sqlite_where=condition,
            postgresql_where=condition,
        )


def downgrade() -> None:
    """Drop the chain columns, heads and verifications (the append-only guard stays)."""
    op.drop_index("uq_audit_events_global_chain_seq", table_name="audit_events")
    op.drop_index("uq_audit_events_school_id_chain_seq", table_name="audit_events")
    if _postgresql():
        for name in CHAIN_COLUMNS:
            op.drop_column("audit_events", name)
    else:
        _drop_sqlite_triggers("update", "delete", "replace")
        with op.batch_alter_table("audit_events", recreate="always") as batch:
            for name in CHAIN_COLUMNS:
                batch.drop_column(name)
        _create_sqlite_triggers(no_replace=False)
    op.drop_table("audit_verifications")
    op.drop_table("audit_chain_heads")


def _drop_sqlite_triggers(*kinds: str) -> None:
    for kind in kinds:
        op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_{kind}")


def _create_sqlite_triggers(*, no_replace: bool) -> None:
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_events_no_{operation.lower()} BEFORE {operation} "
            f"ON audit_events BEGIN {_SQLITE_REFUSE.format(what=operation)}; END"
        )
    if no_replace:
        op.execute(_SQLITE_NO_REPLACE)


def _chain_existing_rows() -> None:
    # Rows as they stood (the columns of 0001), in id order, a page at a time; one head per
    # chain in memory (a few per school).
    events = sa.table(
        "audit_events",
        sa.column("id", sa.BigInteger()),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
        sa.column("actor_id", sa.Integer()),
        sa.column("school_id", sa.Integer()),
        sa.column("incident_id", sa.String()),
        sa.column("action", sa.String()),
        sa.column("target", sa.String()),
        sa.column("reason", sa.Text()),
        sa.column("old_values", _json()),
        sa.column("new_values", _json()),
        sa.column("chain_seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("row_hash", sa.String()),
    )
    connection = op.get_bind()
    heads: dict[int, tuple[int, str]] = {}
    after = None
    while True:
        query = sa.select(events).order_by(events.c.id).limit(BATCH)
        if after is not None:
            query = query.where(events.c.id > after)
        page = [dict(row._mapping) for row in connection.execute(query)]
        if not page:
            break
        updates = []
        for columns in page:
            chain = chain_of(columns["school_id"])
            last_seq, last_hash = heads.get(chain, (0, GENESIS_HASH))
            columns["chain_seq"], columns["prev_hash"] = last_seq + 1, last_hash
            columns["row_hash"] = row_hash(columns)
            heads[chain] = (columns["chain_seq"], columns["row_hash"])
            updates.append(
                {
                    "event_id": columns["id"],
                    "seq": columns["chain_seq"],
                    "prev": columns["prev_hash"],
                    "hash": columns["row_hash"],
                }
            )
        connection.execute(
            events.update()
            .where(events.c.id == sa.bindparam("event_id"))
            .values(
                chain_seq=sa.bindparam("seq"),
                prev_hash=sa.bindparam("prev"),
                row_hash=sa.bindparam("hash"),
            ),
            updates,
        )
        after = page[-1]["id"]
    if heads:
        op.bulk_insert(
            sa.table(
                "audit_chain_heads",
                sa.column("chain", sa.Integer()),
                sa.column("last_seq", sa.BigInteger()),
                sa.column("last_hash", sa.String()),
            ),
            [
                {"chain": chain, "last_seq": seq, "last_hash": last}
                for chain, (seq, last) in sorted(heads.items())
            ],
        )
