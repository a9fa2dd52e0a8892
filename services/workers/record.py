"""An incident's record as the PDF shows it: read in one short transaction, then plain data.

The worker reads with its own unit of work and closes it before rendering, so no transaction
stays open while the PDF is drawn. Nothing here is an image: answers are words only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from forms.answers import date_time, decision_output_in_words, decisions_in, in_words, label_of
from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, User
from services.domain.dependencies import Dependencies
from services.domain.history import Decision as HistoryDecision
from services.domain.history import access_log, timeline
from services.domain.history_queries import all_events
from services.domain.history_steps import incident_steps
from services.domain.read_models import AuditEntry
from workflow.model import CompletedStep, FieldSpec
from workflow.process_graph import ProcessGraph, criteria_labels, graph_of


class RecordMissing(LookupError):
    """The incident is not in the database (deleted since its task was published)."""


@dataclass(frozen=True)
class Answer:
    """One answered question of a step, in words."""

    question: str
    answer: str


@dataclass(frozen=True)
class Decision:
    """A recorded decision, its answer, and the reasons given with it."""

    step: str
    question: str
    answer: str
    reasons: tuple[Answer, ...]


@dataclass(frozen=True)
class Step:
    """A completed step: what it was, who completed it and when, and its answers."""

    name: str
    role: str
    by: str  # a person's name; "The system" for a decision table
    completed_at: datetime | None
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Event:
    """One line of the timeline or the access log, in words."""

    when: str
    who: str
    what: str
    reason: str


@dataclass(frozen=True)
class IncidentRecord:
    """Everything the record PDF prints, already in words."""

    reference: str
    school_name: str
    status: str
    process_name: str
    reported_at: datetime
    reported_by: str
    closed_at: datetime | None
    steps: tuple[Step, ...]
    decisions: tuple[Decision, ...]
    timeline: tuple[Event, ...] = ()
    access: tuple[Event, ...] = ()


def read_record(deps: Dependencies, incident_id: str) -> IncidentRecord:
    """Read the incident, its definition, its completed steps and the names of who did them."""
    with deps.uow_factory() as uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise RecordMissing(f"incident {incident_id} not found")
        definition = deps.definitions.get(uow, incident.definition_version_id)
        school = uow.schools.get(incident.school_id)
        waiting_people = bool(uow.tasks.for_incident(incident.id, state="ready", limit=1))
        completed = incident_steps(uow, definition, incident)
        trail = [_entry(e) for e in all_events(uow, incident.id)]
        actors = [incident.created_by, *(step.actor for step in completed)]
        names = _names(uow, actors + [e.actor_id for e in trail])
    labels = criteria_labels(definition)
    return IncidentRecord(
        reference=incident.reference,
        school_name=school.name if school is not None else "",
        status=_status(incident.status, waiting_people),
        process_name=definition.name,
        reported_at=incident.created_at,
        reported_by=names.get(str(incident.created_by), "Unknown"),
        closed_at=incident.closed_at,
        steps=tuple(_step(step, names, labels) for step in completed),
        decisions=tuple(d for step in completed for d in _decisions(step)),
        timeline=tuple(_timeline(trail, completed, names, graph_of(definition))),
        access=tuple(_access(trail, names)),
    )


def _entry(event: AuditEvent) -> AuditEntry:
    return AuditEntry(
        event.id,
        event.occurred_at,
        event.actor_id,
        event.action,
        event.target,
        event.reason,
        event.old_values,
        event.new_values,
    )


def _timeline(
    trail: list[AuditEntry],
    completed: list[CompletedStep],
    names: Mapping[str, str],
    graph: ProcessGraph,
) -> Iterable[Event]:
    forms = {s.bpmn_id: s.form for s in completed if s.form is not None}
    # Every element's name, so a step that was stopped or done by the system reads in words.
    task_names = {e.id: " ".join(e.name.split()) for e in graph.elements.values() if e.name}
    task_names.update({s.bpmn_id: s.name for s in completed})

    def read(bpmn_id: str, values: Mapping[str, Any]) -> list[HistoryDecision]:
        form = forms.get(bpmn_id)
        return [HistoryDecision(*d) for d in decisions_in(form, values)] if form else []

    for event in timeline(trail, task_names, read):
        who = {"timer": "The timer", "system": "The system"}.get(event.credit) or names.get(
            str(event.actor_id), f"User {event.actor_id}"
        )
        decided = "; ".join(f"{d.question} {d.answer}" for d in event.decisions)
        what = f"{event.what} ({decided})" if decided else event.what
        yield Event(date_time(event.at), who, what, event.reason)


def _access(trail: list[AuditEntry], names: Mapping[str, str]) -> Iterable[Event]:
    for line in access_log(trail):
        when = date_time(line.first_at)
        last = date_time(line.last_at)
        if line.count > 1:
            when += f" to {last} ({line.count} views)" if last != when else f" ({line.count} views)"
        how = {"role": "by role", "assignment": "involved: reported it or has a task"}.get(
            line.via, "break-glass"
        )
        who = names.get(str(line.actor_id), f"User {line.actor_id}")
        yield Event(when, who, f"Opened the record ({how})", line.reason)


def _status(status: str, waiting_people: bool) -> str:
    if status == "closed":
        return "Closed"
    if not waiting_people:
        return "Every step is complete: the incident closes as this record is filed"
    return "Open"


def _names(uow: SqlAlchemyUnitOfWork, actors: Iterable[Any]) -> dict[str, str]:
    ids = {int(a) for a in actors if a is not None and str(a).isdigit()}
    if not ids:
        return {}
    rows = uow.session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {str(user_id): name for user_id, name in rows}


def _fields(step: CompletedStep) -> dict[str, FieldSpec]:
    return {f.id: f for f in step.form.fields} if step.form is not None else {}


def _step(step: CompletedStep, names: Mapping[str, str], labels: Mapping[str, str]) -> Step:
    fields = _fields(step)
    answers = tuple(
        Answer(label_of(key, fields.get(key)), _words(step, fields.get(key), key, value, labels))
        for key, value in step.data.items()
        if in_words(fields.get(key), value)
    )
    by = "The system (decision table)" if step.form is None else names.get(str(step.actor), "")
    return Step(step.name, step.lane, by or "Unknown", step.completed_at, answers)


def _decisions(step: CompletedStep) -> list[Decision]:
    # A decision's reason is the answered field it makes required whose id says "reason";
    # failing that, the step's answered fields named *reason* (one reason for several choices).
    fields = _fields(step)
    answered = {k for k, v in step.data.items() if in_words(fields.get(k), v)}
    step_reasons = [f for f in fields.values() if "reason" in f.id and f.id in answered]
    found: list[Decision] = []
    for spec in fields.values():
        if not spec.is_decision or spec.id not in answered:
            continue
        linked = [
            f for f in step_reasons if f.required_if is not None and f.required_if[0] == spec.id
        ]
        reasons = tuple(
            Answer(f.label, in_words(f, step.data[f.id])) for f in (linked or step_reasons)
        )
        found.append(Decision(step.name, spec.label, in_words(spec, step.data[spec.id]), reasons))
    return found


def _words(
    step: CompletedStep, spec: FieldSpec | None, key: str, value: Any, labels: Mapping[str, str]
) -> str:
    # A decision table's COLLECT outputs read as one answer, criteria ids as their labels.
    if step.form is None:
        return decision_output_in_words(key, value, labels)
    return in_words(spec, value)
