"""The imagery guard's marked columns on a real flush, SQLite and PostgreSQL.

Columns only code writes (services.db.column_types.computed_text) pass values of their computed
shape without decoding them; anything else in them is refused like in any other column.
"""

from __future__ import annotations

import base64
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.db.imagery_guard import SHAPES, ImageryRefused
from services.db.models import AuditEvent, OutboxMessage
from services.db.unit_of_work import SqlAlchemyUnitOfWork
from tests.unit.imagery_corpus import data_uri, png_by_hand

PICTURE = data_uri(png_by_hand(), "image/png")


def count(session_factory: sessionmaker[Session], model: type, **where: str) -> int:
    """How many rows of the model match."""
    with session_factory() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int(session.scalar(query) or 0)


def test_a_chained_event_is_written_with_its_computed_columns(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session]
) -> None:
    incident_id = str(uuid.uuid4())
    with uow:
        uow.audit.add(
            "incident.updated",
            f"incident:{incident_id}",
            actor_id=None,
            incident_id=incident_id,
            reason="Words only.",
        )
        uow.outbox.add("incident.updated", "IncidentUpdated", {"incident_id": incident_id})
        uow.commit()
    with session_factory() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.incident_id == incident_id)
        ).one()
        for value in (event.prev_hash, event.row_hash, event.payload_digest, event.payload_salt):
            assert value is not None and SHAPES["hex"].fullmatch(value)


@pytest.mark.parametrize("payload", [PICTURE, "<svg>", base64.b64encode(png_by_hand()).decode()])
def test_a_marked_column_refuses_imagery_that_is_not_its_shape(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session], payload: str
) -> None:
    with uow, pytest.raises(ImageryRefused) as refused:
        uow.audit.add("incident.updated", "incident:x", actor_id=None, incident_id=payload)
        uow.commit()
    assert list(refused.value.errors) == ["incident_id"]
    assert count(session_factory, AuditEvent, incident_id=payload) == 0


def test_an_outbox_message_id_that_is_not_a_uuid_is_checked(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session]
) -> None:
    with uow, pytest.raises(ImageryRefused) as refused:
        uow.outbox.add("incident.updated", "IncidentUpdated", {}, message_id="<svg>")
        uow.commit()
    assert list(refused.value.errors) == ["message_id"]
    assert count(session_factory, OutboxMessage, message_id="<svg>") == 0


def test_a_checked_column_beside_them_still_refuses(
    uow: SqlAlchemyUnitOfWork, session_factory: sessionmaker[Session]
) -> None:
    incident_id = str(uuid.uuid4())
    with uow, pytest.raises(ImageryRefused) as refused:
        uow.audit.add(
            "incident.updated", "incident:x", actor_id=None, incident_id=incident_id, reason=PICTURE
        )
        uow.commit()
    assert list(refused.value.errors) == ["reason"]
    assert count(session_factory, AuditEvent, incident_id=incident_id) == 0
