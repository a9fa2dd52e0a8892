"""Erasable audit payloads: chain format 2 and the narrow erasure path (issue 11).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

- `audit_events` gains `chain_format`, `payload_digest`, `payload_salt` and
  `payload_erased_by`. Rows from now on are hashed in format 2: the row hash covers a salted
  digest of the payload, not the payload (services.domain.audit_hashing).
- Existing rows keep their format-1 hashes (so every chain verifies as before, and heads
  written down elsewhere still match); they are marked format 1 and given a salt and digest.
- The append-only guard allows one UPDATE: erasing the payload of a deleted incident's row
  (payload and salt nulled, everything else unchanged), marked with an 'incident.deleted'
  tombstone later in the same chain, for the same incident, once the incident is gone.
- PostgreSQL: `audit_erase_incident_payloads(incident_id, tombstone_id)`, SECURITY DEFINER,
  is the app role's only way to that UPDATE (it has no UPDATE on audit_events);
  services.db.privileges grants it EXECUTE.

Downgrade: the guard and function go back to 0012's; rows hashed in format 2 (and erased
rows) are hashed again in format 1 and the chains relinked from the first of them, so the
older code's verification passes; then the columns are dropped.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from services.domain.audit_hashing import (
    ERASURE_COLUMNS,
    GENESIS_HASH,
    new_salt,
    payload_digest,
    row_hash,
)

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

BATCH = 1000
TOMBSTONE = "incident.deleted"
# The columns an erasure leaves as they were (the ones a format-2 hash covers).
_KEPT = (
    "id",
    "occurred_at",
    "actor_id",
    "school_id",
    "incident_id",
    "action",
    "target",
    "chain_seq",
    "prev_hash",
    "row_hash",
    "chain_format",
    "payload_digest",
)
_ERASED = ("reason", "old_values", "new_values", "payload_salt")

# Built from this module's constants only: nothing outside reaches these statements.
_SQLITE_ERASURE = f"""
OLD.payload_erased_by IS NULL AND NEW.payload_erased_by IS NOT NULL
AND OLD.incident_id IS NOT NULL AND OLD.payload_digest IS NOT NULL
AND {" AND ".join(f"NEW.{c} IS NULL" for c in _ERASED)}
AND {" AND ".join(f"NEW.{c} IS OLD.{c}" for c in _KEPT)}
AND EXISTS (SELECT 1 FROM audit_events t WHERE t.id = NEW.payload_erased_by
    AND t.id > OLD.id AND t.action = '{TOMBSTONE}' AND t.incident_id = OLD.incident_id
    AND t.school_id IS OLD.school_id AND t.payload_erased_by IS NULL)
AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = OLD.incident_id)
"""  # noqa: S608
_SQLITE_NO_UPDATE = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events WHEN NOT ({when}) "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END"
)

_PG_ERASURE = f"""
OLD.payload_erased_by IS NULL AND NEW.payload_erased_by IS NOT NULL
AND OLD.incident_id IS NOT NULL AND OLD.payload_digest IS NOT NULL
AND {" AND ".join(f"NEW.{c} IS NULL" for c in _ERASED)}
AND ({", ".join(f"NEW.{c}" for c in _KEPT)}) IS NOT DISTINCT FROM
    ({", ".join(f"OLD.{c}" for c in _KEPT)})
AND EXISTS (SELECT 1 FROM audit_events t WHERE t.id = NEW.payload_erased_by
    AND t.id > OLD.id AND t.action = '{TOMBSTONE}' AND t.incident_id = OLD.incident_id
    AND t.school_id IS NOT DISTINCT FROM OLD.school_id AND t.payload_erased_by IS NULL)
AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = OLD.incident_id)
"""  # noqa: S608
_PG_REFUSE_CHANGE = """
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {allow}
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""
_PG_ALLOW_ERASURE = f"""IF TG_OP = 'UPDATE' THEN
        IF {_PG_ERASURE} THEN
            RETURN NEW;
        END IF;
    END IF;"""
ERASE_FUNCTION = "audit_erase_incident_payloads(character varying, bigint)"
_PG_ERASE = """
CREATE FUNCTION audit_erase_incident_payloads(p_incident_id varchar, p_tombstone_id bigint)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    v_school integer;
    v_erased bigint;
BEGIN
    SELECT school_id INTO v_school FROM audit_events
     WHERE id = p_tombstone_id AND action = '{tombstone}' AND incident_id = p_incident_id
       AND payload_erased_by IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit erasure refused: event % is not the deletion of incident %',
            p_tombstone_id, p_incident_id USING ERRCODE = 'restrict_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM incidents WHERE id = p_incident_id) THEN
        RAISE EXCEPTION 'audit erasure refused: incident % still exists', p_incident_id
            USING ERRCODE = 'restrict_violation';
    END IF;
    UPDATE audit_events
       SET reason = NULL, old_values = NULL, new_values = NULL, payload_salt = NULL,
           payload_erased_by = p_tombstone_id
     WHERE incident_id = p_incident_id AND school_id IS NOT DISTINCT FROM v_school
       AND id < p_tombstone_id AND payload_erased_by IS NULL AND payload_digest IS NOT NULL;
    GET DIAGNOSTICS v_erased = ROW_COUNT;
    RETURN v_erased;
END
$$
"""


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        sa.dialects.postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _events() -> sa.TableClause:
    return sa.table(
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
        sa.column("chain_format", sa.SmallInteger()),
        sa.column("payload_digest", sa.String()),
        sa.column("payload_salt", sa.String()),
        sa.column("payload_erased_by", sa.BigInteger()),
    )


