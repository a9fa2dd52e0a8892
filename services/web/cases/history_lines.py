"""The history in words for pages and exports: timeline lines and access-log lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from forms.answers import UK, date_time, decisions_in, role_in_words
from services.domain.dependencies import Dependencies
from services.domain.history import (
    KINDS,
    AccessLine,
    Decision,
    DecisionReader,
    TimelineEvent,
    access_log,
    timeline,
)
from services.domain.read_models import AuditEntry
from services.web.incidents.reads import IncidentPageData
from workflow.model import CompletedStep, FormSpec
from workflow.process_graph import ProcessGraph, graph_of

if TYPE_CHECKING:
    from services.web.cases.summary import CaseSummary

VIA_WORDS = {
    "role": "By role",
    "assignment": "Involved (reported it or has a task)",
    "break_glass": "Break-glass",
}


@dataclass(frozen=True)
class TimelineLine:
    """One timeline event in words."""

    id: int
    at: str
    at_iso: str
    kind: str
    kind_words: str
    who: str
    actor_id: int | None
    what: str
    reason: str
    decisions: tuple[Decision, ...]


@dataclass(frozen=True)
class AccessWords:
    """One access-log line in words."""

    first: str
    last: str
    last_short: str  # the last view's time alone when it fell on the first one's day
    first_iso: str
    last_iso: str
    who: str
    actor_id: int | None
    how: str
    count: int
    reason: str


def decision_reader(steps: Sequence[CompletedStep]) -> DecisionReader:
    """Read decisions from a completion's answers with the forms the steps were completed on."""
    forms: dict[str, FormSpec] = {s.bpmn_id: s.form for s in steps if s.form is not None}

    def read(bpmn_id: str, values: Mapping[str, Any]) -> list[Decision]:
        form = forms.get(bpmn_id)
        if form is None:
            return []
        return [Decision(q, a, r) for q, a, r in decisions_in(form, values)]

    return read


def graph_names(graph: ProcessGraph | None) -> dict[str, str]:
    """Element id -> name over the whole diagram (tasks that were stopped have no step)."""
    if graph is None:
        return {}
    return {e.id: " ".join(e.name.split()) for e in graph.elements.values() if e.name}


def element_names(deps: Dependencies, incident_id: str) -> dict[str, str]:
    """The names of every element of the incident's process version."""
    with deps.uow_factory() as uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            return {}
        definition = deps.definitions.get(uow, incident.definition_version_id)
    return graph_names(graph_of(definition))


def task_names(page: IncidentPageData, known: Mapping[str, str] | None = None) -> dict[str, str]:
    """Element id -> task name, over what the incident page knows (and `known` names)."""
    names = dict(known or {})
    names.update({step.bpmn_id: step.name for step in page.view.completed_steps})
    names.update({ready.task.bpmn_id: ready.task.name for ready in page.view.ready_tasks})
    names.update({task.bpmn_id: task.name for task in page.view.external_tasks})
    return names


def timeline_lines(
    page: IncidentPageData,
    entries: Iterable[AuditEntry],
    names: Mapping[str, str] | None = None,
) -> list[TimelineLine]:
    """The timeline of these entries, in words, credited to who did each thing."""
    found = timeline(entries, names or task_names(page), decision_reader(page.view.completed_steps))
    return [_line(page, event) for event in found]


def _line(page: IncidentPageData, event: TimelineEvent) -> TimelineLine:
    if event.credit == "timer":
        who = "The timer"
    elif event.credit == "system":
        who = "The system"
    else:
        who = page.name_of(event.actor_id) or f"User {event.actor_id}"
    return TimelineLine(
        id=event.id,
        at=date_time(event.at),
        at_iso=event.at.isoformat(),
        kind=event.kind,
        kind_words=KINDS.get(event.kind, event.kind),
        who=who,
        actor_id=event.actor_id,
        what=event.what,
        reason=event.reason,
        decisions=event.decisions,
    )


def access_lines(page: IncidentPageData, entries: Iterable[AuditEntry]) -> list[AccessWords]:
    """The access log in words: repeated views by one person folded into one line."""
    return [_access(page, line) for line in access_log(entries)]


def _access(page: IncidentPageData, line: AccessLine) -> AccessWords:
    return AccessWords(
        first=date_time(line.first_at),
        last=date_time(line.last_at),
        last_short=_short(line.first_at, line.last_at),
        first_iso=line.first_at.isoformat(),
        last_iso=line.last_at.isoformat(),
        who=page.name_of(line.actor_id) or f"User {line.actor_id}",
        actor_id=line.actor_id,
        how=_how(page, line),
        count=line.count,
        reason=line.reason,
    )


def _short(first: datetime, last: datetime) -> str:
    same_day = first.astimezone(UK).date() == last.astimezone(UK).date()
    return date_time(last).rpartition(" at ")[2] if same_day else date_time(last)


def _how(page: IncidentPageData, line: AccessLine) -> str:
    words = VIA_WORDS.get(line.via, line.via)
    if line.via == "role" and line.actor_id is not None:
        person = page.people.get(line.actor_id)
        if person is not None and person.roles:
            words += f" ({', '.join(role_in_words(r) for r in person.roles)})"
    return words


def case_timeline(page: IncidentPageData, case: CaseSummary | None) -> list[TimelineLine]:
    """The timeline of the page's slice of the audit trail (reads are in the access log)."""
    graph = case.path.graph if case is not None else None
    return timeline_lines(page, page.view.audit, task_names(page, graph_names(graph)))
