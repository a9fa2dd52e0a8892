"""Events: what happened, in the past tense; each becomes one outbox row in its command's commit.

An event's fields are its payload, so they are ids, roles, task types and times only, never a
child's name or a form answer (notifications say "a task awaits you" and link to it).
Routing keys address a topic exchange by school and, where it matters, role or person.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Event:
    """Base class of events: a routing key and a payload made of the dataclass's fields."""

    def routing_key(self) -> str:
        """The topic the event is published under."""
        raise NotImplementedError

    @property
    def event_type(self) -> str:
        """The event's name, e.g. "TaskReady"."""
        return type(self).__name__

    def payload(self) -> dict[str, Any]:
        """The message body: the event's fields as JSON values (times as ISO 8601 UTC)."""
        if not dataclasses.is_dataclass(self):
            raise TypeError(f"{self.event_type} must be a dataclass")
        return {f.name: _json(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True)
class IncidentStarted(Event):
    """A concern was reported and its incident opened."""

    school_id: int
    incident_id: str
    process_id: str

    def routing_key(self) -> str:
        """school.<id>.incident.started"""
        return f"school.{self.school_id}.incident.started"


@dataclass(frozen=True)
class TaskReady(Event):
    """A task awaits someone holding `role` (or one of the candidate groups) in the school."""

    school_id: int
    role: str
    task_id: str
    incident_id: str
    bpmn_id: str
    candidate_groups: tuple[str, ...] = ()
    due_at: datetime | None = None

    def routing_key(self) -> str:
        """school.<id>.role.<role>.task.ready"""
        return f"school.{self.school_id}.role.{self.role}.task.ready"


@dataclass(frozen=True)
class TaskCompleted(Event):
    """A person completed a task."""

    school_id: int
    role: str
    task_id: str
    incident_id: str
    bpmn_id: str
    completed_by: int | None

    def routing_key(self) -> str:
        """school.<id>.role.<role>.task.completed"""
        return f"school.{self.school_id}.role.{self.role}.task.completed"


@dataclass(frozen=True)
class TaskCancelled(Event):
    """A ready task went away without being completed (a boundary event or timer moved on)."""

    school_id: int
    role: str
    task_id: str
    incident_id: str
    bpmn_id: str

    def routing_key(self) -> str:
        """school.<id>.role.<role>.task.cancelled"""
        return f"school.{self.school_id}.role.{self.role}.task.cancelled"


@dataclass(frozen=True)
class TaskAssigned(Event):
    """A task was claimed by or given to a person, or handed back to its role (assignee None)."""

    school_id: int
    role: str
    task_id: str
    incident_id: str
    bpmn_id: str
    assignee_id: int | None

    def routing_key(self) -> str:
        """school.<id>.user.<id>.task.assigned, or school.<id>.role.<role>.task.released."""
        if self.assignee_id is None:
            return f"school.{self.school_id}.role.{self.role}.task.released"
        return f"school.{self.school_id}.user.{self.assignee_id}.task.assigned"


@dataclass(frozen=True)
class IncidentClosed(Event):
    """The incident's process ended."""

    school_id: int
    incident_id: str

    def routing_key(self) -> str:
        """school.<id>.incident.closed"""
        return f"school.{self.school_id}.incident.closed"


@dataclass(frozen=True)
class ExternalTaskReady(Event):
    """A service task awaits a worker of `topic` (the worker reads what it needs by the ids)."""

    school_id: int
    incident_id: str
    task_id: str
    topic: str

    def routing_key(self) -> str:
        """school.<id>.external.<topic>"""
        return f"school.{self.school_id}.external.{self.topic}"


@dataclass(frozen=True)
class TimerScheduled(Event):
    """The incident's earliest timer now falls due at `due_at` (the scheduler fires it)."""

    incident_id: str
    due_at: datetime
    school_id: int

    def routing_key(self) -> str:
        """school.<id>.incident.timer.scheduled"""
        return f"school.{self.school_id}.incident.timer.scheduled"


@dataclass(frozen=True)
class PersonExcluded(Event):
    """A named person was excluded from an incident."""

    school_id: int
    incident_id: str
    user_id: int

    def routing_key(self) -> str:
        """school.<id>.incident.person.excluded"""
        return f"school.{self.school_id}.incident.person.excluded"


@dataclass(frozen=True)
class BreakGlassUsed(Event):
    """Someone outside the need to know opened an incident, giving a reason (to alert the DSL)."""

    school_id: int
    incident_id: str
    user_id: int

    def routing_key(self) -> str:
        """school.<id>.incident.break_glass"""
        return f"school.{self.school_id}.incident.break_glass"


@dataclass(frozen=True)
class DefinitionDeployed(Event):
    """A new version of a process definition was deployed."""

    process_id: str
    version: int
    digest: str

    def routing_key(self) -> str:
        """definition.deployed"""
        return "definition.deployed"


@dataclass(frozen=True)
class MessageReceived(Event):
    """Someone raised a message on an incident (a new concern, say): the DSLs are told at once.

    The payload names the message and who raised it, never the form's answers.
    """

    school_id: int
    incident_id: str
    message: str
    user_id: int

    def routing_key(self) -> str:
        """school.<id>.incident.message"""
        return f"school.{self.school_id}.incident.message"
