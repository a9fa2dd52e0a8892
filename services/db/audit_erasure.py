"""Erase a deleted incident's audit payloads, in the transaction that deletes it.

The one UPDATE the append-only guard allows (migration 0013): a row of the incident, before
its 'incident.deleted' tombstone in the same chain, loses its payload and salt and is marked
with the tombstone's id, once the incident row is gone. On PostgreSQL the app's role has no
UPDATE on audit_events: it calls `audit_erase_incident_payloads`, a SECURITY DEFINER function
that can do only that. On SQLite (one process, no roles) the guard's trigger checks the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, select, text, update
from sqlalchemy.orm import Session

from services.db.models import AuditEvent

_EVENTS = cast(Table, AuditEvent.__table__)


def _erasable(incident_id: str, school_id: int | None, before_id: int | None = None) -> Any:
    # The same rows the PostgreSQL function erases.
    c = _EVENTS.c
    where = [
        c.incident_id == incident_id,
        c.school_id.is_(None) if school_id is None else c.school_id == school_id,
        c.payload_erased_by.is_(None),
        c.payload_digest.is_not(None),
    ]
    if before_id is not None:
        where.append(c.id < before_id)
    return where


def erasable_rows(
    session: Session, incident_id: str, school_id: int | None
) -> list[Mapping[str, Any]]:
    """Every column of the incident's not yet erased audit rows in its school's chain, by id."""
    query = select(_EVENTS).where(*_erasable(incident_id, school_id)).order_by(_EVENTS.c.id)
    return [dict(row._mapping) for row in session.execute(query)]


def erase_incident_payloads(
    session: Session, incident_id: str, school_id: int | None, tombstone_id: int
) -> int:
    """Erase the payloads of the incident's rows before its (flushed) tombstone; the count."""
    if session.get_bind().dialect.name == "postgresql":
        erased = session.execute(
            text("SELECT audit_erase_incident_payloads(:incident, :tombstone)"),
            {"incident": incident_id, "tombstone": tombstone_id},
        ).scalar_one()
        return int(erased)
    result = session.execute(
        update(_EVENTS)
        .where(*_erasable(incident_id, school_id, before_id=tombstone_id))
        .values(
            reason=None,
            old_values=None,
            new_values=None,
            payload_salt=None,
            payload_erased_by=tombstone_id,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
