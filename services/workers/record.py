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

from forms.answers import in_words, label_of
from services.db import SqlAlchemyUnitOfWork
from services.db.models import User
from services.domain.dependencies import Dependencies
from workflow import engine
from workflow.model import CompletedStep, FieldSpec


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


def read_record(deps: Dependencies, incident_id: str) -> IncidentRecord:
    """Read the incident, its definition, its completed steps and the names of who did them."""
    with deps.uow_factory() as uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise RecordMissing(f"incident {incident_id} not found")
        definition = deps.definitions.get(uow, incident.definition_version_id)
        school = uow.schools.get(incident.school_id)
        waiting_people = bool(uow.tasks.for_incident(incident.id, state="ready", limit=1))
        completed = engine.completed_steps(definition, incident.state)
        names = _names(uow, [incident.created_by, *(step.actor for step in completed)])
    return IncidentRecord(
        reference=incident.reference,
        school_name=school.name if school is not None else "",
        status=_status(incident.status, waiting_people),
        process_name=definition.name,
        reported_at=incident.created_at,
        reported_by=names.get(str(incident.created_by), "Unknown"),
        closed_at=incident.closed_at,
        steps=tuple(_step(step, names) for step in completed),
        decisions=tuple(d for step in completed for d in _decisions(step)),
    )


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


def _step(step: CompletedStep, names: Mapping[str, str]) -> Step:
    fields = _fields(step)
    answers = tuple(
        Answer(label_of(key, fields.get(key)), in_words(fields.get(key), value))
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
