"""Plain dataclasses the engine core returns: no SpiffWorkflow object ever leaves workflow/."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# "document" is a file attachment (never imagery: refused by content sniffing in forms/).
FieldType = Literal["string", "long", "boolean", "enum", "date", "document"]


@dataclass(frozen=True)
class EnumOption:
    """One choice of an enum field: the stored id and the label shown."""

    id: str
    label: str


@dataclass(frozen=True)
class FieldSpec:
    """One form field declared in a user task's camunda:formData."""

    id: str
    type: FieldType
    label: str
    help: str = ""
    required: bool = False
    min: int | None = None
    max: int | None = None
    minlength: int | None = None
    maxlength: int | None = None
    options: tuple[EnumOption, ...] = ()
    default: str | None = None
    multiline: bool = False
    widget: Literal["radios", "select", ""] = ""
    # "<other field id>:<value>": this field is required when the other field holds that value,
    # e.g. parents_not_informed_reason is required when inform_parents is false.
    required_if: tuple[str, str] | None = None
    # True when this field records a decision whose reason another field carries.
    is_decision: bool = False


@dataclass(frozen=True)
class FormSpec:
    """The form of one user task, in declaration order."""

    key: str
    fields: tuple[FieldSpec, ...] = ()
    # Who reads the answers (the task's 'readers' property; None: the default readers) and the
    # earlier tasks whose answers its doer may read (its 'needs'): see workflow/step_readers.py.
    readers: tuple[str, ...] | None = None
    needs: tuple[str, ...] = ()

    def field(self, field_id: str) -> FieldSpec | None:
        """Return the field with this id, if the form has one."""
        return next((f for f in self.fields if f.id == field_id), None)


@dataclass(frozen=True)
class TaskView:
    """A task that is ready for a person, as the layers above see it."""

    id: str  # the engine's task instance id (a UUID string)
    bpmn_id: str  # the user task's element id, e.g. "initial_review"
    name: str
    lane: str  # the lane id, which is the role that owns the task ("staff", "dsl", "headteacher")
    candidate_groups: tuple[str, ...]
    assignee: str | None
    due: str | None  # the raw camunda:dueDate expression, evaluated by the scheduler layer
    documentation: str
    form: FormSpec
    due_calendar: str | None = None  # the calendar the due date counts on ("school-days")


@dataclass(frozen=True)
class CompletedStep:
    """A task that has been completed, in the order it happened."""

    id: str
    bpmn_id: str
    name: str
    lane: str
    data: dict[str, Any] = field(default_factory=dict)
    completed_at: datetime | None = None  # the `now` of the command that completed it (UTC)
    actor: str | None = None  # who completed a user task, as the caller named them
    form: FormSpec | None = None  # the form a user task's answers came from (labels, options)
    sequence: int | None = None  # its place in the instance's completion order (1, 2, ...)


@dataclass(frozen=True)
class PendingTimer:
    """A timer the instance waits on, with the moment it falls due (UTC)."""

    task_id: str
    bpmn_id: str
    name: str
    due_at: datetime


@dataclass(frozen=True)
class ExternalTaskView:
    """A service task waiting for a worker (Camunda's external task): published to its topic."""

    id: str  # the engine's task instance id (a UUID string)
    bpmn_id: str  # the service task's element id, e.g. "render_record_pdf"
    name: str
    topic: str  # camunda:topic: which kind of worker does it, e.g. "render_record_pdf"
    lane: str  # the lane id holding the task ("" when the process has no lanes)


@dataclass(frozen=True)
class MessageView:
    """A message the process takes (a message start event of an event subprocess) and its form."""

    name: str  # the bpmn:message name, e.g. "new_concern"
    bpmn_id: str  # the message start event's id
    name_of_event: str  # the start event's name, as people read it
    subprocess_id: str  # the event subprocess it opens
    subprocess_name: str
    lane: str  # the lane holding the event subprocess ("" when none)
    interrupting: bool  # True: the rest of the process stops when it arrives
    form: FormSpec


@dataclass(frozen=True)
class CancelledTask:
    """A task a command stopped (a message interrupted it): what it was and where."""

    id: str  # the engine's task instance id
    bpmn_id: str
    name: str
    lane: str


@dataclass(frozen=True)
class InstanceStatus:
    """What an instance looks like after a command: its serialized state and what is next."""

    state: str  # the serialized per-instance state (JSON), without the spec
    ready: tuple[TaskView, ...]
    timers: tuple[PendingTimer, ...]
    ended: bool
    data: dict[str, Any]
    completed_now: tuple[str, ...] = ()  # bpmn ids of tasks completed by this command, in order
    external: tuple[ExternalTaskView, ...] = ()  # service tasks waiting for a worker
    cancelled_now: tuple[CancelledTask, ...] = ()  # tasks this command stopped, in order
    message_task_id: str | None = None  # a delivered message's start event (its history entry)
    # The state without the finished work it no longer needs (None: nothing could go). Store
    # it only together with `released_steps`, the completed steps it no longer holds; `state`
    # keeps everything, for callers that keep no history of their own.
    pruned_state: str | None = None
    released_steps: tuple[CompletedStep, ...] = ()  # completed steps pruned_state dropped

    @property
    def state_to_store(self) -> str:
        """The smallest state that, with `released_steps` stored, loses nothing."""
        return self.pruned_state if self.pruned_state is not None else self.state


@dataclass(frozen=True)
class SourceFile:
    """One uploaded BPMN or DMN file: its name (for messages) and its raw bytes."""

    name: str
    content: bytes
