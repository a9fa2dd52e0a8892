"""Commands: imperative requests to change something, one handler each (see handlers/)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.domain.messages import Message
from services.domain.results import Deployed, Outcome
from workflow.model import SourceFile

DEFAULT_PROCESS_ID = "sharing_nudes_response"
DISCLOSURE_TASK = "record_disclosure"


@dataclass(frozen=True)
class StartIncident(Message[Outcome]):
    """Report a concern: open an incident and complete its disclosure form with `data`."""

    school_id: int
    actor_id: int
    data: Mapping[str, Any]
    process_id: str = DEFAULT_PROCESS_ID


@dataclass(frozen=True)
class CompleteTask(Message[Outcome]):
    """Submit a task's form; with expected_incident_version, refuse if the incident moved on."""

    task_id: str
    actor_id: int
    data: Mapping[str, Any]
    expected_incident_version: int | None = None


@dataclass(frozen=True)
class ClaimTask(Message[Outcome]):
    """Take a ready task for oneself, so others in the role see it is being handled."""

    task_id: str
    actor_id: int


@dataclass(frozen=True)
class UnclaimTask(Message[Outcome]):
    """Hand a task one claimed back to its role."""

    task_id: str
    actor_id: int


@dataclass(frozen=True)
class AssignTask(Message[Outcome]):
    """Give a task to someone else (assignee None: back to its role), e.g. to cover an absence."""

    task_id: str
    actor_id: int
    assignee_id: int | None
    reason: str


@dataclass(frozen=True)
class ExcludePerson(Message[Outcome]):
    """Keep a named person out of an incident (for example a staff member it is about)."""

    incident_id: str
    actor_id: int
    user_id: int
    reason: str


@dataclass(frozen=True)
class DeployDefinitions(Message[Deployed]):
    """Check and deploy a bundle of BPMN/DMN files as a new version of their process.

    actor_id None means the operator at the command line (`safeguard init`), who is not
    checked; the web layer always passes the signed-in user.
    """

    files: list[SourceFile]
    actor_id: int | None


@dataclass(frozen=True)
class CompleteExternalTask(Message[Outcome]):
    """A worker finished an external task: merge `result` (JSON values) into the process data."""

    task_id: str
    worker: str  # names the worker process in the audit trail, e.g. "render_record_pdf@host"
    result: Mapping[str, Any]


@dataclass(frozen=True)
class FailExternalTask(Message[Outcome]):
    """A worker gave up on an external task after `attempts` tries: show the failure."""

    task_id: str
    worker: str
    error: str
    attempts: int


@dataclass(frozen=True)
class RetryExternalTask(Message[Outcome]):
    """Someone holding the task's role asks for a failed external task to be done again."""

    task_id: str
    actor_id: int
    incident_id: str | None = None  # when given, the task must belong to this incident


@dataclass(frozen=True)
class FireDueTimers(Message[Outcome]):
    """Fire the incident's timers that are due at `now` (sent by the scheduler)."""

    incident_id: str
    now: datetime


@dataclass(frozen=True)
class DeliverMessage(Message[Outcome]):
    """Raise a message the incident's process takes (e.g. "new_concern") with its form's values."""

    incident_id: str
    name: str
    actor_id: int
    values: Mapping[str, Any]
    expected_incident_version: int | None = None
