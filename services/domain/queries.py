"""Queries: requests to read; reads of a record are audited in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

from services.domain.messages import Message
from services.domain.read_models import DocumentFile, InboxItem, IncidentView
from workflow.model import MessageView

AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class ViewIncident(Message[IncidentView]):
    """Open an incident (logged); break_glass_reason opens one outside the need to know."""

    incident_id: str
    actor_id: int
    break_glass_reason: str | None = None
    audit_after_id: int | None = None
    audit_limit: int = AUDIT_PAGE_SIZE


@dataclass(frozen=True)
class Inbox(Message[list[InboxItem]]):
    """One page of the ready tasks a person can act on in a school, most overdue first."""

    user_id: int
    school_id: int
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class DownloadDocument(Message[DocumentFile]):
    """Fetch a rendered document of an incident: as viewing the incident, and logged."""

    document_id: str
    actor_id: int
    break_glass_reason: str | None = None
    incident_id: str | None = None  # when given, the document must belong to this incident


@dataclass(frozen=True)
class MessageForm(Message[MessageView]):
    """The form of a message an incident's process takes (e.g. "new_concern"), to raise it."""

    incident_id: str
    name: str
    actor_id: int
