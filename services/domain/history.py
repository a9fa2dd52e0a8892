"""An incident's history as people read it: the activity timeline and the access log.

Pure functions over the audit trail's entries (no database): each event credited to who did it
(a person, the system, or the timer for steps a timer set off), repeated views by one person
folded into one line with a count, and decisions shown with their reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from services.domain.read_models import AuditEntry

Credit = Literal["person", "system", "timer"]
Kind = Literal[
    "state",
    "decision",
    "assignment",
    "timer",
    "escalation",
    "break_glass",
    "document",
    "migration",
    "system",
    "correction",
    "access",
    "export",
]
KINDS: dict[str, str] = {
    "state": "Steps and status",
    "decision": "Decisions",
    "assignment": "Assignments and exclusions",
    "timer": "Timers",
    "escalation": "Escalations",
    "break_glass": "Break-glass",
    "document": "Documents",
    "migration": "Process version changes",
    "system": "Work done by the system",
    "correction": "Corrections",
    "export": "Exports",
}
VIEW_WINDOW = timedelta(minutes=10)  # views by one person closer than this are one line
# Written in the transaction of whoever (or whatever) moved the instance, but done by the engine.
AUTOMATIC = frozenset(
    {
        "task.ready",
        "task.cancelled",
        "external_task.ready",
        "external_task.cancelled",
        "incident.closed",
        "incident.timers_fired",
    }
)
ACTIONS = {
    "incident.started": "Reported the concern",
    "incident.closed": "The incident was closed",
    "incident.person_excluded": "Excluded someone from the case",
    "incident.timers_fired": "A timer fell due",
    "incident.external_task_failed": "The system could not do this, after several tries",
    "incident.migrated": "Moved to another process version",
    "incident.deleted": "Deleted under the retention review (its record erased)",
    "incident.exported": "Exported the history",
    "incident.record_pdf": "Downloaded the record as a PDF",
    "task.completed": "Completed",
    "task.ready": "Became ready",
    "task.cancelled": "No longer needed",
    "task.claimed": "Claimed",
    "task.unclaimed": "Handed back to its role",
    "task.assigned": "Reassigned",
    "task.migrated": "Moved by a newer version of the process",
    "external_task.ready": "Waiting for the system",
    "external_task.completed": "Done by the system",
    "external_task.cancelled": "No longer needed",
    "external_task.retried": "Asked the system to try again",
    "document.created": "Filed the incident record as a PDF",
    "document.downloaded": "Downloaded the incident record (PDF)",
    "answer.corrected": "Corrected an answer",
    "child.linked": "Recorded a child as involved in the incident",
    "child.added": "Added a child to the school's list",
    "child.confirmed": "Confirmed a child's details",
    "child.merged": "Merged two records of one child",
}


@dataclass(frozen=True)
class Decision:
    """A decision a completed step recorded: the question, the answer in words, the reason."""

    question: str
    answer: str
    reason: str


@dataclass(frozen=True)
class TimelineEvent:
    """One line of the activity timeline."""

    id: int
    at: datetime
    kind: str
    actor_id: int | None
    credit: Credit
    what: str
    reason: str
    decisions: tuple[Decision, ...] = ()


@dataclass(frozen=True)
class AccessLine:
    """Views of the record by one person, folded when close together."""

    first_at: datetime
    last_at: datetime
    actor_id: int | None
    via: str  # "role", "assignment" or "break_glass"
    count: int
    reason: str


# Called with (bpmn id, the completion's answers): the decisions in it, in words.
DecisionReader = Callable[[str, Mapping[str, Any]], Sequence[Decision]]


def _bpmn_id(target: str) -> str:
    # Task targets read "task:<bpmn id>:<task id>" (handlers.common.task_target).
    parts = target.split(":", 2)
    return parts[1] if len(parts) == 3 else ""


def kind_of(entry: AuditEntry) -> str:
    """Which kind of event an audit entry is (the timeline's filter), "access" for reads."""
    action = entry.action
    values = entry.new_values or {}
    if action == "incident.viewed":
        return "break_glass" if values.get("break_glass") else "access"
    if action in ("document.downloaded", "incident.exported", "incident.record_pdf"):
        return "export"
    if action.startswith("document."):
        return "document"
    if action == "incident.timers_fired":
        return "timer"
    if "migrat" in action:
        return "migration"
    if action in ("task.claimed", "task.unclaimed", "task.assigned", "incident.person_excluded"):
        return "assignment"
    if action == "answer.corrected":
        return "correction"
    if action.startswith("external_task.") or action == "incident.external_task_failed":
        return "system"
    if action == "task.ready" and _bpmn_id(entry.target).startswith("escalate_"):
        return "escalation"
    return "state"


def timeline(
    entries: Iterable[AuditEntry],
    task_names: Mapping[str, str],
    decisions: DecisionReader | None = None,
) -> list[TimelineEvent]:
    """Everything done to the record but reading it, oldest first, each credited rightly."""
    ordered = list(entries)
    timer_moments = {e.occurred_at for e in ordered if e.action == "incident.timers_fired"}
    events: list[TimelineEvent] = []
    for entry in ordered:
        kind = kind_of(entry)
        if kind == "access":
            continue
        credit: Credit = "person"
        if entry.action in AUTOMATIC or entry.actor_id is None:
            credit = "timer" if entry.occurred_at in timer_moments else "system"
        found: tuple[Decision, ...] = ()
        if entry.action == "task.completed" and decisions is not None:
            found = tuple(decisions(_bpmn_id(entry.target), entry.new_values or {}))
            if found:
                kind = "decision"
        if kind == "state" and entry.action == "task.ready" and credit == "timer":
            kind = "escalation"
        events.append(
            TimelineEvent(
                id=entry.id,
                at=entry.occurred_at,
                kind=kind,
                actor_id=entry.actor_id if credit == "person" else None,
                credit=credit,
                what=_what(entry, task_names),
                reason=entry.reason or "; ".join(d.reason for d in found if d.reason),
                decisions=found,
            )
        )
    return events


def _what(entry: AuditEntry, task_names: Mapping[str, str]) -> str:
    what = ACTIONS.get(entry.action, entry.action.replace("_", " ").replace(".", ": "))
    if entry.action.startswith(("task.", "external_task.", "incident.external_task")):
        bpmn_id = _bpmn_id(entry.target)
        what = f"{what}: {task_names.get(bpmn_id) or bpmn_id.replace('_', ' ').capitalize()}"
    if entry.action == "incident.viewed":
        what = "Opened the record with break-glass"
    if entry.action == "answer.corrected":
        field = (entry.new_values or {}).get("label") or (entry.new_values or {}).get("field", "")
        what = f"{what}: {field}" if field else what
    return what


def access_log(entries: Iterable[AuditEntry], window: timedelta = VIEW_WINDOW) -> list[AccessLine]:
    """Who opened the record, when and how; one person's views within `window` make one line.

    A view by another person, or by the same person another way (break-glass, say), starts a
    new line; each line counts the views it stands for.
    """
    lines: list[AccessLine] = []
    open_line: dict[tuple[int | None, str], int] = {}
    for entry in entries:
        if entry.action != "incident.viewed":
            continue
        values = entry.new_values or {}
        via = str(values.get("via") or ("break_glass" if values.get("break_glass") else "role"))
        key = (entry.actor_id, via)
        index = open_line.get(key)
        last = lines[index] if index is not None else None
        if (
            index is not None
            and last is not None
            and entry.occurred_at - last.last_at <= window
            and (entry.reason or "") == last.reason
        ):
            lines[index] = AccessLine(
                last.first_at, entry.occurred_at, last.actor_id, via, last.count + 1, last.reason
            )
            continue
        open_line[key] = len(lines)
        lines.append(
            AccessLine(
                entry.occurred_at, entry.occurred_at, entry.actor_id, via, 1, entry.reason or ""
            )
        )
    return lines
