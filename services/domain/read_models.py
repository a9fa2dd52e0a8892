"""What queries return: plain dataclasses the web renders, with nothing left to load."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.domain.access import Via
from workflow.model import CompletedStep, TaskView


@dataclass(frozen=True)
class ReadyTask:
    """A task waiting in an incident, with its form and who may act on it."""

    task: TaskView  # id, bpmn id, name, lane, candidate groups, guidance and form spec
    assignee_id: int | None
    due_at: datetime | None
    overdue: bool
    can_complete: bool  # for the person viewing


@dataclass(frozen=True)
class AuditEntry:
    """One line of an incident's audit trail."""

    id: int
    occurred_at: datetime
    actor_id: int | None
    action: str
    target: str
    reason: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None


@dataclass(frozen=True)
class ExternalTaskLine:
    """Work a worker does for the incident (the record PDF, say): waiting, failed or done."""

    id: str
    bpmn_id: str
    name: str
    topic: str
    role: str  # who may retry it
    state: str  # "waiting", "completed", "failed" or "cancelled"
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class DocumentSummary:
    """A document the system rendered for the incident, without its bytes."""

    id: str
    kind: str  # "record_pdf"
    filename: str
    sha256: str
    size: int
    created_at: datetime


@dataclass(frozen=True)
class DocumentFile:
    """A document's bytes, for a download."""

    id: str
    incident_id: str
    filename: str
    content: bytes
    media_type: str = "application/pdf"


@dataclass(frozen=True)
class IncidentView:
    """An incident as one person may see it, with one page of its audit trail."""

    id: str
    reference: str
    status: str
    school_id: int
    school_name: str
    process_name: str
    created_at: datetime
    created_by: int | None
    closed_at: datetime | None
    version: int  # pass back as expected_incident_version when completing a task
    ready_tasks: tuple[ReadyTask, ...]
    completed_steps: tuple[CompletedStep, ...]
    audit: tuple[AuditEntry, ...]
    audit_next_after_id: int | None  # pass as audit_after_id for the next page; None: no more
    access_via: Via
    external_tasks: tuple[ExternalTaskLine, ...] = ()
    documents: tuple[DocumentSummary, ...] = ()
    # Need-to-know (services/domain/step_access.py): completed_steps, ready_tasks and audit are
    # already cut to what this person may read. reads_record: they may see the whole-record
    # parts (history, route, documents, children); reads_every_step: the PDF and exports too.
    reads_record: bool = False
    reads_every_step: bool = False
    # The derived facts (step_access.FACT_SOURCES: route, criteria, classification) they read.
    readable_facts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class InboxItem:
    """A ready task in someone's inbox: enough to list and link it, no case details."""

    task_id: str
    incident_id: str
    reference: str
    bpmn_id: str
    name: str
    role: str
    assignee_id: int | None
    due_at: datetime | None
    overdue: bool
    created_at: datetime