def upgrade() -> None:
    """Add the columns, digest existing rows, and allow only the erasure UPDATE."""
    op.add_column("audit_events", sa.Column("chain_format", sa.SmallInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("payload_digest", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("payload_salt", sa.String(32), nullable=True))
    op.add_column("audit_events", sa.Column("payload_erased_by", sa.BigInteger(), nullable=True))
    if _postgresql():
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        _digest_existing_rows()
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        op.execute(_PG_REFUSE_CHANGE.format(allow=_PG_ALLOW_ERASURE))
        schema = op.get_bind().execute(sa.text("SELECT quote_ident(current_schema())")).scalar()
        op.execute(_PG_ERASE.format(schema=schema, tombstone=TOMBSTONE))
        op.execute(f"REVOKE ALL ON FUNCTION {ERASE_FUNCTION} FROM PUBLIC")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        _digest_existing_rows()
        op.execute(_SQLITE_NO_UPDATE.format(when=_SQLITE_ERASURE))


def downgrade() -> None:
    """Put 0012's guard back, rehash format-2 and erased rows in format 1, drop the columns."""
    if _postgresql():
        op.execute(f"DROP FUNCTION IF EXISTS {ERASE_FUNCTION}")
        op.execute(_PG_REFUSE_CHANGE.format(allow=""))
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        _rehash_in_format_1()
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        _rehash_in_format_1()
        op.execute(_SQLITE_NO_UPDATE.format(when="0"))
    for name in reversed(ERASURE_COLUMNS):
        # SQLite (3.35+) drops a column in place: the table and its triggers stay.
        op.execute(f"ALTER TABLE audit_events DROP COLUMN {name}")


def _pages(connection: sa.Connection, events: sa.TableClause) -> Any:
    # Rows in id order, a page at a time.
    after = None
    while True:
        query = sa.select(events).order_by(events.c.id).limit(BATCH)
        if after is not None:
            query = query.where(events.c.id > after)
        page = [dict(row._mapping) for row in connection.execute(query)]
        if not page:
            return
        yield page
        after = page[-1]["id"]


def _digest_existing_rows() -> None:
    # Their hashes stay format 1 (covering the payload); the digest lets a later erasure
    # leave a commitment to what was erased.
    connection, events = op.get_bind(), _events()
    for page in _pages(connection, events):
        updates = []
        for columns in page:
            salt = new_salt()
            updates.append(
                {"event_id": columns["id"], "salt": salt, "digest": payload_digest(columns, salt)}
            )
        connection.execute(
            events.update()
            .where(events.c.id == sa.bindparam("event_id"))
            .values(
                chain_format=1,
                payload_salt=sa.bindparam("salt"),
                payload_digest=sa.bindparam("digest"),
            ),
            updates,
        )


def _rehash_in_format_1() -> None:
    # Each chain from its first format-2 or erased row on: hashed as 0012 hashes, relinked.
    connection, events = op.get_bind(), _events()
    heads: dict[int, tuple[int, str]] = {}
    rewriting: set[int] = set()
    for page in _pages(connection, events):
        updates = []
        for columns in sorted(page, key=lambda c: (c["school_id"] or 0, c["chain_seq"])):
            chain = columns["school_id"] or 0
            if columns["chain_format"] == 2 or columns["payload_erased_by"] is not None:
                rewriting.add(chain)
            if chain not in rewriting:
                heads[chain] = (columns["chain_seq"], columns["row_hash"])
                continue
            old = {k: v for k, v in columns.items() if k not in ERASURE_COLUMNS}
            old["prev_hash"] = heads.get(chain, (0, GENESIS_HASH))[1]
            old["row_hash"] = row_hash(old)
            heads[chain] = (columns["chain_seq"], old["row_hash"])
            updates.append(
                {"event_id": old["id"], "prev": old["prev_hash"], "hash": old["row_hash"]}
            )
        if updates:
            connection.execute(
                events.update()
                .where(events.c.id == sa.bindparam("event_id"))
                .values(prev_hash=sa.bindparam("prev"), row_hash=sa.bindparam("hash")),
                updates,
            )
    chain_heads = sa.table(
        "audit_chain_heads",
        sa.column("chain", sa.Integer()),
        sa.column("last_seq", sa.BigInteger()),
        sa.column("last_hash", sa.String()),
    )
    for chain in sorted(rewriting):
        seq, last = heads[chain]
        connection.execute(
            chain_heads.update()
            .where(chain_heads.c.chain == chain)
            .values(last_seq=seq, last_hash=last)
        )
