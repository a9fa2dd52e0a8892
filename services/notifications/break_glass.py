"""Break-glass alerts: a school's DSLs learn that someone opened an incident outside need-to-know.

BreakGlassUsed (`school.<id>.incident.break_glass`) is written each time a member of staff
opens a page of an incident, or downloads its record, with a break-glass reason. The alert
names who, when and links to the incident; it never carries the reason, which is free text
that may quote a child (the DSL reads it in the incident's history, behind sign-in). Every
page of a break-glass visit writes an event: a DSL is alerted once per person and incident
within ALERT_QUIET, not on every page (the audit trail keeps each access).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import OutboxMessage
from services.messaging.ports import Delivery, MessageInvalid
from services.notifications.messages import (
    BREAK_GLASS,
    break_glass_text,
    incident_path,
    incident_url,
)
from services.notifications.payload import number_field, text_field
from services.notifications.recipients import Recipient, dsls_of_incident
from services.notifications.telling import Notice

logger = logging.getLogger(__name__)

BREAK_GLASS_PATTERN = "school.*.incident.break_glass"
ALERT_QUIET = timedelta(hours=24)


@dataclass(frozen=True)
class BreakGlassUse:
    """What a BreakGlassUsed event says: who opened which incident of which school."""

    school_id: int
    incident_id: str
    user_id: int


def read_break_glass(message: Delivery) -> BreakGlassUse:
    """The access a BreakGlassUsed event reports; MessageInvalid if its payload lacks it."""
    return BreakGlassUse(
        school_id=number_field(message, "school_id"),
        incident_id=text_field(message, "incident_id"),
        user_id=number_field(message, "user_id"),
    )


def break_glass_alert(
    uow: SqlAlchemyUnitOfWork, message: Delivery, *, base_url: str, now: datetime
) -> tuple[Notice, list[Recipient]] | None:
    """The alert for a break-glass access and the DSLs to tell; None if nobody is to be told."""
    use = read_break_glass(message)
    incident = uow.incidents.get(use.incident_id)
    if incident is None:
        logger.info("notifier: incident %s is gone: break-glass not alerted", use.incident_id)
        return None
    school = uow.schools.get(use.school_id)
    if school is None or incident.school_id != school.id:
        # Never trust the routing key's school over the incident's own: tell nobody.
        raise MessageInvalid(
            f"{message.event_type} {message.message_id}: incident {use.incident_id} is not an "
            f"incident of school {use.school_id}"
        )
    person = uow.users.get(use.user_id)
    actor_id = person.id if person is not None else None
    people = [
        dsl
        for dsl in dsls_of_incident(uow, school.id, incident.id)
        if dsl.user_id != use.user_id and not _told_lately(uow, dsl, incident.id, actor_id, now)
    ]
    when = _written_at(uow, message.message_id) or now
    url = incident_url(base_url, incident.id)
    name = person.display_name if person is not None else ""
    notice = Notice(
        kind=BREAK_GLASS,
        school_id=school.id,
        text=break_glass_text(school.name, name, when, url),
        link=incident_path(incident.id),
        incident_id=incident.id,
        actor_id=actor_id,
    )
    return notice, people


def _told_lately(
    uow: SqlAlchemyUnitOfWork,
    dsl: Recipient,
    incident_id: str,
    actor_id: int | None,
    now: datetime,
) -> bool:
    if actor_id is None:
        return False
    return uow.notifications.told_since(
        dsl.user_id, BREAK_GLASS, incident_id, actor_id, now - ALERT_QUIET
    )


def _written_at(uow: SqlAlchemyUnitOfWork, message_id: str) -> datetime | None:
    # The event's outbox row says when the access happened (the notifier may run later).
    query = select(OutboxMessage.created_at).where(OutboxMessage.message_id == message_id)
    return uow.session.scalar(query)
