"""Correct an answer: a DSL changes what a completed step recorded, with a reason, audited.

Records are corrected, never overwritten: the original completion stays in case_answers and
the audit trail; the correction is a new row with the old value, the new value and the
reason, written in one transaction with its audit event. The process does not re-run: a
correction changes the record, not the route already taken (the page says so).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from services.db.models import CaseAnswer
from services.domain.access import can_view_incident, clean_reason
from services.domain.dependencies import Dependencies
from services.domain.errors import AccessDenied, NotFound, RequestInvalid
from services.domain.handlers.common import enforce, jsonable, lock_incident, user_facts
from services.domain.history_answers import search_text_of
from services.domain.history_steps import incident_steps
from workflow.formdata import validate_submission
from workflow.model import CompletedStep, FieldSpec, FormSpec

CORRECTING_ROLES = frozenset({"dsl"})
MAX_REASON = 4000


@dataclass(frozen=True)
class CorrectAnswer:
    """Change one answer of one completed step, with the reason for the change."""

    incident_id: str
    actor_id: int
    task_id: str  # the completed step (engine task id)
    field_id: str
    value: Any  # as a form would send it (text), checked against the field
    reason: str


@dataclass(frozen=True)
class Corrected:
    """What a correction changed (JSON values)."""

    field_id: str
    label: str
    old: Any
    new: Any


def correctable_field(step: CompletedStep, field_id: str) -> FieldSpec | None:
    """The step's field of that id, if it can be corrected (documents cannot)."""
    spec = step.form.field(field_id) if step.form is not None else None
    return spec if spec is not None and spec.type != "document" else None


def correct_answer(command: CorrectAnswer, deps: Dependencies) -> Corrected:
    """Check the DSL may, check the value as its form would, write the correction and audit it."""
    now = deps.clock.now()
    reason = clean_reason(command.reason)
    with deps.uow_factory() as uow:
        incident = lock_incident(uow, command.incident_id)
        facts = user_facts(uow, incident, command.actor_id)
        enforce(
            can_view_incident(facts.roles, facts.is_involved, facts.is_excluded),
            f"incident {incident.id}",
        )
        if not CORRECTING_ROLES.intersection(facts.roles):
            raise AccessDenied(f"incident {incident.reference}: only a DSL may correct an answer")
        if reason is None:
            raise RequestInvalid(f"incident {incident.reference}: a correction needs a reason")
        if len(reason) > MAX_REASON:
            raise RequestInvalid(f"the reason must be at most {MAX_REASON} characters")
        definition = deps.definitions.get(uow, incident.definition_version_id)
        steps = incident_steps(uow, definition, incident)
        step = next((s for s in steps if s.id == command.task_id), None)
        if step is None:
            raise NotFound(f"step {command.task_id} not found in incident {incident.reference}")
        spec = correctable_field(step, command.field_id)
        if spec is None:
            raise RequestInvalid(f"{command.field_id!r} is not an answer of this step to correct")
        # The value is checked exactly as the step's form would check it (raises per field).
        one = FormSpec(
            step.form.key if step.form else "", (replace(spec, required=True, required_if=None),)
        )
        new = jsonable(validate_submission(one, {spec.id: command.value}))[spec.id]
        old = _current(uow.session, incident.id, step, spec.id)
        if old == new:
            raise RequestInvalid(f"{spec.label}: the new answer is the same as the current one")
        uow.session.add(
            CaseAnswer(
                incident_id=incident.id,
                task_id=step.id,
                bpmn_id=step.bpmn_id,
                lane=step.lane,
                kind="correction",
                actor_id=command.actor_id,
                recorded_at=now,
                answers={spec.id: new},
                previous={spec.id: old},
                reason=reason,
                search_text=search_text_of({spec.id: new}),
            )
        )
        uow.audit.add(
            "answer.corrected",
            f"task:{step.bpmn_id}:{step.id}",
            actor_id=command.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            reason=reason,
            old_values={spec.id: old},
            new_values={spec.id: new, "field": spec.id, "label": spec.label},
            occurred_at=now,
        )
        uow.commit()
        return Corrected(spec.id, spec.label, old, new)


def _current(session: Any, incident_id: str, step: CompletedStep, field_id: str) -> Any:
    # The latest correction of this answer, else what the step recorded.
    rows = session.scalars(
        select(CaseAnswer)
        .where(
            CaseAnswer.incident_id == incident_id,
            CaseAnswer.task_id == step.id,
            CaseAnswer.kind == "correction",
        )
        .order_by(CaseAnswer.id.desc())
    )
    for row in rows:
        if field_id in (row.answers or {}):
            return row.answers[field_id]
    return jsonable({field_id: step.data.get(field_id)})[field_id]
