"""Deletion is final: an incident deleted under retention cannot be created again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Erasing a deleted incident's audit payloads (0013) requires the incident row to be gone;
without this revision the app could delete it, append its tombstone, erase, and insert the
same row again in one transaction: a live incident with an erased trail. Now a trigger on
`incidents` refuses an INSERT, or an UPDATE of `id`, to an id that has an 'incident.deleted'
audit event. `safeguard audit verify` reports any such incident that exists anyway.

Downgrade drops the triggers (and the PostgreSQL function).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

TOMBSTONE = "incident.deleted"
_MESSAGE = "was deleted under retention: a deleted incident cannot be created again"

# Built from this module's constants only: nothing outside reaches these statements.
_SQLITE_DELETED = (
    "EXISTS (SELECT 1 FROM audit_events a "  # noqa: S608
    f"WHERE a.incident_id = NEW.id AND a.action = '{TOMBSTONE}')"
)
_SQLITE_TRIGGERS = {
    "incidents_deletion_final_insert": f"""
CREATE TRIGGER incidents_deletion_final_insert BEFORE INSERT ON incidents
WHEN {_SQLITE_DELETED}
BEGIN SELECT RAISE(ABORT, 'incidents: this incident {_MESSAGE}'); END
""",
    "incidents_deletion_final_update": f"""
CREATE TRIGGER incidents_deletion_final_update BEFORE UPDATE OF id ON incidents
WHEN NEW.id IS NOT OLD.id AND {_SQLITE_DELETED}
BEGIN SELECT RAISE(ABORT, 'incidents: this incident {_MESSAGE}'); END
""",
}

_PG_FUNCTION = "incidents_refuse_deleted()"
# search_path is pinned: the function runs as whoever inserts, and a role that could put a
# temporary, empty audit_events first on its path would otherwise see no tombstone.
_PG_REFUSE = """
CREATE FUNCTION incidents_refuse_deleted() RETURNS trigger LANGUAGE plpgsql
SET search_path = {schema}, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM audit_events
                WHERE incident_id = NEW.id AND action = '{tombstone}') THEN
        RAISE EXCEPTION 'incidents: incident % {message}', NEW.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$
"""
_PG_TRIGGER = (
    "CREATE TRIGGER incidents_deletion_final BEFORE INSERT OR UPDATE OF id ON incidents "
    f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}"
)


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    """Refuse creating (or renaming to) the id of an incident deleted under retention."""
    if _postgresql():
        schema = op.get_bind().execute(sa.text("SELECT quote_ident(current_schema())")).scalar()
        op.execute(_PG_REFUSE.format(schema=schema, tombstone=TOMBSTONE, message=_MESSAGE))
        op.execute(_PG_TRIGGER)
        return
    for statement in _SQLITE_TRIGGERS.values():
        op.execute(statement)


def downgrade() -> None:
    """Drop the triggers (and the PostgreSQL function)."""
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS incidents_deletion_final ON incidents")
        op.execute(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}")
        return
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
