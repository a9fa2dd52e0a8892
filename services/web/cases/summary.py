"""The top of the incident page: where the case stands, in words, and its diagram's marks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from forms.answers import date_time, decision_output_in_words, role_in_words
from services.domain.dependencies import Dependencies
from services.domain.history_corrections import CORRECTING_ROLES
from services.domain.history_path import CasePath, incident_path, path_shown
from services.web.cases.field_history import FieldChange, field_changes
from services.web.incidents.reads import IncidentPageData
from workflow.process_graph import TASK_KINDS, criteria_labels, option_labels


@dataclass(frozen=True)
class Holder:
    """An open task and who holds it."""

    task: str
    holder: str
    due: str
    overdue: bool


@dataclass(frozen=True)
class NextStep:
    """A task that can come next, in words."""

    id: str
    name: str
    role: str


@dataclass(frozen=True)
class CaseSummary:
    """What the incident page says first, and what its diagram marks."""

    status: str
    route: str
    classification: str
    criteria: tuple[str, ...]
    overdue: tuple[str, ...]
    holders: tuple[Holder, ...]
    timers: tuple[str, ...]
    next_steps: tuple[NextStep, ...]
    path: CasePath
    criteria_words: dict[str, str]
    elements: list[dict[str, Any]] = field(default_factory=list)  # the text equivalent
    corrections: tuple[FieldChange, ...] = ()
    may_correct: bool = False

    def marks(self) -> dict[str, Any]:
        """What the diagram viewer marks: path, waiting and overdue tasks, timers, notes."""
        return {
            "path": list(self.path.path_taken),
            "waiting": [e["id"] for e in self.elements if e["state"] == "waiting"],
            "overdue": [e["id"] for e in self.elements if e["state"] == "overdue"],
            "timers": [t.bpmn_id for t in self.path.timers],
            "notes": {e["id"]: f"{e['name']}: {'; '.join(e['notes'])}" for e in self.elements},
        }


def route_words(data: dict[str, Any], criteria: tuple[str, ...]) -> str:
    """The route in words from the process data."""
    immediate = data.get("immediate_referral")
    if isinstance(immediate, list):
        immediate = True in immediate
    if immediate is True:
        return "Immediate referral to police and/or children's social care"
    if data.get("route") == "referral":
        if data.get("handle_in_house") is True and data.get("headteacher_agrees") is True:
            # Agreed in-house, then referred: only a new concern sends it back to referral.
            return "Referred after a new concern, while it was handled in school"
        if data.get("handle_in_house") is True and data.get("headteacher_agrees") is False:
            return "Referred: the headteacher did not agree to handle it in school"
        return "Referred after the risk assessment"
    if data.get("route") == "in_house":
        return "Handled in school, with the headteacher's agreement"
    if immediate is False:
        return "No immediate referral: the risks are being assessed"
    return "Not decided yet: the initial review decides"


# The process data each derived fact reads (step_access.FACT_SOURCES names its steps).
FACT_DATA = {
    "route": ("route", "immediate_referral", "handle_in_house", "headteacher_agrees"),
    "criteria": ("referral_criteria",),
    "classification": ("incident_classification",),
}


WITHHELD = "Not shown: the steps that decide it are not yours to read"


def shown_facts(data: dict[str, Any], readable: Collection[str]) -> dict[str, Any]:
    """The process data without the facts this person may not read (route, criteria...)."""
    hidden = {key for fact, keys in FACT_DATA.items() if fact not in readable for key in keys}
    return {key: value for key, value in data.items() if key not in hidden}


def case_summary(
    page: IncidentPageData, deps: Dependencies, viewer_roles: Collection[str] = ()
) -> CaseSummary:
    """Summarise an opened incident (its access check and audit were done by opening it)."""
    view = page.view
    path = path_shown(incident_path(deps, view.id), view)  # the route only to its readers
    with deps.uow_factory() as uow:
        definition = deps.definitions.get(uow, path.definition_version_id)
    words = criteria_labels(definition)
    # Need-to-know: the route, criteria and classification are the steps' they come from.
    data = shown_facts(path.data, view.readable_facts)
    held = data.get("referral_criteria")
    criteria = (
        tuple(decision_output_in_words("referral_criteria", held, words).split("; "))
        if isinstance(held, list) and any(held)
        else ()
    )
    classes = option_labels(definition).get("incident_classification", {})
    classification = data.get("incident_classification")
    holders = tuple(
        Holder(
            task=ready.task.name,
            holder=page.name_of(ready.assignee_id)
            if ready.assignee_id is not None
            else f"Any {role_in_words(ready.task.lane)} (not claimed)",
            due=date_time(ready.due_at),
            overdue=ready.overdue,
        )
        for ready in view.ready_tasks
    )
    graph = path.graph
    next_steps = tuple(
        NextStep(i, graph.name_of(i), role_in_words(graph.elements[i].lane))
        for i in path.next_possible
        if i in graph.elements
    )
    return CaseSummary(
        status="Closed" if view.status == "closed" else "Open",
        route=route_words(data, criteria) if "route" in view.readable_facts else WITHHELD,
        classification=classes.get(str(classification), str(classification or "")),
        criteria=criteria,
        overdue=tuple(h.task for h in holders if h.overdue),
        holders=holders,
        timers=tuple(f"{t.name}: {date_time(t.due_at)}" for t in path.timers),
        next_steps=next_steps,
        path=path,
        criteria_words=words,
        elements=_elements(page, path),
        corrections=tuple(c for c in field_changes(page, view.id) if c.how == "Corrected"),
        may_correct=bool(CORRECTING_ROLES.intersection(viewer_roles)),
    )


def _elements(page: IncidentPageData, path: CasePath) -> list[dict[str, Any]]:
    # One entry per element on the path or waiting: the diagram's tooltips and its text twin.
    graph = path.graph
    done: dict[str, list[str]] = {}
    for step in page.view.completed_steps:
        who = page.name_of(step.actor) or "the system"
        done.setdefault(step.bpmn_id, []).append(f"Done {date_time(step.completed_at)} by {who}")
    ready = {r.task.bpmn_id: r for r in page.view.ready_tasks}
    timers = {t.bpmn_id: t for t in path.timers}
    order = [i for i in path.path_taken if i in graph.elements]
    order += [i for i in (*path.waiting, *timers) if i not in order]
    lines: list[dict[str, Any]] = []
    for element_id in order:
        element = graph.elements.get(element_id)
        if element is None:
            continue
        notes = list(done.get(element_id, []))
        state = "done"
        if element_id in ready:
            task = ready[element_id]
            holder = page.name_of(task.assignee_id) if task.assignee_id else "not claimed"
            due = f", due {date_time(task.due_at)}" if task.due_at else ""
            notes.append(f"Waiting for {role_in_words(task.task.lane)} ({holder}){due}")
            state = "overdue" if task.overdue else "waiting"
        elif element_id in path.waiting:
            notes.append("Waiting for the system")
            state = "waiting"
        if element_id in timers:
            notes.append(f"Timer due {date_time(timers[element_id].due_at)}")
            state = "timer"
        if not notes and element.kind not in TASK_KINDS:
            if not element.name:
                continue  # an unnamed join: nothing to say in words
            notes.append("Passed")
        lines.append(
            {"id": element_id, "name": graph.name_of(element_id), "state": state, "notes": notes}
        )
    return lines
