"""Field-level history: where a later step or a correction changed an earlier answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forms.answers import date_time, in_words, label_of
from services.domain.history_queries import kept_answers
from services.web.extensions import runtime
from services.web.incidents.reads import IncidentPageData
from workflow.model import FieldSpec


@dataclass(frozen=True)
class FieldChange:
    """One answer changed: the question, old -> new in words, when, by whom, why."""

    field: str
    question: str
    old: str
    new: str
    at: str
    who: str
    how: str  # "Corrected" or the step that answered again
    reason: str


def field_changes(page: IncidentPageData, incident_id: str) -> list[FieldChange]:
    """Every answer a later completion or a correction changed, oldest first."""
    specs: dict[str, FieldSpec | None] = {}
    names: dict[str, str] = {}
    for step in page.view.completed_steps:
        names[step.bpmn_id] = step.name
        for spec in step.form.fields if step.form else ():
            specs.setdefault(spec.id, spec)
    latest: dict[str, Any] = {}
    changes: list[FieldChange] = []
    readable = {step.id for step in page.view.completed_steps}  # need-to-know, per step
    for kept in kept_answers(runtime().bus.dependencies, incident_id):
        if kept.task_id not in readable:
            continue
        for key, value in kept.answers.items():
            before = latest.get(key)
            if value in (None, ""):
                continue
            if before not in (None, "") and before != value:
                asked = specs.get(key)
                changes.append(
                    FieldChange(
                        field=key,
                        question=label_of(key, asked),
                        old=in_words(asked, before),
                        new=in_words(asked, value),
                        at=date_time(kept.at),
                        who=page.name_of(kept.actor_id) or "The system",
                        how="Corrected"
                        if kept.kind == "correction"
                        else names.get(kept.bpmn_id, kept.bpmn_id),
                        reason=kept.reason or "",
                    )
                )
            latest[key] = value
    return changes
