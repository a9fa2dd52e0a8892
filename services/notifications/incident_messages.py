"""Alerts for messages raised on an incident (a new concern, say): the school's DSLs, at once.

MessageReceived (`school.<id>.incident.message`) is written when someone raises a message on
an incident. The alert says that a new concern (or the message's name in words) was raised at
the school, with a link to the incident: never what the concern is, who it is about, or any
answer of the form (an email can be forwarded or read over a shoulder).
"""

from __future__ import annotations

import logging

from services.db import SqlAlchemyUnitOfWork
from services.messaging.ports import Delivery, MessageInvalid
from services.notifications.messages import NoticeText, incident_path, incident_url
from services.notifications.payload import number_field, text_field
from services.notifications.recipients import Recipient, dsls_of_incident
from services.notifications.telling import Notice

logger = logging.getLogger(__name__)

MESSAGE_PATTERN = "school.*.incident.message"
MESSAGE_RAISED = "incident.message"
_FOOTER = (
    "This message holds no details of the incident on purpose: they stay in Safeguard Flow, "
    "behind sign-in. Please do not forward it."
)


def message_alert(
    uow: SqlAlchemyUnitOfWork, message: Delivery, *, base_url: str
) -> tuple[Notice, list[Recipient]] | None:
    """The alert for a message raised on an incident and the DSLs to tell (not the raiser)."""
    school_id = number_field(message, "school_id")
    incident_id = text_field(message, "incident_id")
    name = text_field(message, "message")
    user_id = number_field(message, "user_id")
    incident = uow.incidents.get(incident_id)
    if incident is None:
        logger.info("notifier: incident %s is gone: message not alerted", incident_id)
        return None
    school = uow.schools.get(school_id)
    if school is None or incident.school_id != school.id:
        # Never trust the routing key's school over the incident's own: tell nobody.
        raise MessageInvalid(
            f"{message.event_type} {message.message_id}: incident {incident_id} is not an "
            f"incident of school {school_id}"
        )
    people = [
        dsl for dsl in dsls_of_incident(uow, school.id, incident.id) if dsl.user_id != user_id
    ]
    notice = Notice(
        kind=MESSAGE_RAISED,
        school_id=school.id,
        text=message_text(school.name, name, incident_url(base_url, incident.id)),
        link=incident_path(incident.id),
        incident_id=incident.id,
        actor_id=user_id,
    )
    return notice, people


def message_text(school_name: str, name: str, url: str) -> NoticeText:
    """The words telling a DSL that a message (a new concern) was raised on an incident."""
    what = "A new concern" if name == "new_concern" else f"A message ({name.replace('_', ' ')})"
    school = " ".join(school_name.split())[:150]
    in_app = f"{what} was raised on an incident at {school}: it may need immediate referral."
    subject = f"Safeguard Flow: {what.lower()} was raised ({school})"
    lead = "Look at it now in Safeguard Flow (you will be asked to sign in):"
    body = "\n".join([in_app, "", lead, url, "", _FOOTER, ""])
    return NoticeText(subject=subject, body=body, in_app=in_app)
